"""`touchmetrics quarantine`: list, export and replay the records that were rejected."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from collector.cli.common import Abort, config_option, load
from collector.errors import TouchmetricsError
from collector.store import Store

F = TypeVar("F", bound=Callable[..., Any])


def selection(command: F) -> F:
    """The options that choose rows: --reason, --source and --all."""
    command = click.option("--all", "include_resolved", is_flag=True,
                           help="Rows resolved by a replay too.")(command)  # fmt: skip
    command = click.option("--source", help="Only rows from this source (a file or api/...).")(
        command
    )
    return click.option("--reason", help="Only rows whose reason contains this text.")(command)


@contextmanager
def opened(config_path: Path | None) -> Iterator[Store]:
    from collector.database import open_store

    try:
        with open_store(load(config_path)) as store:
            yield store
    except TouchmetricsError as exc:
        raise Abort(str(exc)) from exc


@click.group()
def quarantine() -> None:
    """Records that were rejected, with their position and reason."""


@quarantine.command("list")
@config_option
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True,
              help="Rows to show; 0 shows them all.")  # fmt: skip
@selection
def quarantine_list(
    config_path: Path | None, limit: int, reason: str | None, source: str | None,
    include_resolved: bool,
) -> None:  # fmt: skip
    """Show rejected records, oldest first."""
    from collector.quarantine import Filter, count, rows

    which = Filter(reason, source, include_resolved)
    with opened(config_path) as store:
        shown = rows(store, which, limit or None)
        total = count(store, which)
        resolved = 0 if include_resolved else count(store, Filter(reason, source, True)) - total
    for row in shown:
        done = " (resolved by replay)" if row.replayed_at is not None else ""
        click.echo(f"{row.position}: {row.reason}{done}\n    {row.raw[:200]}")
    if total > len(shown):
        click.echo(f"… {total - len(shown)} more (--limit 0 shows all)", err=True)
    if total == 0:
        click.echo("the quarantine is empty" if not resolved else "nothing left to fix", err=True)
    if resolved:
        click.echo(f"{resolved} resolved by replay, not shown (--all shows them)", err=True)


@quarantine.command("export")
@config_option
@click.option("-o", "--output", type=click.File("w", lazy=False), default="-",
              help="File to write (default stdout); written even when empty.")  # fmt: skip
@click.option("--raw", is_flag=True,
              help="The records as they came, to fix and ingest again.")  # fmt: skip
@selection
def quarantine_export(
    config_path: Path | None, output: Any, raw: bool, reason: str | None, source: str | None,
    include_resolved: bool,
) -> None:  # fmt: skip
    """Write rejected records as JSON Lines: with --raw as they came, else with their reason."""
    from collector.quarantine import Filter, rows

    with opened(config_path) as store:
        found = rows(store, Filter(reason, source, include_resolved))
    for row in found:
        if raw:
            output.write(row.raw.rstrip("\n") + "\n")
            continue
        item = {"id": row.id, "source": row.source, "position": row.position,
                "reason": row.reason, "raw": row.raw}  # fmt: skip
        output.write(orjson.dumps(item).decode() + "\n")


@quarantine.command("replay")
@config_option
@click.option("--reason", help="Only rows whose reason contains this text.")
@click.option("--source", help="Only rows from this source.")
def quarantine_replay(config_path: Path | None, reason: str | None, source: str | None) -> None:
    """Re-validate rejected records under the current configuration and take what passes."""
    from collector.quarantine import Filter, replay
    from collector.schema import Validator

    with opened(config_path) as store:
        try:
            outcome = replay(store, Validator(store.settings), Filter(reason, source))
        except TouchmetricsError as exc:
            raise Abort(str(exc)) from exc
    still = sum(outcome.still_rejected.values())
    click.echo(
        f"{outcome.examined} examined: {outcome.resolved} resolved "
        f"({outcome.accepted} events accepted, {outcome.duplicates} duplicates), "
        f"{still} still rejected"
    )
    for why, n in outcome.still_rejected.most_common():
        click.echo(f"  {n}: {why}")
