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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from collector.batch import CONFLICT, Batch, Checkpoint, Incoming, Rejection, now_us, position
from collector.engine import Fact, Replay, replay

Row = tuple[Any, ...]


@dataclass(slots=True)
class Prepared:
    """A batch laid out as table rows; conversations as if each were new to the store."""

    source: str
    rows: list[Row] = field(default_factory=list)  # events rows, one per id, in id order
    lines: list[int] = field(default_factory=list)  # the line (or index) each row was read at
    rejections: list[Rejection] = field(default_factory=list)
    duplicates: int = 0  # repeats of an id within the batch, with the same content
    conversations: list[Row] = field(default_factory=list)  # conversations rows, in id order
    latest: list[dict[str, int]] = field(default_factory=list)  # per conversation row
    facts: list[Row] = field(default_factory=list)  # facts rows of those conversations
    channels: dict[str, tuple[str | None, int]] = field(default_factory=dict)  # kind, first
    checkpoint: Checkpoint | None = None
    received: int = 0  # microseconds since the epoch, in every events row


def prepare(batch: Batch, received: int | None = None) -> Prepared:
    """Lay out one batch; ``received`` (microseconds) defaults to now."""
    out = Prepared(batch.source, rejections=list(batch.rejections), checkpoint=batch.checkpoint)
    out.received = now_us() if received is None else received
    kept = _first_of_each_id(batch, out)
    out.channels = _channels(kept)  # in arrival order: a channel keeps the first kind named
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
        out.latest.append(latest_by_channel(events, result.channel))
        out.facts.extend(fact_rows(cid, result))
    return out


def _first_of_each_id(batch: Batch, out: Prepared) -> list[Incoming]:
    """The first event of each id; later ones count as duplicates or conflicts."""
    if len({event.id for event, _raw, _line in batch.events}) == len(batch.events):
        return list(batch.events)  # the usual batch: no id twice
    hashes: dict[str, str] = {}
    kept: list[Incoming] = []
    for item in batch.events:
        known = hashes.get(item.event.id)
        if known is None:
            hashes[item.event.id] = item.event.content_hash
            kept.append(item)
        elif known == item.event.content_hash:
            out.duplicates += 1
        else:
            out.rejections.append(
                Rejection(
                    batch.source,
                    position(batch.source, item.line),
                    item.raw,
                    CONFLICT,
                    item.event.id,
                )
            )
    return kept


def conversation_row(cid: str, result: Replay, events: Sequence[Any]) -> Row:
    """A conversations row: id, channel, active, topic, started_at, last_event_at, events."""
    last = max(e.ts for e in events)
    return (cid, result.channel, result.active, result.topic, result.started_at, last, len(events))


def fact_rows(cid: str, result: Replay) -> list[Row]:
    """Facts rows: the conversation, engine.Fact's fields, then the conversation's topic."""
    topic = result.topic
    return [(cid, *fact, topic) for fact in result.facts]


def latest_by_channel(events: Sequence[Any], current: str | None) -> dict[str, int]:
    """The latest of these events per channel; one that names none is in ``current``."""
    latest: dict[str, int] = {}
    for event_ in events:
        channel = event_.channel or current
        if channel is not None and event_.ts > latest.get(channel, -1):
            latest[channel] = event_.ts
    return latest


def _channels(kept: Sequence[Incoming]) -> dict[str, tuple[str | None, int]]:
    """Each channel named in the batch, with the kind and time it was first named with."""
    seen: dict[str, tuple[str | None, int]] = {}
    for item in kept:
        name = item.event.channel
        if name is not None and name not in seen:
            seen[name] = (item.event.kind, item.event.ts)
    return seen


def _event_id(item: Incoming) -> str:
    return item.event.id


# A facts row: the conversation, then engine.Fact's fields in order, then its topic.
FACT_COLUMNS = ("conversation_id", *Fact._fields, "topic")
