"""What the commands share: options, settings loading, readers and the error shape."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from collector.errors import TouchmetricsError
from collector.settings import Settings, load_settings
from collector.sources.jsonl import JsonLinesReader
from collector.sources.record import Reader

# No envvar here: load_settings reads $TOUCHMETRICS_CONFIG itself, so a bad value is reported
# under the variable's name rather than as a bad `--config`.
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML configuration (or $TOUCHMETRICS_CONFIG).",
)
mapping_option = click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML column mapping for CSV/TSV exports (docs/mapping.md).",
)


class Abort(click.ClickException):
    """An error shown as `error: ...` with exit code 2."""

    exit_code = 2

    def format_message(self) -> str:
        return self.message


def command(words: str, config_path: Path | None) -> str:
    """A touchmetrics command line to suggest, with the --config the user gave to this one."""
    return f"touchmetrics {words}" + (f" --config {config_path}" if config_path else "")


def load(config_path: Path | None, overrides: dict[str, Any] | None = None) -> Settings:
    """The settings, with command-line ``overrides`` validated together with the rest."""
    try:
        return load_settings(config_path, overrides=overrides)
    except TouchmetricsError as exc:
        raise Abort(str(exc)) from exc


def reader_for(path: Path, mapping: Path | None, settings: Settings) -> Reader:
    """JSON Lines unless a mapping is given; a file named .csv/.tsv needs one. (A CSV file
    named otherwise is told by its first line, collector.sources.sniff.)"""
    if mapping is not None:
        from collector.sources.csvmap import MappedCsvReader

        return MappedCsvReader.from_file(mapping, settings.default_timezone)
    if path.suffix.lower() in (".csv", ".tsv"):
        raise click.UsageError(
            f"{path}: a CSV/TSV export needs --mapping, a YAML file saying which columns "
            "make which events (docs/mapping.md)"
        )
    return JsonLinesReader()


def configure_logging() -> None:
    """Log lines with a time, for the long-running commands."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
