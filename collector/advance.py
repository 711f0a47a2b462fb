"""Bringing conversations already stored up to date with a batch's events.

Each stored conversation keeps its engine.Machine (``conversations.state``). When every
event a batch brings to it sorts after the last one applied, those events are applied to
that machine: only their new facts are written, and the totals move by those alone (and
by the swap of the rating's fact when a newer rating came). Any other conversation (an
event sorting before the last applied one, no saved state, a record of it turned away)
is replayed from all its stored events, its facts swapped whole.

The conversations are locked and their state read in one statement (``read_states``): a
writer waiting for the lock then reads what the other committed, events included.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, delete, select, update

from collector import tables as t
from collector.connect import CHUNK
from collector.connect import chunks as _chunks
from collector.engine import CSAT, Applied, Machine, Replay, replay, sort_key
from collector.prepare import FACT_COLUMNS, Row, conversation_row, fact_rows, latest_rows
from collector.rollup import Cell, Layout, SlotCell, contributions
from collector.schema import Event

Changes = tuple[Counter[Cell], Counter[SlotCell]]  # the totals' and the hourly totals'


@dataclass(slots=True)
class Advanced:
    """What applying the batch's events produced, for the caller to write."""

    facts: list[Row] = field(default_factory=list)  # the new facts rows
    latest: list[Row] = field(default_factory=list)  # last_events rows to raise
    replay: list[str] = field(default_factory=list)  # conversations to replay instead


def bring_up_to_date(
    conn: Any,
    ids: list[str],
    kept: tuple[Sequence[Row], set[str]],
    layout: Layout,
    changes: Changes,
    *,
    lock: bool,
) -> Advanced:
    """Lock these stored conversations (with ``lock``) and bring them up to date with their
    events among the batch's rows ``kept[0]``: from their saved state where it can be done,
    else by replaying (always, for those in ``kept[1]``: a record of theirs was turned
    away). Writes their conversations rows and takes the facts it deletes from the totals
    (``changes``); returns the facts and last_events rows to add."""
    rows, refused = kept
    states = read_states(conn, ids, lock=lock)
    events: dict[str, list[Applied]] = defaultdict(list)
    for row in rows:
        if row[1] in states and row[1] not in refused:
            events[row[1]].append(Event._make(row[:_EVENT_WIDTH]))
    out = advance(conn, {cid: states[cid] for cid in events}, events, layout, changes)
    out.replay = sorted({*out.replay, *(cid for cid in ids if cid not in events)})
    if out.replay:
        replay_stored(conn, out, layout, changes)
    return out


Saved = tuple[str | None, str | None]  # a conversation's state and topic


def read_states(conn: Any, ids: Sequence[str], *, lock: bool) -> dict[str, Saved]:
    """Each conversation's saved state and topic, locking its row first (``lock``) in id
    order, so two writers sharing conversations never wait for each other in a circle."""
    c = t.conversations.c
    found: dict[str, Saved] = {}
    for chunk in _chunks(ids, CHUNK):
        query = select(c.id, c.state, c.topic).where(c.id.in_(chunk))
        if lock:
            # Code point order, as Python sorts them everywhere else.
            query = query.order_by(c.id.collate("C")).with_for_update()
        found.update((row.id, (row.state, row.topic)) for row in conn.execute(query))
    return found


