"""The `touchmetrics` command. Exit codes: 0 success, 1 a failed check or rejected input
under --strict, 2 a usage, input or configuration error."""

from __future__ import annotations

import click

from collector import __version__
from collector.cli.alerts import alerts
from collector.cli.check import check
from collector.cli.dashboards import dashboards
from collector.cli.data import ingest, report
from collector.cli.mapping import mapping
from collector.cli.quarantine import quarantine
from collector.cli.rules import rules
from collector.cli.service import config, db, demo, scheduler, serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="touchmetrics")
def main() -> None:
    """Per-channel response time, resolution rate and CSAT, AI next to human."""


for command in (
    serve, scheduler, ingest, report, check, quarantine, mapping, db, demo, config, rules,
    alerts,
    dashboards,
):  # fmt: skip
    main.add_command(command)
