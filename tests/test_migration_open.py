"""Migration 0005_open_conversations gives an existing store its segment entries.

A store written by this version is taken down to 0004_import_readers (no `entered` facts, no
open-conversation totals, no index on open conversations) and back up; once the first
start has recounted the totals it must hold what it held, and /metrics show the same
open conversations.
"""

from __future__ import annotations

import orjson
from sqlalchemy import inspect, text

from collector.batch import batch_of_events
from collector.connect import make_engine
from collector.demo import DemoSpec, generate
from collector.jobs import maintain_rollups
from collector.schema import Validator
from collector.settings import parse_settings
from collector.store import Store
from tests.conftest import CHANNELS
from tests.test_migration_topic_once import contents, migrate, nonzero
from tests.test_open_conversations import STORY, gauge


def test_it_fills_segment_entries_and_open_totals_for_an_existing_store(own_database_url):
    settings = parse_settings({"channels": CHANNELS, "database_url": own_database_url})
    log = [orjson.loads(line) for line in generate(DemoSpec(seed=7), conversations=60)]
    with Store(make_engine(own_database_url), settings) as store:
        validator = Validator(settings)
        for begin in range(0, len(log), 100):
            store.write_batch(batch_of_events(validator, "demo", log[begin : begin + 100]))
        store.write_batch(batch_of_events(validator, "story", STORY))
        before = contents(store.engine)
        exposed = gauge(store)
    assert any(row[1] == "entered" for row in before["facts"])
    engine = make_engine(own_database_url)
    try:
        migrate(engine, "0004_import_readers")
        with engine.connect() as conn:
            kinds = conn.execute(text("SELECT DISTINCT kind FROM facts")).scalars().all()
            series = conn.execute(text("SELECT DISTINCT series FROM rollups")).scalars().all()
            indexes = {i["name"] for i in inspect(conn).get_indexes("conversations")}
        assert "entered" not in kinds
        assert not {"entered", "open"} & set(series)
        assert "ix_conversations_open" not in indexes
        migrate(engine, "head")
        after = contents(engine)
        assert (after["facts"], after["conversations"]) == (
            before["facts"],
            before["conversations"],
        )
        with Store(make_engine(own_database_url), settings) as store:
            assert maintain_rollups(store) is True
            assert gauge(store) == exposed
        assert nonzero(contents(engine)["rollups"]) == nonzero(before["rollups"])
    finally:
        engine.dispose()
