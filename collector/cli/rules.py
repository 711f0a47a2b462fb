"""`touchmetrics rules`: Prometheus rules, their tests and alertmanager.yml from the objectives."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from collector.cli.common import Abort, config_option, load
from collector.errors import TouchmetricsError
from collector.objectives import parse_duration
from exporters.rules.alertmanager import DEFAULT_PASSWORD_FILE, DEFAULT_TIMING


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    return value


@click.command()
@config_option
@click.option(
    "-o",
    "--output",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the three files into (created if missing).",
)
@click.option(
    "--check", is_flag=True, help="Then run promtool (and amtool) on them; exit 1 on a failure."
)
@click.option(
    "--prometheus-config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --check: also `promtool check config` this file (it should load the rules).",
)
@click.option(
    "--smtp-password-file",
    default=DEFAULT_PASSWORD_FILE,
    metavar="PATH",
    show_default=True,
    help="Where Alertmanager reads the SMTP password (never written into its configuration).",
)
@click.option(
    "--group-wait",
    default=DEFAULT_TIMING.group_wait,
    metavar="DURATION",
    show_default=True,
    callback=_duration,
    help="Alertmanager: wait before a first mail.",
)
@click.option(
    "--group-interval",
    default=DEFAULT_TIMING.group_interval,
    metavar="DURATION",
    show_default=True,
    callback=_duration,
    help="Alertmanager: wait before mailing a change.",
)
@click.option(
    "--repeat-interval",
    default=DEFAULT_TIMING.repeat_interval,
    metavar="DURATION",
    show_default=True,
    callback=_duration,
    help="Alertmanager: remind of a breach still firing.",
)
def rules(
    config_path: Path | None,
    out_dir: Path,
    check: bool,
    prometheus_config: Path | None,
    smtp_password_file: str,
    group_wait: str,
    group_interval: str,
    repeat_interval: str,
) -> None:
    """Write touchmetrics.rules.yml, touchmetrics.rules.test.yml and alertmanager.yml."""
    from exporters.rules import Timing, check_rules, write_rules

    settings = load(config_path)
    timing = Timing(group_wait, group_interval, repeat_interval)
    try:
        written = write_rules(settings, out_dir, smtp_password_file, timing)
        for warning in written.warnings:
            click.echo(f"warning: {warning}", err=True)
        for path in written.paths:
            click.echo(f"wrote {path}")
        if not check:
            return
        outcomes = check_rules(out_dir, prometheus_config)
    except TouchmetricsError as exc:
        raise Abort(str(exc)) from exc
    for outcome in outcomes:
        click.echo(outcome.line)
        if outcome.passed is not True and outcome.output:
            click.echo(_indent(outcome.output))
    if any(o.passed is False for o in outcomes):
        sys.exit(1)


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())
