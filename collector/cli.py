"""The `touchmetrics` command. Exit codes: 0 success, 1 a failed check or rejected input
under --strict, 2 a usage, input or configuration error."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import click
import orjson

from collector import __version__
from collector.errors import TouchmetricsError
from collector.metrics import GROUPINGS, Query, Window, build_report, parse_instant
from collector.schema import Validator
from collector.settings import Settings, load_settings, parse_settings
from collector.sources.jsonl import JsonLinesReader
from collector.sources.record import Reader
from exporters.report import FORMATS, render

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="TOUCHMETRICS_CONFIG",
    help="YAML configuration (or $TOUCHMETRICS_CONFIG).",
)
mapping_option = click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML column mapping for CSV/TSV files of one row per conversation.",
)


class Abort(click.ClickException):
    """An error shown as `error: ...` with exit code 2."""

    exit_code = 2

    def format_message(self) -> str:
        return self.message


def _settings(config_path: Path | None) -> Settings:
    try:
        return load_settings(config_path)
    except TouchmetricsError as exc:
        raise Abort(str(exc)) from exc


def reader_for(path: Path, mapping: Path | None) -> Reader:
    """JSON Lines unless a mapping is given or the file is CSV/TSV."""
    if mapping is not None:
        from collector.sources.csvmap import MappedCsvReader

        return MappedCsvReader.from_file(mapping)
    if path.suffix.lower() in (".csv", ".tsv"):
        raise click.UsageError(f"{path}: CSV/TSV needs --mapping (see examples/)")
    return JsonLinesReader()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="touchmetrics")
def main() -> None:
    """Per-channel response time, resolution rate and CSAT, AI next to human."""


@main.command()
@config_option
@mapping_option
@click.option("--strict", is_flag=True, help="Exit 1 when any record was rejected.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def ingest(
    config_path: Path | None,
    mapping: Path | None,
    strict: bool,
    as_json: bool,
    files: tuple[Path, ...],
) -> None:
    """Import JSON Lines of events (or CSV/TSV through --mapping) into the database."""
    from collector.database import open_store
    from collector.ingest import Summary, ingest_file
    from collector.jobs import maintain_rollups

    settings = _settings(config_path)
    total = Summary()
    try:
        with open_store(settings) as store:
            # Count into the bucket layout in force (and record it), as serve would.
            maintain_rollups(store)
            validator = Validator(settings)
            for path in files:
                reader = reader_for(path, mapping)
                with _progress(path) as advance:
                    summary = ingest_file(store, validator, reader, path, progress=advance)
                total.merge(summary)
                if not as_json:
                    click.echo(_summary_line(path, summary), err=True)
    except TouchmetricsError as exc:
        raise Abort(str(exc)) from exc
    if as_json:
        click.echo(orjson.dumps(total.as_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        _print_rejections(total)
    if strict and total.rejected:
        sys.exit(1)


def _summary_line(path: Path, s: Any) -> str:
    resumed = f" (resumed after line {s.resumed_at_line})" if s.resumed_at_line else ""
    return (
        f"{path}{resumed}: {s.records} records, {s.accepted} accepted, "
        f"{s.duplicates} duplicates, {s.rejected} rejected"
    )


def _print_rejections(total: Any) -> None:
    if not total.rejected:
        return
    click.echo("rejected by reason:", err=True)
    for reason, count in total.reasons.most_common():
        click.echo(f"  {count:>8}  {reason}", err=True)
    click.echo("first rejections:", err=True)
    for example in total.examples:
        click.echo(f"  {example}", err=True)
    click.echo("see them all with `touchmetrics quarantine list`", err=True)


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


@main.command()
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
    settings = _settings(config_path)
    query = Query(_window(start, end), group_by, channel, kind)
    try:
        result = (
            report_from_files(settings, query, files, mapping)
            if files
            else report_from_store(settings, query)
        )
    except TouchmetricsError as exc:
        raise Abort(str(exc)) from exc
    click.echo(render(result, fmt), nl=False)


def _window(start: str | None, end: str | None) -> Window:
    try:
        return Window(parse_instant(start) if start else None, parse_instant(end) if end else None)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--from/--to") from exc


def report_from_store(settings: Settings, query: Query) -> dict[str, Any]:
    from collector.database import open_store

    window = query.window
    with open_store(settings) as store:
        return build_report(
            store.facts(window.start, window.end),
            store.channel_kinds(),
            settings.channels,
            query,
            store.event_counts(),
        )


def report_from_files(
    settings: Settings, query: Query, files: tuple[Path, ...], mapping: Path | None
) -> dict[str, Any]:
    from collector.offline import read_files

    log = read_files(Validator(settings), [(reader_for(p, mapping), p) for p in files])
    kinds = {**log.kinds, **settings.channel_kinds()}
    return build_report(log.facts(), kinds, settings.channels, query, log.event_counts())


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@config_option
def db_upgrade(config_path: Path | None) -> None:
    """Create or migrate the schema to this version."""
    from collector.database import upgrade
    from collector.store import make_engine

    settings = _settings(config_path)
    engine = make_engine(settings.database_url)
    try:
        before, after = upgrade(engine)
    except TouchmetricsError as exc:
        raise Abort(str(exc)) from exc
    finally:
        engine.dispose()
    click.echo(f"schema: {before or 'empty'} -> {after}")


@main.group()
def quarantine() -> None:
    """Records that were rejected, with their position and reason."""


@quarantine.command("list")
@config_option
@click.option("--limit", type=int, default=50, show_default=True)
def quarantine_list(config_path: Path | None, limit: int) -> None:
    """Show rejected records, oldest first."""
    from collector.database import open_store

    try:
        with open_store(_settings(config_path)) as store:
            rows = store.quarantined(limit)
    except TouchmetricsError as exc:
        raise Abort(str(exc)) from exc
    for row in rows:
        click.echo(f"{row.position}: {row.reason}\n    {row.raw[:200]}")
    if not rows:
        click.echo("the quarantine is empty", err=True)


@quarantine.command("export")
@config_option
@click.option(
    "-o", "--output", type=click.File("w"), default="-", help="File to write (default stdout)."
)
def quarantine_export(config_path: Path | None, output: Any) -> None:
    """Write every rejected record as JSON Lines: source, position, reason, raw."""
    from collector.database import open_store

    try:
        with open_store(_settings(config_path)) as store:
            rows = store.quarantined()
    except TouchmetricsError as exc:
        raise Abort(str(exc)) from exc
    for row in rows:
        item = {
            "id": row.id,
            "source": row.source,
            "position": row.position,
            "reason": row.reason,
            "raw": row.raw,
        }
        output.write(orjson.dumps(item).decode() + "\n")


@main.group()
def demo() -> None:
    """Synthetic data for trying touchmetrics out."""


@demo.command("generate")
@click.option(
    "-o", "--output", type=click.File("w"), default="-", help="File to write (default stdout)."
)
@click.option("--conversations", type=int, default=2000, show_default=True)
@click.option("--events", type=int, help="Generate conversations until at least this many events.")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--start", default="2026-11-01T00:00:00Z", show_default=True, help="First conversation start."
)
@click.option(
    "--days",
    type=float,
    default=7.0,
    show_default=True,
    help="Span over which conversations start.",
)
def demo_generate(
    output: Any, conversations: int, events: int | None, seed: int, start: str, days: float
) -> None:
    """Write a realistic synthetic log of AI and human channels (seeded, reproducible)."""
    from collector.demo import DemoSpec, generate

    spec = DemoSpec(seed=seed, start_us=parse_instant(start), days=days)
    for line in generate(spec, conversations=conversations, min_events=events):
        output.write(line)


@main.group()
def config() -> None:
    """Configuration."""


@config.command("reference")
def config_reference() -> None:
    """Print the table of every setting with its default (docs/configuration.md)."""
    from collector.settings import settings_reference

    click.echo(settings_reference(), nl=False)


@main.command()
@config_option
@click.option("--host", help="Bind address (setting http_host).")
@click.option("--port", type=int, help="Port (setting http_port; 0 picks a free one).")
@click.option(
    "--demo", is_flag=True, help="Feed a live synthetic stream so the numbers move at once."
)
@click.option(
    "--no-scheduler", is_flag=True, help="Web only; run `touchmetrics scheduler` elsewhere."
)
def serve(
    config_path: Path | None, host: str | None, port: int | None, demo: bool, no_scheduler: bool
) -> None:
    """Serve the API, /metrics and the overview page, with the scheduler, until SIGTERM."""
    from collector.server import serve as run_server

    settings = _settings(config_path)
    overrides: dict[str, Any] = {
        k: v for k, v in (("http_host", host), ("http_port", port)) if v is not None
    }
    if demo and not settings.channels:
        from collector.demo import DEMO_CHANNELS

        overrides["channels"] = DEMO_CHANNELS
    try:
        settings = parse_settings({**settings.model_dump(), **overrides}) if overrides else settings
        _configure_logging()
        run_server(settings, demo=demo, scheduler=not no_scheduler)
    except TouchmetricsError as exc:
        raise Abort(str(exc)) from exc


@main.command()
@config_option
def scheduler(config_path: Path | None) -> None:
    """Run the scheduled jobs alone (spool import, totals upkeep), for several web processes."""
    from collector.database import open_store
    from collector.scheduler import build_scheduler

    settings = _settings(config_path)
    _configure_logging()
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        with open_store(settings) as store:
            jobs, lock = build_scheduler(store, blocking=True)
            holder = "this process" if lock.acquire() else "another scheduler (standing by)"
            click.echo(f"touchmetrics scheduler started; the lock is held by {holder}", err=True)
            try:
                jobs.start()
            except (KeyboardInterrupt, SystemExit):
                jobs.shutdown(wait=True)  # let a running job finish its transaction
            finally:
                lock.release()
                click.echo("touchmetrics scheduler stopped", err=True)
    except TouchmetricsError as exc:
        raise Abort(str(exc)) from exc


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _configure_logging() -> None:
    import logging

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


if __name__ == "__main__":
    main()