def advance(
    conn: Any,
    states: dict[str, Saved],
    events: dict[str, list[Applied]],
    layout: Layout,
    changes: Changes,
) -> Advanced:
    """Apply each conversation's ``events`` to its saved state where they all sort after
    it; update those conversations and take replaced ratings from the totals. The rest are
    listed in ``Advanced.replay``."""
    out = Advanced()
    updates: list[dict[str, Any]] = []
    rerated: list[Row] = []  # the rating facts a newer rating replaces
    for cid in sorted(states):
        machine = Machine.load(*states[cid])
        ordered = sorted(events[cid], key=sort_key)
        if machine is None or machine.last is None or sort_key(ordered[0]) <= machine.last:
            out.replay.append(cid)
            continue
        before = machine.csat
        for event in ordered:
            out.facts.extend((cid, *fact) for fact in machine.apply(event))
        if machine.csat is not before:
            if before is not None:
                rerated.append((cid, *before))
            if machine.csat is not None:
                out.facts.append((cid, *machine.csat))
        out.latest.extend(latest_rows(cid, machine.latest))
        updates.append(_update(cid, machine, len(ordered)))
    if rerated:
        changes[0].update(contributions(rerated, layout, sign=-1, slots=changes[1]))
        for chunk in _chunks([row[0] for row in rerated], CHUNK):
            f = t.facts.c
            conn.execute(delete(t.facts).where(f.conversation_id.in_(chunk), f.kind == CSAT))
    if updates:
        conn.execute(_UPDATE, updates)
    return out


def replay_stored(conn: Any, out: Advanced, layout: Layout, changes: Changes) -> None:
    """Replay the conversations ``out.replay`` from all their stored events: swap their
    facts and last_events rows (adding the new ones to ``out``) and take the old facts from
    the totals."""
    ids = out.replay
    old = _load_facts(conn, ids)
    changes[0].update(contributions(old, layout, sign=-1, slots=changes[1]))
    for chunk in _chunks(ids, CHUNK):
        conn.execute(delete(t.facts).where(t.facts.c.conversation_id.in_(chunk)))
        conn.execute(delete(t.last_events).where(t.last_events.c.conversation_id.in_(chunk)))
    stored = _load_events(conn, ids)
    replays = {cid: replay(stored[cid]) for cid in ids}
    conn.execute(
        update(t.conversations).where(t.conversations.c.id == bindparam("b_id")),
        [_replayed(cid, replays[cid], stored[cid]) for cid in ids],
    )
    for cid, result in replays.items():
        out.facts.extend(fact_rows(cid, result))
        out.latest.extend(latest_rows(cid, result.latest))


def _load_events(conn: Any, ids: list[str]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = defaultdict(list)
    columns = [t.events.c[name] for name in _APPLIED_COLUMNS]
    for chunk in _chunks(ids, CHUNK):
        for row in conn.execute(select(*columns).where(t.events.c.conversation_id.in_(chunk))):
            found[row.conversation_id].append(row)
    return found


def _load_facts(conn: Any, ids: list[str]) -> list[tuple[Any, ...]]:
    columns = [t.facts.c[name] for name in FACT_COLUMNS]
    found: list[tuple[Any, ...]] = []
    for chunk in _chunks(ids, CHUNK):
        query = select(*columns).where(t.facts.c.conversation_id.in_(chunk))
        found.extend(tuple(row) for row in conn.execute(query))
    return found


def _replayed(cid: str, r: Replay, events: Sequence[Any]) -> dict[str, Any]:
    row = dict(zip(_CONVERSATION_COLUMNS, conversation_row(cid, r, events), strict=True))
    row["b_id"] = row.pop("id")
    return row


_CONVERSATION_COLUMNS = [c.name for c in t.conversations.columns]
_APPLIED_COLUMNS = (
    "conversation_id", "id", "type", "ts", "channel", "author", "public", "score", "scale",
    "topic",
)  # fmt: skip
_EVENT_WIDTH = len(Event._fields)  # an events row begins with the Event's fields


def _update(cid: str, machine: Machine, count: int) -> dict[str, Any]:
    state = machine.state
    assert machine.last is not None
    return {
        "b_id": cid,
        "channel": state.channel,
        "active": state.active,
        "topic": machine.topic,
        "started_at": machine.started_at,
        "last_event_at": machine.last[0],  # applied in time order: the last is the latest
        "b_count": count,
        "state": machine.dump(),
    }


_c = t.conversations.c
_UPDATE = (
    update(t.conversations)
    .where(_c.id == bindparam("b_id"))
    .values(events=_c.events + bindparam("b_count"))
)
