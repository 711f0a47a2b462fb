"""Events arriving out of order, late, split across batches or twice give the in-order result.

Hypothesis builds conversations of random events, then delivers them shuffled, in random
batches, with repeats; the facts and all-time totals in the store must equal those of one
in-order replay.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from collector import early, tables
from collector.batch import Batch, batch_of_events
from collector.early import EarlyReplay
from collector.engine import applied_order, replay
from collector.hourly import hourly_counts
from collector.metrics import Window, aggregate, counting_open
from collector.offline import FileLog
from collector.prepare import conversation_row
from collector.rollup import contributions
from collector.schema import Validator

CHANNELS = ("bot-chat", "chat", "email")
TYPES = (
    "conversation_started",
    "message",
    "message",
    "message",
    "handoff",
    "resolved",
    "abandoned",
    "reopened",
    "csat",
)


@st.composite
def conversation(draw: st.DrawFn, cid: str) -> list[dict[str, Any]]:
    size = draw(st.integers(1, 14))
    events = []
    for index in range(size):
        etype = draw(st.sampled_from(TYPES))
        event: dict[str, Any] = {
            "id": f"{cid}-{index}",
            "conversation_id": cid,
            "type": etype,
            # few distinct instants, so ties between types and ids are common
            "timestamp": 1_793_527_200 + draw(st.integers(0, 12)),
        }
        if etype in ("conversation_started", "handoff") or draw(st.booleans()):
            event["channel"] = draw(st.sampled_from(CHANNELS))
        if etype == "message":
            event["author"] = draw(
                st.sampled_from(["customer", "customer", "agent", "agent", "system"])
            )
            event["public"] = draw(st.sampled_from([True, True, True, False]))
        if etype == "csat":
            event["scale"] = draw(st.sampled_from([2, 5, 10]))
            event["score"] = draw(st.integers(1, event["scale"]))
        if draw(st.integers(0, 5)) == 0:
            event["attributes"] = {"topic": draw(st.sampled_from(["billing", "login"]))}
        events.append(event)
    return events


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """Events of a few conversations as the store must keep them, and their delivery in
    disorder: shuffled, repeated, in batches, with records reusing an id for other content.

    The first record of each id to arrive is the one kept, so a conflicting record that
    comes first displaces the original."""
    prefix = uuid.uuid4().hex[:8]
    events = [
        e for n in range(draw(st.integers(1, 3))) for e in draw(conversation(f"{prefix}-{n}"))
    ]
    rng = random.Random(draw(st.integers(0, 2**32)))
    conflicts = [
        conflicting(e, rng, prefix)
        for e in rng.sample(events, k=rng.randint(0, min(3, len(events))))
    ]
    delivered = events + rng.sample(events, k=rng.randint(0, len(events))) + conflicts
    rng.shuffle(delivered)
    cuts = sorted(
        rng.sample(range(1, len(delivered)), k=min(len(delivered) - 1, rng.randint(0, 4)))
    )
    batches = [delivered[a:b] for a, b in zip([0, *cuts], [*cuts, len(delivered)], strict=True)]
    first: dict[str, dict[str, Any]] = {}
    for item in delivered:
        first.setdefault(item["id"], item)
    return list(first.values()), batches


def conflicting(event: dict[str, Any], rng: random.Random, prefix: str) -> dict[str, Any]:
    """A record with the event's id and other content: another conversation, channel or time."""
    change = rng.choice(["conversation", "channel", "timestamp"])
    if change == "conversation":
        return {**event, "conversation_id": f"{prefix}-{rng.choice(['0', '1', 'new'])}x"}
    if change == "channel":
        return {**event, "type": "conversation_started", "channel": "chat", "id": event["id"]}
    return {**event, "timestamp": event["timestamp"] + rng.randint(1, 3)}


def outcome(batches: list[list[dict[str, Any]]], kept: list[dict[str, Any]]) -> tuple[int, int]:
    """How many records a store must count as duplicates and as conflicts."""
    first = {e["id"]: e for e in kept}
    later = [item for batch in batches for item in batch]
    repeats = len(later) - len(kept)
    conflicts = sum(1 for item in later if item != first[item["id"]])
    return repeats - conflicts, conflicts


