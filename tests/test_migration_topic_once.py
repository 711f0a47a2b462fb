"""Migration 0003_topic_once moves a store's data both ways, on SQLite and PostgreSQL.

A store written by this version is taken down to 0002_alerts (the layout earlier versions
wrote: a topic in every fact, per-bucket totals with no row for an empty bucket, per-channel
last-event totals) and back up, and must come back as it was once the first start has
recounted the totals.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, inspect, text

from collector.batch import batch_of_events
from collector.connect import make_engine
from collector.database import MIGRATIONS
from collector.demo import DemoSpec, generate
from collector.jobs import maintain_rollups
from collector.schema import Validator
from collector.settings import parse_settings
from collector.store import Store
from exporters.prometheus import make_registry, render_metrics
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
    """Every derived table's rows, without generated ids; the latest events per
    conversation and channel as `last_event` facts, as they were kept before 0007, and the
    conversations without their saved state (a migration leaves it to be replayed)."""
    last_events = "last_events" in inspect(engine).get_table_names()
    queries = {
        "facts": "SELECT conversation_id, kind, channel, at, value, flag, label FROM facts"
        + (
            " UNION ALL SELECT conversation_id, 'last_event', channel, at, NULL, NULL, NULL"
            " FROM last_events"
            if last_events
            else ""
        ),
        "conversations": "SELECT id, channel, active, topic, started_at, last_event_at, events"
        " FROM conversations",
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
        after = contents(engine)
        assert (after["facts"], after["conversations"]) == (
            before["facts"],
            before["conversations"],
        )
        with Store(make_engine(own_database_url), settings) as store:
            # 0002 kept no row for a bucket no value reached: until the first start recounts
            # the totals, such a bucket shows the one below it.
            histogram_consistent(store)
            assert maintain_rollups(store) is True
            histogram_consistent(store)
        assert nonzero(contents(engine)["rollups"]) == nonzero(before["rollups"])
    finally:
        engine.dispose()


def nonzero(rollups: Counter[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
    """Rollups rows that count something, sums rounded (a recount adds in another order)."""
    return {(*row[:3], round(row[3], 6), round(row[4], 6)) for row in rollups if row[3] or row[4]}


def histogram_consistent(store: Store) -> None:
    """bot-chat's first-response buckets on /metrics grow with the bound, +Inf as _count."""
    body, _ = render_metrics(make_registry(store))
    buckets: list[tuple[float, float]] = []
    count = None
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.labels.get("channel") != "bot-chat":
                continue
            if sample.name == "touchmetrics_first_response_seconds_bucket":
                buckets.append((float(sample.labels["le"]), sample.value))
            elif sample.name == "touchmetrics_first_response_seconds_count":
                count = sample.value
    values = [value for _, value in sorted(buckets)]
    assert values == sorted(values)
    assert values[-1] == count > 0
