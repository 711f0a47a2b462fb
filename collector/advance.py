"""Applying a batch's events to conversations already stored, from their saved state.

Each stored conversation keeps its engine.Machine (``conversations.state``). When every
event a batch brings to it sorts after the last one applied, those events are applied to
that machine: only their new facts are written, and the totals move by those alone (and
by the swap of the rating's fact when a newer rating came). Any other conversation (an
event sorting before the last applied one, no saved state) is left to be replayed from
all its stored events, as the caller does.

The caller has locked the conversations and read their state in one statement
(``read_states``): a writer waiting for the lock then reads what the other committed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, delete, select, update

from collector import tables as t
from collector.connect import CHUNK
from collector.connect import chunks as _chunks
from collector.engine import CSAT, Applied, Machine, sort_key
from collector.prepare import Row, latest_rows
from collector.rollup import Cell, Layout, SlotCell, contributions


@dataclass(slots=True)
class Advanced:
    """What applying the batch's events produced, for the caller to write."""

    facts: list[Row] = field(default_factory=list)  # the new facts rows
    latest: list[Row] = field(default_factory=list)  # last_events rows to raise
    replay: list[str] = field(default_factory=list)  # conversations to replay instead


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
    cells: Counter[Cell],
    hours: Counter[SlotCell],
) -> Advanced:
    """Apply each conversation's ``events`` to its saved state where they all sort after
    it; update those conversations and take replaced ratings from the totals (``cells``,
    ``hours``). The rest are listed in ``Advanced.replay``."""
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
        cells.update(contributions(rerated, layout, sign=-1, slots=hours))
        for chunk in _chunks([row[0] for row in rerated], CHUNK):
            f = t.facts.c
            conn.execute(delete(t.facts).where(f.conversation_id.in_(chunk), f.kind == CSAT))
    if updates:
        conn.execute(_UPDATE, updates)
    return out


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