def in_order(validator: Validator, events: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The validated events of each conversation, in the order the engine applies them."""
    by_conversation: dict[str, list[Any]] = {}
    for event in events:
        by_conversation.setdefault(event["conversation_id"], []).append(validator.validate(event))
    return {cid: applied_order(evs) for cid, evs in by_conversation.items()}


def in_order_facts(validator: Validator, events: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    """The facts rows of an in-order replay, with each conversation's latest event per channel."""
    expected: Counter[tuple[Any, ...]] = Counter()
    for cid, evs in in_order(validator, events).items():
        expected.update((cid, *f) for f in replay(evs).facts)
        expected.update(
            (cid, "last_event", channel, at, None, None, None)
            for channel, at in credited(evs).items()
        )
    return expected


def credited(applied: list[Any]) -> dict[str, int]:
    """The latest event per channel, each event in the channel its conversation is in once
    the events up to it are applied (None before any channel is known: credited nowhere)."""
    latest: dict[str, int] = {}
    for n, event in enumerate(applied, start=1):
        channel = replay(applied[:n]).channel
        if channel is not None:
            latest[channel] = max(latest.get(channel, event.ts), event.ts)
    return latest


def a_batch(validator: Validator, items: list[dict[str, Any]]) -> Batch:
    batch = batch_of_events(validator, "prop", items)
    assert not batch.rejections
    return batch


def stored_facts(store: Any, ids: set[str]) -> Counter[tuple[Any, ...]]:
    """The facts rows of these conversations, with their last_events rows as facts."""
    c, last = tables.facts.c, tables.last_events.c
    query = select(c.conversation_id, c.kind, c.channel, c.at, c.value, c.flag, c.label)
    with store.engine.connect() as conn:
        rows = conn.execute(query.where(c.conversation_id.in_(ids))).all()
        latest = conn.execute(
            select(last.conversation_id, last.channel, last.at).where(last.conversation_id.in_(ids))
        )
        rows += [(cid, "last_event", ch, at, None, None, None) for cid, ch, at in latest]
        return Counter(tuple(row) for row in rows)


def stored_conversations(store: Any, ids: set[str]) -> dict[str, tuple[Any, ...]]:
    c = tables.conversations.c
    with store.engine.connect() as conn:
        rows = conn.execute(select(tables.conversations).where(c.id.in_(ids)))
        return {row.id: _normal(row) for row in rows}


def in_order_conversations(
    validator: Validator, events: list[dict[str, Any]]
) -> dict[str, tuple[Any, ...]]:
    """Each conversations row as an in-order replay of all its events writes it."""
    return {
        cid: _normal(conversation_row(cid, replay(evs), evs))
        for cid, evs in in_order(validator, events).items()
    }


def _normal(row: Any) -> tuple[Any, ...]:
    """A conversations row with `active` as a bool (SQLite gives 0 or 1)."""
    values = list(row)
    values[2] = bool(values[2])
    return tuple(values)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=deliveries())
def test_it_stores_the_in_order_result_however_events_arrive(store, case):
    events, batches = case
    validator = Validator(store.settings)
    before = Counter(store.totals()), hourly_counts(store)
    for items in batches:
        store.write_batch(a_batch(validator, items))
    assert_in_order(store, events, batches, before)


def assert_in_order(
    store: Any,
    events: list[dict[str, Any]],
    batches: list[list[dict[str, Any]]],
    before: tuple[Counter[Any], Counter[Any]],
    unsaved: frozenset[str] = frozenset(),
) -> None:
    """The store holds what one in-order replay of ``events`` gives: facts, conversations
    rows (saved state included, but for the ``unsaved`` conversations: none), and totals
    and hourly totals moved from ``before`` by exactly those facts and the records' counts."""
    validator = Validator(store.settings)
    expected = in_order_facts(validator, events)
    ids = {e["conversation_id"] for e in events}
    assert stored_facts(store, ids) == expected
    conversations = in_order_conversations(validator, events)
    for cid in unsaved:
        conversations[cid] = (*conversations[cid][:-1], None)
    assert stored_conversations(store, ids) == conversations
    moved = Counter(store.totals())
    moved.subtract(before[0])
    hourly: Counter[Any] = Counter()
    change = contributions(expected.elements(), store.layout, slots=hourly)
    hours_moved = hourly_counts(store)
    hours_moved.subtract(before[1])
    assert +hours_moved == +hourly  # the hourly totals equal a fresh count per hour too
    for cell, amount in change.items():
        assert abs(moved[cell] - amount) < 1e-6, cell
    for cell in set(moved) - set(change):
        assert cell[1] == "events" or abs(moved[cell]) < 1e-6, cell
    duplicates, conflicts = outcome(batches, events)
    assert moved[("", "events", "accepted")] == len(events)
    assert moved[("", "events", "duplicate")] == duplicates
    assert moved[("", "events", "rejected")] == conflicts


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=deliveries())
def test_it_reads_files_to_the_in_order_result_however_events_arrive(offline_settings, case):
    events, batches = case
    validator = Validator(offline_settings)
    log = FileLog(validator)
    for item in (i for b in batches for i in b):
        log.add(validator.validate(item))
    got: Counter[tuple[Any, ...]] = Counter()
    for cid, evs in log.conversations():
        result = replay(evs)
        got.update((cid, *f) for f in result.facts)
        got.update(
            (cid, "last_event", ch, at, None, None, None) for ch, at in result.latest.items()
        )
    assert got == in_order_facts(validator, events)
    duplicates, conflicts = outcome(batches, events)
    assert (log.summary.duplicates, log.summary.rejected) == (duplicates, conflicts)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=deliveries(), held=st.integers(1, 20), by_conversation=st.booleans())
def test_a_file_replayed_as_it_is_read_adds_up_to_a_replay_of_its_buckets(
    offline_settings, monkeypatch, case, held, by_conversation
):
    """However few events the early replay holds, and whether the file comes by
    conversation (replayed early) or not (given up, or not): the facts and open counts in
    one window are those of replaying the buckets once the file is read."""
    _events, batches = case
    items = [i for b in batches for i in b]
    if by_conversation:
        items.sort(key=lambda item: item["conversation_id"])  # stable: repeats stay later
    monkeypatch.setattr(early, "HELD", held)
    validator = Validator(offline_settings)
    window = Window(1_793_527_204_000_000, 1_793_527_210_000_000)
    with FileLog(validator, early=EarlyReplay(window)) as log:
        for item in items:
            log.add(validator.validate(item))
        opened: Counter[tuple[str, str | None]] = Counter()
        full = aggregate(counting_open(log.facts(), window.end, opened), window)
        assert log.early is not None
        replayed_early = not log.early.given_up
        got, got_opened = log.aggregate(window)
    assert (got.counts, got.flagged, got_opened) == (full.counts, full.flagged, opened)
    assert {k: sorted(v) for k, v in got.values.items()} == {
        k: sorted(v) for k, v in full.values.items()
    }
    if by_conversation and held >= 14:  # a whole conversation fits: none is met again
        assert replayed_early
