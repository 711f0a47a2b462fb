"""Migration 0003_topic_once moves a store's data both ways, on SQLite and PostgreSQL.

A store written by this version is taken down to 0002_alerts (the layout earlier versions
wrote: a topic in every fact, per-bucket totals, per-channel last-event totals) and back
up, and must come back as it was.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect, text

from collector.batch import batch_of_events
from collector.connect import make_engine
from collector.database import MIGRATIONS
from collector.demo import DemoSpec, generate
from collector.schema import Validator
from collector.settings import parse_settings
from collector.store import Store
from tests.conftest import CHANNELS
from tests.events import BASE

TOPIC = "billing: " + "x" * 500
EXTRA = [
    {"id": "t1", "conversation_id": "topical", "type": "conversation_started",
     "channel": "bot-chat", "timestamp": BASE, "attributes": {"topic": TOPIC}},
    {"id": "t2", "conversation_id": "topical", "type": "message", "author": "customer",
     "timestamp": BASE + 1},
    {"id": "t3", "conversation_id": "topical", "type": "message", "author": "agent",
     "timestamp": BASE + 4},
    {"id": "t4", "conversation_id": "topical", "type": "handoff", "channel": "chat",
     "timestamp": BASE + 9},
]  # fmt: skip


def migrate(engine: Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        if revision == "head":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)


def contents(engine: Engine) -> dict[str, Counter[tuple[Any, ...]]]:
    """Every derived table's rows, without generated ids."""
    queries = {
        "facts": "SELECT conversation_id, kind, channel, at, value, flag, label FROM facts",
        "conversations": "SELECT * FROM conversations",
        "rollups": "SELECT channel, series, label, value, exposed FROM rollups",
    }
    with engine.connect() as conn:
        return {
            name: Counter(tuple(row) for row in conn.execute(text(sql)))
            for name, sql in queries.items()
        }


def test_it_moves_a_store_down_to_0002_and_back_up_unchanged(own_database_url):
    settings = parse_settings({"channels": CHANNELS, "database_url": own_database_url})
    log = [orjson.loads(line) for line in generate(DemoSpec(seed=5), conversations=60)]
    with Store(make_engine(own_database_url), settings) as store:
        validator = Validator(settings)
        for start in range(0, len(log), 100):
            store.write_batch(batch_of_events(validator, "demo", log[start : start + 100]))
        store.write_batch(batch_of_events(validator, "extra", EXTRA))
        before = contents(store.engine)
        _, _, latest = store.exposed()
    assert all(value == exposed for *_, value, exposed in before["rollups"])

    engine = make_engine(own_database_url)
    try:
        migrate(engine, "0002_alerts")
        with engine.connect() as conn:
            assert "topic" in {c["name"] for c in inspect(conn).get_columns("facts")}
            topics = conn.execute(
                text("SELECT DISTINCT topic FROM facts WHERE conversation_id = 'topical'")
            ).all()
            per_bucket = dict(
                conn.execute(
                    text(
                        "SELECT label, value FROM rollups WHERE channel = 'bot-chat'"
                        " AND series = 'first_response'"
                    )
                ).all()
            )
            marks = dict(
                conn.execute(
                    text("SELECT channel, value FROM rollups WHERE series = 'last_event'")
                ).all()
            )
        assert topics == [(TOPIC,)]
        # The 3 s first response counts in its own bucket only, as 0002's code counted.
        assert per_bucket["5.0"] >= 1
        assert (
            sum(v for k, v in per_bucket.items() if k not in ("count", "sum"))
            == (per_bucket["count"])
        )
        assert marks == latest
        migrate(engine, "head")
        assert contents(engine) == before
    finally:
        engine.dispose()
