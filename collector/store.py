"""The database: the single source of truth every process reads from.

``Store.write_batch`` is the one way events get in. In one transaction it drops what was
seen before, keeps the rest, replays every conversation the batch touched, swaps that
conversation's facts and moves the all-time totals by the difference.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    Engine,
    Table,
    bindparam,
    case,
    delete,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from collector import tables as t
from collector.batch import Batch, BatchResult, Checkpoint, Incoming, Rejection, now_us
from collector.connect import driver_insert, placeholder
from collector.engine import Fact, replay
from collector.errors import StoreError, driver_message
from collector.rollup import Layout, contributions
from collector.schema import Event
from collector.settings import Settings

CHUNK = 900  # ids per IN (...) clause, under every backend's parameter limit
EVENTS_CELL = ""  # the channel of store-wide series


class Store:
    """Reads and writes the touchmetrics database."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.reader = engine.execution_options(touchmetrics_read=True)
        self.settings = settings
        self.layout = Layout(settings)
        self.sqlite = engine.dialect.name == "sqlite"
        self._known_channels: set[str] = set()
        self._insert_events = driver_insert(engine, t.events)
        self._insert_facts = driver_insert(engine, t.facts, _FACT_COLUMNS)
        self._mark = placeholder(engine)
        self._growth = _Growth()

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------

    def write_batch(self, batch: Batch) -> BatchResult:
        """Commit one batch atomically and say what became of each record."""
        try:
            with self.engine.begin() as conn:
                result = self._write(conn, batch)
            if not self.sqlite and self._growth.due(result.accepted):
                self._analyze()
        except OperationalError as exc:
            raise StoreError(f"database unavailable: {driver_message(exc)}") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"database write failed: {driver_message(exc)}") from exc
        return result

    def _analyze(self) -> None:
        # PostgreSQL plans for the table sizes it last measured: without fresh statistics a
        # table that grew from nothing is still "tiny" and the id lookups scan it whole
        # (an import of 33k calls took 267 s instead of seconds).
        with self.engine.connect() as conn:
            conn.execute(text("ANALYZE events, conversations, facts"))
            conn.commit()

    def _write(self, conn: Any, batch: Batch) -> BatchResult:
        result = BatchResult(rejections=list(batch.rejections))
        fresh = self._deduplicate(conn, batch, result)
        received = now_us()
        events = [item.event for item in fresh]
        cells: Counter[tuple[str, str, str]] = Counter()
        if fresh:
            rows = [(*i.event, i.raw, batch.source, received) for i in fresh]
            # In key order, inserts walk the id index's pages once instead of jumping around.
            rows.sort(key=_first)
            conn.exec_driver_sql(self._insert_events, rows)
            self._register_channels(conn, events)
            cells = self._derive(conn, events)
        result.accepted = len(fresh)
        result.accepted_ids = [e.id for e in events]
        if result.rejections:
            conn.execute(
                t.quarantine.insert(), [_quarantine_row(r, received) for r in result.rejections]
            )
        cells[(EVENTS_CELL, "events", "accepted")] += result.accepted
        cells[(EVENTS_CELL, "events", "duplicate")] += result.duplicates
        cells[(EVENTS_CELL, "events", "rejected")] += len(result.rejections)
        self._add_totals(conn, cells)
        if batch.checkpoint is not None:
            self._save_checkpoint(conn, batch.checkpoint, received)
        return result

    def _deduplicate(self, conn: Any, batch: Batch, result: BatchResult) -> list[Incoming]:
        """Keep events whose id is new; count repeats; reject ids reused for other content."""
        seen: dict[str, str] = {}
        for chunk in _chunks(list({item.event.id for item in batch.events}), CHUNK):
            # Driver SQL: SQLAlchemy coerces every IN element, a cost per event (_driver_insert).
            query = f"SELECT id, content_hash FROM events WHERE id IN ({self._marks(len(chunk))})"
            seen.update(conn.exec_driver_sql(query, tuple(chunk)).all())
        fresh: list[Incoming] = []
        for item in batch.events:
            known = seen.get(item.event.id)
            if known is None:
                seen[item.event.id] = item.event.content_hash
                fresh.append(item)
            elif known == item.event.content_hash:
                result.duplicates += 1
            else:
                reason = "field `id`: already used by an event with different content (conflict)"
                result.rejections.append(
                    Rejection(batch.source, item.position, item.raw, reason, item.event.id)
                )
        return fresh

    def _derive(self, conn: Any, fresh: Sequence[Event]) -> Counter[tuple[str, str, str]]:
        """Replay every touched conversation; store its facts; return the change in totals."""
        by_conversation: dict[str, list[Any]] = defaultdict(list)
        for event_ in fresh:
            by_conversation[event_.conversation_id].append(event_)
        replays = {cid: replay(evs) for cid, evs in by_conversation.items()}
        rows = [_conversation_row(cid, replays[cid], evs) for cid, evs in by_conversation.items()]
        inserted = (
            set(
                conn.execute(
                    self._insert(t.conversations)
                    .on_conflict_do_nothing()
                    .returning(t.conversations.c.id),
                    rows,
                ).scalars()
            )
            if rows
            else set()
        )
        existing = sorted(cid for cid in by_conversation if cid not in inserted)
        cells: Counter[tuple[str, str, str]] = Counter()
        if existing:
            self._lock_conversations(conn, existing)
            old = self._load_facts(conn, existing)
            cells.update(contributions(old, self.layout, sign=-1))
            for chunk in _chunks(existing, CHUNK):
                conn.execute(delete(t.facts).where(t.facts.c.conversation_id.in_(chunk)))
            stored = self._load_events(conn, existing)
            for cid in existing:
                replays[cid] = replay(stored[cid])
            conn.execute(
                update(t.conversations).where(t.conversations.c.id == bindparam("b_id")),
                [_conversation_update(cid, replays[cid], stored[cid]) for cid in existing],
            )
        fact_rows = [(cid, *f, r.topic) for cid, r in replays.items() for f in r.facts]
        if fact_rows:
            conn.exec_driver_sql(self._insert_facts, fact_rows)
        cells.update(
            contributions(
                (
                    (f.kind, f.channel, f.value, f.flag, f.label)
                    for r in replays.values()
                    for f in r.facts
                ),
                self.layout,
            )
        )
        self._mark_last_events(conn, _latest_by_channel(by_conversation, replays))
        return cells

    def _lock_conversations(self, conn: Any, ids: list[str]) -> None:
        # Two writers touching one conversation must replay it one after the other.
        if self.sqlite:
            return  # BEGIN IMMEDIATE already serialises writers
        for chunk in _chunks(ids, CHUNK):
            conn.execute(
                select(t.conversations.c.id)
                .where(t.conversations.c.id.in_(chunk))
                .order_by(t.conversations.c.id)
                .with_for_update()
            ).all()

    def _load_events(self, conn: Any, ids: list[str]) -> dict[str, list[Any]]:
        found: dict[str, list[Any]] = defaultdict(list)
        columns = [t.events.c[name] for name in _APPLIED_COLUMNS]
        for chunk in _chunks(ids, CHUNK):
            for row in conn.execute(select(*columns).where(t.events.c.conversation_id.in_(chunk))):
                found[row.conversation_id].append(row)
        return found

    def _load_facts(self, conn: Any, ids: list[str]) -> list[tuple[Any, ...]]:
        c = t.facts.c
        found: list[tuple[Any, ...]] = []
        for chunk in _chunks(ids, CHUNK):
            query = select(c.kind, c.channel, c.value, c.flag, c.label).where(
                c.conversation_id.in_(chunk)
            )
            found.extend(tuple(row) for row in conn.execute(query))
        return found

    def _register_channels(self, conn: Any, fresh: Sequence[Event]) -> None:
        """Remember the first kind seen for each channel (declared ones keep their own)."""
        new: dict[str, dict[str, Any]] = {}
        for event_ in fresh:
            name = event_.channel
            if name is not None and name not in self._known_channels and name not in new:
                new[name] = {"name": name, "kind": event_.kind, "first_seen": event_.ts}
        if new:
            conn.execute(self._insert(t.channels).on_conflict_do_nothing(), list(new.values()))
            self._known_channels.update(new)

    def _add_totals(self, conn: Any, cells: Counter[tuple[str, str, str]]) -> None:
        rows = [
            {"channel": ch, "series": series, "label": label, "value": amount}
            for (ch, series, label), amount in cells.items()
            if amount != 0
        ]
        if rows:
            ins = self._insert(t.rollups)
            conn.execute(
                ins.on_conflict_do_update(
                    index_elements=["channel", "series", "label"],
                    set_={"value": t.rollups.c.value + ins.excluded.value},
                ),
                rows,
            )

    def _mark_last_events(self, conn: Any, latest: dict[str, int]) -> None:
        """Raise each channel's latest event time; a late event never lowers it."""
        if latest:
            ins = self._insert(t.rollups)
            value = t.rollups.c.value
            conn.execute(
                ins.on_conflict_do_update(
                    index_elements=["channel", "series", "label"],
                    set_={
                        "value": case((ins.excluded.value > value, ins.excluded.value), else_=value)
                    },
                ),
                [
                    {"channel": ch, "series": "last_event", "label": "", "value": ts / 1e6}
                    for ch, ts in latest.items()
                ],
            )

    @contextmanager
    def _reading(self) -> Iterator[Any]:
        """A read-only connection; database errors become StoreError."""
        try:
            with self.reader.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"database unavailable: {driver_message(exc)}") from exc

    def _save_checkpoint(self, conn: Any, cp: Checkpoint, at: int) -> None:
        ins = self._insert(t.imports)
        values = {
            "fingerprint": cp.fingerprint,
            "offset": cp.offset,
            "line": cp.line,
            "updated_at": at,
        }
        conn.execute(
            ins.values(source=cp.source, **values).on_conflict_do_update(
                index_elements=["source"], set_=values
            )
        )

    def _marks(self, count: int) -> str:
        return ", ".join([self._mark] * count)

    def _insert(self, table: Table) -> Any:
        return sqlite_insert(table) if self.sqlite else pg_insert(table)

    # -- reading -----------------------------------------------------------------------

    def checkpoint(self, source: str) -> Checkpoint | None:
        with self._reading() as conn:
            row = conn.execute(select(t.imports).where(t.imports.c.source == source)).first()
        return Checkpoint(source, row.fingerprint, row.offset, row.line) if row else None

    def channel_kinds(self) -> dict[str, str]:
        """Every known channel's kind: declared ones from configuration, others as first seen."""
        with self._reading() as conn:
            seen = {row.name: row.kind for row in conn.execute(select(t.channels))}
        seen.update(self.settings.channel_kinds())
        return seen

    def facts(self, start: int | None = None, end: int | None = None) -> Iterator[tuple[Any, ...]]:
        """Facts at instants in [start, end): (kind, channel, at, value, flag, label, topic)."""
        c = t.facts.c
        query = select(c.kind, c.channel, c.at, c.value, c.flag, c.label, c.topic)
        if start is not None:
            query = query.where(c.at >= start)
        if end is not None:
            query = query.where(c.at < end)
        with self._reading() as conn:
            for row in conn.execution_options(yield_per=10_000).execute(query):
                yield tuple(row)

    def totals(self) -> dict[tuple[str, str, str], float]:
        """The all-time totals, by (channel, series, label)."""
        with self._reading() as conn:
            return {
                (r.channel, r.series, r.label): r.value for r in conn.execute(select(t.rollups))
            }

    def event_counts(self) -> dict[str, int]:
        totals = self.totals()
        return {
            "accepted": int(totals.get((EVENTS_CELL, "events", "accepted"), 0)),
            "duplicates": int(totals.get((EVENTS_CELL, "events", "duplicate"), 0)),
            "rejected": int(totals.get((EVENTS_CELL, "events", "rejected"), 0)),
        }

    def quarantined(self, limit: int | None = None) -> list[Any]:
        query = select(t.quarantine).order_by(t.quarantine.c.id)
        if limit is not None:
            query = query.limit(limit)
        with self._reading() as conn:
            return list(conn.execute(query))


