"""Opening the database: engine, schema version check and Alembic upgrades."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic.command import upgrade as alembic_upgrade
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from collector.connect import make_engine
from collector.deadlines import probe_timeouts_of, timeouts_of, unhurried
from collector.errors import SchemaNotCurrent, StoreError, driver_message
from collector.settings import Settings
from collector.store import Store

MIGRATIONS = Path(__file__).with_name("migrations")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@cache  # the migrations shipped with this process never change while it runs
def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise StoreError(f"database unavailable: {driver_message(exc)}") from exc


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Bring the schema to the newest revision; return (before, after)."""
    before = current_revision(engine)
    config = _config()
    try:
        with engine.begin() as conn, unhurried(conn):
            config.attributes["connection"] = conn
            alembic_upgrade(config, "head")
    except SQLAlchemyError as exc:
        raise StoreError(f"schema upgrade failed: {driver_message(exc)}") from exc
    return before, head_revision()


def open_store(settings: Settings, *, auto_upgrade: bool | None = None) -> Store:
    """Connect and check the schema. An embedded SQLite file is upgraded in place;
    a shared server needs an explicit `touchmetrics db upgrade`."""
    # A connection for each server thread and the scheduler, and as many more at need.
    engine = make_engine(
        settings.database_url, timeouts_of(settings), pool=max(5, settings.http_threads + 1)
    )
    if auto_upgrade is None:
        auto_upgrade = engine.dialect.name == "sqlite"
    try:
        if current_revision(engine) != head_revision():
            if not auto_upgrade:
                raise SchemaNotCurrent(
                    "the database schema is not current: run `touchmetrics db upgrade`"
                )
            upgrade(engine)
    except BaseException:
        engine.dispose()
        raise
    # Scrapes and probes get a small pool of their own with short limits, so they never
    # wait for a connection behind writes and reports, nor longer than a probe should.
    probe = make_engine(
        settings.database_url,
        probe_timeouts_of(settings),
        pool=settings.http_probe_threads,
        autocommit=True,
    )
    return Store(engine, settings, probe=probe)
