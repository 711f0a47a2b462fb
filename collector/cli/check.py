"""`touchmetrics check`: the CI gate of DESIGN section 15."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from collector.check import Check, FileSide, Side, WindowSide, run_check, select_objectives
from collector.cli.common import Abort, config_option, load, mapping_option, reader_for
from collector.errors import CheckError, TouchmetricsError
from collector.instants import parse_instant
from collector.metrics import Window
from collector.settings import Settings
from collector.verdicts import exit_code
from exporters.check import FORMATS, append_step_summary, render, workflow_commands, write_junit

_file = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command()
@config_option
@mapping_option
@click.option(
    "--candidate",
    "candidate_files",
    multiple=True,
    type=_file,
    help="A candidate log (JSON Lines, or CSV with --mapping); repeat for more.",
)
@click.option(
    "--baseline",
    "baseline_files",
    multiple=True,
    type=_file,
    help="A baseline log; repeat for more. Without a baseline only the bounds count.",
)
@click.option("--candidate-from", help="Candidate window start in the database (ISO 8601).")
@click.option("--candidate-to", help="Candidate window end in the database (exclusive).")
@click.option("--baseline-from", help="Baseline window start in the database (ISO 8601).")
@click.option("--baseline-to", help="Baseline window end in the database (exclusive).")
@click.option(
    "--objective",
    "names",
    multiple=True,
    help="Judge only this objective; repeat for more (default: all configured).",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a JUnit XML report here.",
)
@click.option(
    "--github",
    is_flag=True,
    help="Also print GitHub workflow commands and append to $GITHUB_STEP_SUMMARY.",
)
@click.option(
    "--fail-on-inconclusive",
    is_flag=True,
    help="Exit 1 when the verdict is "
    "inconclusive (too little data to tell), not only when it fails.",
)
@click.argument("stray", nargs=-1, type=click.UNPROCESSED, metavar="")
def check(
    config_path: Path | None, mapping: Path | None, candidate_files: tuple[Path, ...],
    baseline_files: tuple[Path, ...], candidate_from: str | None, candidate_to: str | None,
    baseline_from: str | None, baseline_to: str | None, names: tuple[str, ...], fmt: str,
    junit: Path | None, github: bool, fail_on_inconclusive: bool, stray: tuple[str, ...],
) -> None:  # fmt: skip
    """Judge a candidate log against the objectives and, given one, a baseline.

    Exit 0 when it passes or is inconclusive, 1 when it fails (or is inconclusive with
    --fail-on-inconclusive), 2 on a usage or input error.
    """
    if stray:
        raise click.UsageError(
            f"unexpected argument {stray[0]!r}: give each file its own option, "
            "as in --candidate a.jsonl --candidate b.jsonl"
        )
    settings = load(config_path)
    try:
        objectives = select_objectives(settings, names)
    except CheckError as exc:
        raise click.UsageError(str(exc)) from exc
    candidate = _side("candidate", candidate_files, candidate_from, candidate_to, mapping, settings)
    if candidate is None:
        raise click.UsageError(
            "give the candidate: --candidate FILE (repeatable) or "
            "--candidate-from/--candidate-to for a window of the database"
        )
    baseline = _side("baseline", baseline_files, baseline_from, baseline_to, mapping, settings)
    try:
        result = run_check(settings, objectives, candidate, baseline)
    except TouchmetricsError as exc:
        raise Abort(str(exc)) from exc
    _report(result, fmt, junit, github)
    sys.exit(exit_code(result.verdict, fail_on_inconclusive))


def _side(
    name: str,
    files: tuple[Path, ...],
    start: str | None,
    end: str | None,
    mapping: Path | None,
    settings: Settings,
) -> Side | None:
    """Files or a window of the database for one side; None when neither is given."""
    if files and (start or end):
        raise click.UsageError(f"give --{name} files or --{name}-from/--{name}-to, not both")
    if files:
        return FileSide(tuple((reader_for(path, mapping, settings), path) for path in files))
    if not (start or end):
        return None
    window = Window(_instant(f"--{name}-from", start), _instant(f"--{name}-to", end))
    if window.start is not None and window.end is not None and window.end <= window.start:
        raise click.UsageError(f"--{name}-to must be after --{name}-from")
    return WindowSide(window)


def _instant(option: str, text: str | None) -> int | None:
    if not text:
        return None
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from exc


def _report(result: Check, fmt: str, junit: Path | None, github: bool) -> None:
    """Every output asked for; what was read and rejected goes to standard error."""
    for side in (result.candidate, result.baseline):
        if side is not None and side.rejected:
            reasons = "; ".join(f"{count}: {why}" for why, count in side.reasons[:5])
            click.echo(f"warning: {side.description} ({reasons})", err=True)
    click.echo(render(result, fmt), nl=False)
    if junit is not None:
        try:
            write_junit(result, junit)
        except OSError as exc:
            raise Abort(f"--junit {junit}: {exc.strerror}") from exc
    if github:
        click.echo(workflow_commands(result), nl=False)
        try:
            append_step_summary(result)
        except OSError as exc:
            where = f"$GITHUB_STEP_SUMMARY {exc.filename}"
            raise Abort(f"{where}: {exc.strerror}") from exc
