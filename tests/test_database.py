"""The schema is managed by Alembic and matches the tables the code uses, on both backends."""

from __future__ import annotations

import sqlite3

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from collector.batch import batch_of_events
from collector.database import current_revision, head_revision, open_store
from collector.errors import SchemaNotCurrent, StoreError
from collector.schema import Validator
from collector.settings import Settings, parse_settings
from collector.tables import metadata
from tests.conftest import CHANNELS
from tests.events import CONVERSATION


def test_it_migrates_to_exactly_the_tables_the_code_uses(database_url):
    engine = create_engine(database_url)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert differences == []


def test_it_upgrades_an_empty_sqlite_file_on_first_use(tmp_path):
    settings = parse_settings({"database_url": f"sqlite:///{tmp_path / 'new.db'}"})
    with open_store(settings) as store:
        assert current_revision(store.engine) == head_revision()


def test_it_makes_new_sqlite_stores_with_16_kib_pages_and_keeps_older_ones(tmp_path):
    new = parse_settings({"database_url": f"sqlite:///{tmp_path / 'new.db'}"})
    older = tmp_path / "older.db"
    sqlite3.connect(older).execute("CREATE TABLE early (x)").connection.close()  # 4 KiB pages
    old = parse_settings({"database_url": f"sqlite:///{older}", "channels": CHANNELS})
    assert _page_size(new) == 16384
    with open_store(old) as store:
        store.write_batch(batch_of_events(Validator(old), "test", CONVERSATION))
        assert store.event_counts()["accepted"] == len(CONVERSATION)
    assert _page_size(old) == 4096


def _page_size(settings: Settings) -> int:
    with open_store(settings) as store, store.engine.connect() as conn:
        return int(conn.exec_driver_sql("PRAGMA page_size").scalar_one())


def test_it_refuses_a_server_database_whose_schema_is_not_current(tmp_path):
    settings = parse_settings({"database_url": f"sqlite:///{tmp_path / 'old.db'}"})
    with pytest.raises(SchemaNotCurrent, match="touchmetrics db upgrade"):
        open_store(settings, auto_upgrade=False)


def test_it_reports_an_unreachable_database_without_its_password():
    settings = parse_settings({"database_url": "postgresql+psycopg://tm:s3cret@127.0.0.1:9/none"})
    with pytest.raises(StoreError) as caught:
        open_store(settings)
    assert "database unavailable" in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_it_creates_and_then_keeps_the_schema_with_db_upgrade(tmp_path):
    from click.testing import CliRunner

    from collector.cli import main

    config = tmp_path / "c.yaml"
    config.write_text(f"database_url: sqlite:///{tmp_path / 'fresh.db'}\n")
    first = CliRunner().invoke(main, ["db", "upgrade", "--config", str(config)])
    again = CliRunner().invoke(main, ["db", "upgrade", "--config", str(config)])
    assert (first.exit_code, first.stdout) == (0, f"schema: empty -> {head_revision()}\n")
    assert again.stdout == f"schema: {head_revision()} -> {head_revision()}\n"


def test_it_says_which_database_it_cannot_upgrade_without_its_password():
    from click.testing import CliRunner

    from collector.cli import main

    result = CliRunner().invoke(
        main,
        ["db", "upgrade"],
        env={"TOUCHMETRICS_DATABASE_URL": "postgresql+psycopg://u:pw9@127.0.0.1:9/x"},
    )
    assert result.exit_code == 2
    assert "database unavailable" in result.stderr
    assert "pw9" not in result.stderr
