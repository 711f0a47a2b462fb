"""A stored conversation takes its later events from its saved state, and gives exactly
what replaying it would: in a time-ordered stream, across restarts, with two writers at
once; a late event still replays it.

Hypothesis draws conversations as tests/test_arrival_order.py does, then delivers them as a
live stream would: in time order, in random batches, with some records repeated and some
held back to arrive late.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, text

from collector.batch import batch_of_events
from collector.connect import make_engine
from collector.demo import DemoSpec, generate
from collector.hourly import hourly_counts
from collector.schema import Validator
from collector.settings import parse_settings
from collector.store import Store
from tests.conftest import CHANNELS
from tests.events import BASE
from tests.test_arrival_order import a_batch, assert_in_order, conversation
from tests.test_migration_topic_once import migrate

Stream = tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]


@st.composite
def streams(draw: st.DrawFn) -> Stream:
    """Events of a few conversations, and their delivery as a live stream: in time order,
    cut into batches, some records sent twice, some (``late``) held back a few batches."""
    prefix = uuid.uuid4().hex[:8]
    events = [
        e for n in range(draw(st.integers(1, 4))) for e in draw(conversation(f"{prefix}-{n}"))
    ]
    events.sort(key=lambda e: e["timestamp"])
    rng = random.Random(draw(st.integers(0, 2**32)))
    late = draw(st.integers(0, 2))
    delivered = [e for e in events if rng.random() >= 0.1 * late]
    held = [e for e in events if e not in delivered]
    delivered += rng.sample(events, k=rng.randint(0, len(events) // 3))  # repeats, anywhere
    cuts = sorted(rng.sample(range(1, len(delivered)), k=min(len(delivered) - 1, 5)))
    ends = zip([0, *cuts], [*cuts, len(delivered)], strict=True)
    batches = [delivered[a:b] for a, b in ends if a < b] + ([held] if held else [])
    return events, batches


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=streams(), restarts=st.lists(st.booleans(), min_size=1, max_size=8))
def test_it_applies_a_stream_to_saved_state_as_a_replay_would_across_restarts(
    settings, case, restarts
):
    events, batches = case
    validator = Validator(settings)
    store = Store(make_engine(settings.database_url), settings)
    before = Counter(store.totals()), hourly_counts(store)
    for n, items in enumerate(batches):
        store.write_batch(a_batch(validator, items))
        if restarts[n % len(restarts)]:
            # A new process: all it knows of the conversations is in the database.
            store.close()
            store = Store(make_engine(settings.database_url), settings)
    try:
        assert_in_order(store, events, batches, before)
    finally:
        store.close()


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=streams())
def test_two_writers_sharing_conversations_give_what_a_replay_gives(settings, case):
    events, batches = case
    validator = Validator(settings)
    stores = [Store(make_engine(settings.database_url), settings) for _ in range(2)]
    before = Counter(stores[0].totals()), hourly_counts(stores[0])
    failures: list[BaseException] = []

    def writer(store: Store, mine: list[list[dict[str, Any]]]) -> None:
        try:
            for items in mine:
                store.write_batch(a_batch(validator, items))
        except BaseException as exc:  # reported by the test's own thread
            failures.append(exc)

    threads = [
        threading.Thread(target=writer, args=(store, batches[n::2]))
        for n, store in enumerate(stores)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures, failures
        assert_in_order(stores[0], events, batches, before)
    finally:
        for store in stores:
            store.close()


START = {"id": "s1", "conversation_id": "inc", "type": "conversation_started",
         "channel": "bot-chat", "timestamp": BASE}  # fmt: skip
ASKED = {"id": "s2", "conversation_id": "inc", "type": "message", "author": "customer",
         "timestamp": BASE + 5}  # fmt: skip
ANSWERED = {"id": "s3", "conversation_id": "inc", "type": "message", "author": "agent",
            "timestamp": BASE + 9}  # fmt: skip
RATED = {"id": "s4", "conversation_id": "inc", "type": "csat", "score": 2, "scale": 5,
         "timestamp": BASE + 20}  # fmt: skip
RERATED = {**RATED, "id": "s5", "score": 5, "timestamp": BASE + 30}
EARLIER = {"id": "s0", "conversation_id": "inc", "type": "message", "author": "customer",
           "timestamp": BASE + 1}  # fmt: skip


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """The SQL the store runs meanwhile."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", record)


def reads_events(sql: list[str]) -> bool:
    return any("FROM events WHERE events.conversation_id" in s for s in sql)


def test_it_applies_later_events_without_reading_the_stored_ones(store, write):
    write([START, ASKED])
    with statements(store) as sql:
        write([ANSWERED, RATED])
        write([RERATED])  # a newer rating replaces the older one's fact
    assert not reads_events(sql)
    assert not any(s.startswith("SELECT") and "FROM facts" in s for s in sql)
    everything = [START, ASKED, ANSWERED, RATED, RERATED]
    assert_in_order(store, everything, [everything], EMPTY)


def test_it_replays_a_conversation_when_an_event_arrives_late(store, write):
    write([START, ASKED, ANSWERED])
    with statements(store) as sql:
        write([EARLIER])
    assert reads_events(sql)
    everything = [START, ASKED, ANSWERED, EARLIER]
    assert_in_order(store, everything, [everything], EMPTY)


EMPTY: tuple[Counter[Any], Counter[Any]] = (Counter(), Counter())


def test_a_store_upgraded_from_0006_replays_old_conversations_once_then_goes_on(
    own_database_url,
):
    settings = parse_settings({"channels": CHANNELS, "database_url": own_database_url})
    validator = Validator(settings)
    log = [orjson.loads(line) for line in generate(DemoSpec(seed=3), conversations=40)]
    log.sort(key=lambda e: e["timestamp"])
    half = len(log) // 2
    first, rest = log[:half], log[half:]
    engine = make_engine(own_database_url)
    try:
        with Store(make_engine(own_database_url), settings) as store:
            store.write_batch(batch_of_events(validator, "demo", first))
        migrate(engine, "0006_hourly")  # as a version before 0007 left it: no saved state
        migrate(engine, "head")
        with engine.connect() as conn:
            saved = conn.execute(text("SELECT count(*) FROM conversations WHERE state IS NOT NULL"))
            assert saved.scalar() == 0
        with Store(make_engine(own_database_url), settings) as store:
            for begin in range(0, len(rest), 50):
                store.write_batch(batch_of_events(validator, "demo", rest[begin : begin + 50]))
            # Conversations over before the upgrade are not touched again: not replayed.
            untouched = {e["conversation_id"] for e in first} - {e["conversation_id"] for e in rest}
            assert untouched
            assert_in_order(store, log, [log], EMPTY, unsaved=frozenset(untouched))
    finally:
        engine.dispose()