_APPLIED_COLUMNS = (
    "conversation_id",
    "id",
    "type",
    "ts",
    "channel",
    "author",
    "public",
    "score",
    "scale",
    "topic",
)


# The columns of a fact row: the conversation, then engine.Fact's fields in order, then topic.
_FACT_COLUMNS = ("conversation_id", *Fact._fields, "topic")


_first = itemgetter(0)  # an event row's id: Event's fields are the first columns of events


def _conversation_row(cid: str, r: Any, events: Sequence[Any]) -> dict[str, Any]:
    return {
        "id": cid, "channel": r.channel, "active": r.active, "topic": r.topic,
        "started_at": r.started_at, "last_event_at": max(e.ts for e in events),
        "events": len(events),
    }  # fmt: skip


def _conversation_update(cid: str, r: Any, events: Sequence[Any]) -> dict[str, Any]:
    row = _conversation_row(cid, r, events)
    row["b_id"] = row.pop("id")
    return row


def _quarantine_row(r: Rejection, received: int) -> dict[str, Any]:
    return {
        "source": r.source,
        "position": r.position,
        "raw": r.raw,
        "reason": r.reason,
        "received_at": received,
    }


def _latest_by_channel(
    by_conversation: dict[str, list[Any]], replays: dict[str, Any]
) -> dict[str, int]:
    """The latest new event per channel; an event that names none is in its conversation's."""
    latest: dict[str, int] = {}
    for cid, events in by_conversation.items():
        current = replays[cid].channel
        for event_ in events:
            channel = event_.channel or current
            if channel is not None and event_.ts > latest.get(channel, -1):
                latest[channel] = event_.ts
    return latest


class _Growth:
    """Says when this process has written enough rows for fresh planner statistics:
    10,000 events, then each time the count doubles, so a long import analyses a few times."""

    def __init__(self) -> None:
        self.written = 0
        self.next_at = 10_000

    def due(self, accepted: int) -> bool:
        self.written += accepted
        if self.written < self.next_at:
            return False
        self.next_at = 2 * self.written
        return True


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
