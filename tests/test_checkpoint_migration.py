"""Migration 0004: checkpoints kept before it still resume JSON Lines imports, on both stores."""

from __future__ import annotations

from alembic.command import downgrade
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from collector.database import _config, upgrade
from collector.settings import parse_settings
from collector.store import Store
from tests.conftest import CHANNELS

REVISION = "0004_import_readers"


def _migrate_down(url: str) -> None:
    before = ScriptDirectory.from_config(_config()).get_revision(REVISION).down_revision
    engine = create_engine(url)
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        downgrade(config, str(before))
    engine.dispose()


def test_a_checkpoint_kept_before_0004_still_resumes_its_json_lines_file(database_url):
    _migrate_down(database_url)
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                'INSERT INTO imports (source, fingerprint, "offset", line, updated_at) '
                "VALUES ('/data/log.jsonl', '12:abc', 1200, 12, 0)"
            )
        )
    upgrade(engine)
    store = Store(engine, parse_settings({"channels": CHANNELS, "database_url": database_url}))
    saved = store.checkpoint("/data/log.jsonl")
    assert saved is not None
    assert (saved.offset, saved.line, saved.reader, saved.rejected) == (1200, 12, "jsonl", 0)
    assert store.checkpoint("/data/log.jsonl", "mapping:0123456789abcdef") is None
    engine.dispose()
