"""Commands on data: ingest and report."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import click
import orjson

from collector.cli.common import (
    Abort,
    command,
    config_option,
    load,
    mapping_option,
    reader_for,
)
from collector.errors import TouchmetricsError
from collector.metrics import GROUPINGS, Query
from collector.schema import Validator
from exporters.report import FORMATS, render


@click.command()
@config_option
@mapping_option
@click.option(
    "--strict",
    is_flag=True,
    help="Exit 1 when any record was rejected, by this run or an earlier run of a resumed import.",
)
@click.option(
    "--restart",
    is_flag=True,
    help="Read the files from their start, not from where their last import stopped.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def ingest(
    config_path: Path | None,
    mapping: Path | None,
    strict: bool,
    restart: bool,
    as_json: bool,
    files: tuple[Path, ...],
) -> None:
    """Import JSON Lines of events (or CSV/TSV through --mapping) into the database."""
    from collector.database import open_store
    from collector.ingest import ingest_file
    from collector.jobs import maintain_rollups
    from collector.summary import Summary

    settings = load(config_path)
    total = Summary()
    each: list[dict[str, object]] = []
    try:
        with open_store(settings) as store:
            # Count into the bucket layout in force (and record it), as serve would.
            maintain_rollups(store)
            validator = Validator(settings)
            for path in files:
                reader = reader_for(path, mapping, settings)
                with _progress(path) as advance:
                    summary = ingest_file(
                        store, validator, reader, path, progress=advance, restart=restart
                    )
                total.merge(summary)
                each.append({"path": str(path), **summary.as_dict()})
                if not as_json:
                    click.echo(summary.describe(path), err=True)
    except TouchmetricsError as exc:
        raise Abort(str(exc)) from exc
    if as_json:
        output = {**total.as_dict(one_file=False), "files": each}
        click.echo(orjson.dumps(output, option=orjson.OPT_INDENT_2).decode())
    else:
        _print_groups(total, config_path)
    if strict and (total.rejected or total.earlier_rejected):
        sys.exit(1)


def _print_groups(total: Any, config_path: Path | None) -> None:
    """Skipped records by reason; rejected ones by rule, each with its first example."""
    if total.skipped:
        click.echo("skipped by reason:", err=True)
        for reason, count in total.skipped.most_common():
            click.echo(f"  {count:>8,}  {reason}", err=True)
    if not total.rejected:
        return
    click.echo("rejected by rule (count, then the first of them):", err=True)
    for _rule, group in total.by_rule.most_common():
        click.echo(f"  {group.count:>8,}  {group.position}: {group.reason}", err=True)
    click.echo(f"see every one with `{command('quarantine list', config_path)}`", err=True)


class _progress:
    """A byte-based progress bar on a terminal; nothing when stderr is not one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bar: Any = None

    def __enter__(self) -> Any:
        if not sys.stderr.isatty():
            return None
        self.bar = click.progressbar(
            length=self.path.stat().st_size, label=self.path.name, file=sys.stderr
        )
        self.bar.__enter__()
        return self.bar.update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


@click.command()
@config_option
@mapping_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--from", "start", help="Window start, ISO 8601 (inclusive).")
@click.option("--to", "end", help="Window end, ISO 8601 (exclusive).")
@click.option("--group-by", type=click.Choice(GROUPINGS), default="channel", show_default=True)
@click.option("--channel", help="Only this channel.")
@click.option("--kind", type=click.Choice(["ai", "human"]), help="Only channels of this kind.")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def report(
    config_path: Path | None, mapping: Path | None, fmt: str, start: str | None, end: str | None,
    group_by: str, channel: str | None, kind: str | None, files: tuple[Path, ...],
) -> None:  # fmt: skip
    """Print the report, from the database or, given FILES, straight from them."""
    from collector.reporting import BadQuery, parse_query

    settings = load(config_path)
    try:
        query = parse_query(start, end, group_by, channel, kind)
    except BadQuery as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        result = (
            _from_files(settings, query, files, mapping) if files else _from_store(settings, query)
        )
    except TouchmetricsError as exc:
        raise Abort(str(exc)) from exc
    width = shutil.get_terminal_size((160, 24)).columns  # $COLUMNS, the terminal, or 160
    click.echo(render(result, fmt, width), nl=False)


def _from_store(settings: Any, query: Query) -> dict[str, Any]:
    from collector.database import open_store
    from collector.reporting import report_from_store

    with open_store(settings) as store:
        return report_from_store(store, query)


def _from_files(
    settings: Any, query: Query, files: tuple[Path, ...], mapping: Path | None
) -> dict[str, Any]:
    from collector.reporting import report_from_files

    inputs = [(reader_for(p, mapping, settings), p) for p in files]
    return report_from_files(settings, query, inputs)
