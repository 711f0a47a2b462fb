"""Commands that run or set up the service: serve, scheduler, db, demo and config."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import click

from collector.cli.common import Abort, config_option, configure_logging, load
from collector.errors import TouchmetricsError
from collector.instants import parse_instant


@click.command()
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

    # The options join the file and the environment in one validation: settings dumped
    # and parsed again need not come back the same (bucket bounds once came back as
    # floats, a new layout fingerprint, and every switch with `ingest` recounted the totals).
    overrides: dict[str, Any] = {
        k: v for k, v in (("http_host", host), ("http_port", port)) if v is not None
    }
    settings = load(config_path, overrides)
    if demo and not settings.channels:
        from collector.demo import DEMO_CHANNELS

        settings = load(config_path, {**overrides, "channels": DEMO_CHANNELS})
    try:
        configure_logging()
        run_server(settings, demo=demo, scheduler=not no_scheduler)
    except TouchmetricsError as exc:
        raise Abort(str(exc)) from exc


@click.command()
@config_option
def scheduler(config_path: Path | None) -> None:
    """Run the scheduled jobs alone (spool import, totals, alerts, mail) beside web processes."""
    from collector.database import open_store
    from collector.scheduler import build_scheduler

    settings = load(config_path)
    configure_logging()
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


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@config_option
def db_upgrade(config_path: Path | None) -> None:
    """Create or migrate the schema to this version."""
    from collector.connect import make_engine
    from collector.database import upgrade

    settings = load(config_path)
    try:
        engine = make_engine(settings.database_url)
        try:
            before, after = upgrade(engine)
        finally:
            engine.dispose()
    except TouchmetricsError as exc:
        raise Abort(str(exc)) from exc
    click.echo(f"schema: {before or 'empty'} -> {after}")


@click.group()
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
@click.option(
    "--containment",
    type=click.FloatRange(0, 0.9),
    help="Share of conversations a bot resolves itself (default about 0.55); "
    "lower makes a worse bot, to try `touchmetrics check` on.",
)
def demo_generate(
    output: Any, conversations: int, events: int | None, seed: int, start: str, days: float,
    containment: float | None,
) -> None:  # fmt: skip
    """Write a realistic synthetic log of AI and human channels (seeded, reproducible)."""
    from collector.demo import DemoSpec, generate

    try:
        start_us = parse_instant(start)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--start") from exc
    spec = DemoSpec(seed=seed, start_us=start_us, days=days, containment=containment)
    for line in generate(spec, conversations=conversations, min_events=events):
        output.write(line)


@click.group()
def config() -> None:
    """Configuration."""


@config.command("reference")
def config_reference() -> None:
    """Print the table of every setting with its default (docs/configuration.md)."""
    from collector.settings import settings_reference

    click.echo(settings_reference(), nl=False)
