"""`touchmetrics mapping`: the reference of every key, and trying a mapping on a file."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import click
import orjson

from collector.cli.common import Abort, config_option, load
from collector.errors import TouchmetricsError

_file = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def mapping() -> None:
    """CSV/TSV column mappings (docs/mapping.md)."""


@mapping.command("reference")
def reference() -> None:
    """Print the reference of every mapping key (docs/mapping.md)."""
    from collector.sources.mappingdoc import mapping_reference

    click.echo(mapping_reference(), nl=False)


@mapping.command("check")
@config_option
@click.option("--rows", default=5, show_default=True, help="How many rows to show.")
@click.argument("mapping_file", metavar="MAPPING", type=_file)
@click.argument("data", metavar="FILE", type=_file)
def check(config_path: Path | None, rows: int, mapping_file: Path, data: Path) -> None:
    """Show what the first rows of FILE become through MAPPING, importing nothing.

    Each row's events are printed as JSON Lines under its line number, or why it is skipped
    or rejected, validated as `ingest` would under the configuration."""
    from collector.batch import validate_record
    from collector.schema import Validator
    from collector.sources.csvmap import MappedCsvReader

    settings = load(config_path)
    try:
        reader = MappedCsvReader.from_file(mapping_file, settings.default_timezone)
        validator = Validator(settings)
        for record in islice(reader.records(data), rows):
            if record.skipped is not None:
                click.echo(f"line {record.line}: skipped: {record.skipped}")
                continue
            events, rejection = validate_record(validator, record, str(data))
            if rejection is not None:
                click.echo(f"line {record.line}: rejected: {rejection.reason}")
                continue
            click.echo(f"line {record.line}: {len(events)} event{'s' * (len(events) != 1)}")
            for item in record.items:
                click.echo("  " + orjson.dumps(item).decode())
    except TouchmetricsError as exc:
        raise Abort(str(exc)) from exc
