"""The `touchmetrics` command. Exit codes: 0 success, 1 a failed check or rejected input
under --strict, 2 a usage, input or configuration error."""

from __future__ import annotations

import importlib

import click

from collector import __version__

# Each command's module, imported when the command runs (or --help lists it): a report
# straight from files then starts without the database, web and dashboard libraries.
COMMANDS = {
    "serve": "collector.cli.service",
    "scheduler": "collector.cli.service",
    "ingest": "collector.cli.data",
    "report": "collector.cli.data",
    "check": "collector.cli.check",
    "quarantine": "collector.cli.quarantine",
    "mapping": "collector.cli.mapping",
    "db": "collector.cli.service",
    "demo": "collector.cli.service",
    "config": "collector.cli.service",
    "rules": "collector.cli.rules",
    "alerts": "collector.cli.alerts",
    "dashboards": "collector.cli.dashboards",
}


class LazyGroup(click.Group):
    """A group whose commands are imported by name when first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        command = getattr(importlib.import_module(module), cmd_name)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="touchmetrics")
def main() -> None:
    """Per-channel response time, resolution rate and CSAT, AI next to human."""
