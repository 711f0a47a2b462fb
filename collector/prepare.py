"""A batch made ready to write: everything the batch alone decides, before the database.

``prepare`` is a pure function of the batch, so a large import runs it in a second
process (collector.reading) while the first one writes the batch before. It keeps the
first event of each id, replays every conversation the batch touches as if it were new
to the store, and lays out the rows that follow. The store then checks the ids against
what is stored, counts the totals, and corrects the few conversations that are not new
(those spanning batches, late events) by replaying them from the database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from collector.batch import Batch, Checkpoint, Incoming, Rejection, now_us
from collector.engine import Fact, Replay, replay
from collector.schema import Event

Row = tuple[Any, ...]


@dataclass(slots=True)
class Prepared:
    """A batch laid out as table rows; conversations as if each were new to the store."""

    source: str
    rows: list[Row] = field(default_factory=list)  # events rows, one per id, in id order
    lines: list[int] = field(default_factory=list)  # the line (or index) each row was read at
    rejections: list[Rejection] = field(default_factory=list)
    # Later records of an id the batch holds more than once: (id, line, raw, content hash).
    # Only the store can judge them: each is a duplicate of the content kept for its id,
    # which is the stored one if any, else the batch's first, or a conflict.
    repeats: list[tuple[str, int, str, str]] = field(default_factory=list)
    conversations: list[Row] = field(default_factory=list)  # conversations rows, in id order
    facts: list[Row] = field(default_factory=list)  # facts rows of those conversations
    latest: list[Row] = field(default_factory=list)  # their last_events rows
    channels: dict[str, tuple[str | None, int]] = field(default_factory=dict)  # kind, first
    checkpoint: Checkpoint | None = None
    received: int = 0  # microseconds since the epoch, in every events row
    records: dict[int, str] = field(default_factory=dict)  # Batch.records: taken whole


def prepare(batch: Batch, received: int | None = None) -> Prepared:
    """Lay out one batch; ``received`` (microseconds) defaults to now."""
    out = Prepared(batch.source, rejections=list(batch.rejections), checkpoint=batch.checkpoint)
    out.records = batch.records
    out.received = now_us() if received is None else received
    kept = _first_of_each_id(batch, out)
    # In arrival order: a channel keeps the first kind named.
    out.channels = first_kinds(item.event for item in kept)
    kept.sort(key=_event_id)  # in key order, inserts walk the id index's pages once
    out.rows = [(*item.event, item.raw, batch.source, out.received) for item in kept]
    out.lines = [item.line for item in kept]
    by_conversation: dict[str, list[Any]] = defaultdict(list)
    for event, _raw, _line in kept:
        by_conversation[event.conversation_id].append(event)
    # In id order, like the events: concurrent writers then lock the conversations they
    # share in one order, and never wait for each other in a circle.
    for cid in sorted(by_conversation):
        events = by_conversation[cid]
        result = replay(events)
        out.conversations.append(conversation_row(cid, result, events))
        out.facts.extend(fact_rows(cid, result))
        out.latest.extend(latest_rows(cid, result.latest))
    return out


def _first_of_each_id(batch: Batch, out: Prepared) -> list[Incoming]:
    """The first event of each id; later ones are set aside in ``out.repeats``."""
    if len({event.id for event, _raw, _line in batch.events}) == len(batch.events):
        return list(batch.events)  # the usual batch: no id twice
    seen: set[str] = set()
    kept: list[Incoming] = []
    for item in batch.events:
        event = item.event
        if event.id in seen:
            out.repeats.append((event.id, item.line, item.raw, event.content_hash))
        else:
            seen.add(event.id)
            kept.append(item)
    return kept


def conversation_row(cid: str, result: Replay, events: Sequence[Any]) -> Row:
    """A conversations row: id, channel, active, topic, started_at, last_event_at, events,
    state."""
    last = max(e.ts for e in events)
    assert result.machine is not None
    return (
        cid, result.channel, result.active, result.topic, result.started_at, last, len(events),
        result.machine.dump(),
    )  # fmt: skip


def fact_rows(cid: str, result: Replay) -> list[Row]:
    """Facts rows: the conversation, then engine.Fact's fields. The topic stays in the
    conversations row alone."""
    return [(cid, *fact) for fact in result.facts]


def latest_rows(cid: str, latest: dict[str, int]) -> list[Row]:
    """last_events rows: the conversation, a channel, its latest event there."""
    return [(cid, channel, at) for channel, at in latest.items()]


def first_kinds(events: Iterable[Event]) -> dict[str, tuple[str | None, int]]:
    """Each channel these events name, with the kind and time it was first named with."""
    seen: dict[str, tuple[str | None, int]] = {}
    for event in events:
        name = event.channel
        if name is not None and name not in seen:
            seen[name] = (event.kind, event.ts)
    return seen


def kept_channels(rows: Sequence[Row], lines: Sequence[int]) -> dict[str, tuple[str | None, int]]:
    """first_kinds of some of a batch's events rows, in the order they arrived."""
    arrival = sorted(range(len(rows)), key=lines.__getitem__)
    return first_kinds(Event._make(rows[i][:_EVENT_WIDTH]) for i in arrival)


def _event_id(item: Incoming) -> str:
    return item.event.id


_EVENT_WIDTH = len(Event._fields)  # an events row begins with the Event's fields
# A facts row: the conversation, then engine.Fact's fields in order.
FACT_COLUMNS = ("conversation_id", *Fact._fields)
