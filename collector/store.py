"""The database: the single source of truth every process reads from.

``Store.write_batch`` is the one way events get in. In one transaction it drops what was
seen before, keeps the rest, replays every conversation the batch touched, swaps that
conversation's facts and moves the all-time totals by the difference.

Concurrent writers on PostgreSQL lock rows in one order, so none waits for another in a
circle (a deadlock): events by id, then channels by name, conversations by id, the
last-event marks by channel and the totals by cell. Each step sorts its rows; a new
step that writes shared rows must sort them too and keep its place in this order.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
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
from collector.batch import CONFLICT, Batch, BatchResult, Checkpoint, Rejection, position
from collector.connect import driver_insert, placeholder
from collector.deadlines import unhurried
from collector.engine import Replay, replay
from collector.errors import StoreError, driver_message
from collector.prepare import (
    FACT_COLUMNS,
    Prepared,
    Row,
    conversation_row,
    fact_rows,
    latest_by_channel,
    prepare,
)
from collector.rollup import Cell, Layout, contributions
from collector.schema import Event
from collector.settings import Settings

CHUNK = 900  # ids per IN (...) clause, under every backend's parameter limit
EVENTS_CELL = ""  # the channel of store-wide series


class Store:
    """Reads and writes the touchmetrics database."""

    def __init__(self, engine: Engine, settings: Settings, *, probe: Engine | None = None) -> None:
        self.engine = engine
        self.reader = engine.execution_options(touchmetrics_read=True)
        # Scrapes and readiness probes read through this one (open_store gives it a small
        # pool with short limits); reads of the totals are all they do.
        self._probe_engine = probe or engine
        self.probe = self._probe_engine.execution_options(touchmetrics_read=True)
        self.settings = settings
        self.layout = Layout(settings)
        self.sqlite = engine.dialect.name == "sqlite"
        self._known_channels: set[str] = set()
        self._insert_new_events_sql = driver_insert(
            engine, t.events, suffix=" ON CONFLICT (id) DO NOTHING"
        )
        self._insert_facts = driver_insert(engine, t.facts, FACT_COLUMNS)
        self._conversation_inserts: dict[int, str] = {}  # by rows per statement
        self._mark = placeholder(engine)
        self._growth = _Growth()

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        self._probe_engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------

    def write_batch(self, batch: Batch | Prepared) -> BatchResult:
        """Commit one batch atomically and say what became of each record."""
        prepared = batch if isinstance(batch, Prepared) else prepare(batch)
        try:
            result = self._commit(prepared)
            if not self.sqlite and self._growth.due(result.accepted):
                self._analyze()
        except OperationalError as exc:
            raise StoreError(f"database unavailable: {driver_message(exc)}") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"database write failed: {driver_message(exc)}") from exc
        return result

    def _commit(self, prepared: Prepared) -> BatchResult:
        """Write in one transaction; go again when another writer stored some of the same
        ids meanwhile, so that they count as duplicates (or conflicts) this time."""
        for _attempt in range(_ATTEMPTS):
            try:
                with self.engine.begin() as conn:
                    result = self._write(conn, prepared)
            except _Raced:
                continue
            # Only once committed: a rolled-back registration must be tried again.
            self._known_channels.update(prepared.channels)
            return result
        raise StoreError(f"other writers kept storing the same event ids; tried {_ATTEMPTS} times")

    def _analyze(self) -> None:
        # PostgreSQL plans for the table sizes it last measured: without fresh statistics a
        # table that grew from nothing is still "tiny" and the id lookups scan it whole
        # (an import of 33k calls took 267 s instead of seconds).
        # Maintenance, not a request: it may take longer than a statement should.
        with self.engine.begin() as conn, unhurried(conn):
            conn.execute(text("ANALYZE events, conversations, facts"))

    def _write(self, conn: Any, p: Prepared) -> BatchResult:
        result = BatchResult(rejections=list(p.rejections), duplicates=p.duplicates)
        fresh, touched = self._insert_events(conn, p, result)
        cells: Counter[Cell] = Counter()
        if fresh:
            self._register_channels(conn, p.channels)
            cells = self._derive(conn, p, fresh, touched)
        result.accepted = len(fresh)
        if result.rejections:
            conn.execute(
                t.quarantine.insert(), [_quarantine_row(r, p.received) for r in result.rejections]
            )
        cells[(EVENTS_CELL, "events", "accepted")] += result.accepted
        cells[(EVENTS_CELL, "events", "duplicate")] += result.duplicates
        cells[(EVENTS_CELL, "events", "rejected")] += len(result.rejections)
        self._add_totals(conn, cells)
        if p.checkpoint is not None:
            self._save_checkpoint(conn, p.checkpoint, p.received)
        return result

    def _insert_events(
        self, conn: Any, p: Prepared, result: BatchResult
    ) -> tuple[list[Row], set[str] | None]:
        """Insert the events whose id is new; return them with the conversations they touch
        (None: all of the batch's). A stored id counts as a duplicate, or as a conflict
        when its content differs."""
        if not p.rows:
            return [], None
        if not self.sqlite:
            fresh, touched = self._sorted_out(p, self._stored(conn, p.rows), result)
            # An id another writer inserts after the look-up makes this insert wait for that
            # writer's commit, then skip the row. Ids in order: no two inserts wait in a circle.
            if fresh:
                inserted = conn.exec_driver_sql(self._insert_new_events_sql, fresh).rowcount
                if inserted != len(fresh):
                    raise _Raced
            return fresh, touched
        # SQLite writers take turns, so rows above the highest rowid before the insert are
        # this batch's: one look up per batch replaces one per event in the usual case,
        # where every id is new.
        before = conn.exec_driver_sql("SELECT max(rowid) FROM events").scalar() or 0
        inserted = conn.exec_driver_sql(self._insert_new_events_sql, p.rows).rowcount
        if inserted == len(p.rows):
            return p.rows, None
        return self._sorted_out(p, self._stored(conn, p.rows, f"rowid <= {int(before)}"), result)

    def _stored(self, conn: Any, rows: list[Row], condition: str = "") -> dict[str, str]:
        """The content hash of each of these rows' ids that is stored (and meets condition)."""
        seen: dict[str, str] = {}
        where = f" AND {condition}" if condition else ""
        for chunk in _chunks([row[0] for row in rows], CHUNK):
            # Driver SQL: SQLAlchemy coerces every IN element, a cost per event (_driver_insert).
            marks = self._marks(len(chunk))
            query = f"SELECT id, content_hash FROM events WHERE id IN ({marks}){where}"
            seen.update(conn.exec_driver_sql(query, tuple(chunk)).all())
        return seen

    def _sorted_out(
        self, p: Prepared, seen: dict[str, str], result: BatchResult
    ) -> tuple[list[Row], set[str] | None]:
        """The rows whose id was not seen, and their conversations; count the others."""
        if not seen:
            return p.rows, None
        fresh: list[Row] = []
        for row, line in zip(p.rows, p.lines, strict=True):
            known = seen.get(row[0])
            if known is None:
                fresh.append(row)
            elif known == row[_HASH]:
                result.duplicates += 1
            else:
                where = position(p.source, line)
                result.rejections.append(Rejection(p.source, where, row[_RAW], CONFLICT, row[0]))
        return fresh, {row[1] for row in fresh}

    def _derive(
        self, conn: Any, p: Prepared, fresh: list[Row], touched: set[str] | None
    ) -> Counter[Cell]:
        """Store the prepared conversations that are new; replay the others from the store.
        Returns the change in totals."""
        rows = p.conversations
        if touched is not None:
            rows = [row for row in rows if row[0] in touched]
        inserted = self._insert_conversations(conn, rows)
        cells: Counter[Cell] = Counter()
        if len(inserted) == len(p.conversations):  # the usual case: all of them are new
            facts, latest = p.facts, _merged(p.latest)
        else:
            facts = [row for row in p.facts if row[0] in inserted]
            latest = _merged(
                [m for row, m in zip(p.conversations, p.latest, strict=True) if row[0] in inserted]
            )
            existing = sorted(row[0] for row in rows if row[0] not in inserted)
            if existing:
                self._replay_stored(conn, existing, fresh, facts, cells, latest)
        # Counted here rather than while preparing: the reading process is the busier one.
        cells.update(contributions(facts, self.layout))
        if facts:
            conn.exec_driver_sql(self._insert_facts, facts)
        self._mark_last_events(conn, latest)
        return cells

    def _replay_stored(
        self,
        conn: Any,
        ids: list[str],
        fresh: list[Row],
        facts: list[Row],
        cells: Counter[Cell],
        latest: dict[str, int],
    ) -> None:
        """Replay conversations that were already stored, from all their stored events: swap
        their facts (adding the new ones to ``facts``), take the old ones from the totals
        and raise the latest event times."""
        self._lock_conversations(conn, ids)
        cells.update(contributions(self._load_facts(conn, ids), self.layout, sign=-1))
        for chunk in _chunks(ids, CHUNK):
            conn.execute(delete(t.facts).where(t.facts.c.conversation_id.in_(chunk)))
        stored = self._load_events(conn, ids)
        replays = {cid: replay(stored[cid]) for cid in ids}
        conn.execute(
            update(t.conversations).where(t.conversations.c.id == bindparam("b_id")),
            [_conversation_update(cid, replays[cid], stored[cid]) for cid in ids],
        )
        for cid, result in replays.items():
            facts.extend(fact_rows(cid, result))
        arrived: dict[str, list[Event]] = defaultdict(list)
        for row in fresh:
            if row[1] in replays:
                arrived[row[1]].append(Event._make(row[: len(Event._fields)]))
        for cid, events in arrived.items():
            _raise_latest(latest, latest_by_channel(events, replays[cid].channel))

    def _insert_conversations(self, conn: Any, rows: list[Row]) -> set[str]:
        """Insert the conversations that are not stored yet; return the ids inserted."""
        inserted: set[str] = set()
        for chunk in _chunks(rows, _CONVERSATIONS_PER_INSERT):
            statement = self._conversation_inserts.get(len(chunk))
            if statement is None:
                statement = self._conversation_inserts[len(chunk)] = driver_insert(
                    self.engine, t.conversations, rows=len(chunk), suffix=_IF_NEW
                )
            flat = tuple(value for row in chunk for value in row)
            inserted.update(r[0] for r in conn.exec_driver_sql(statement, flat))
        return inserted

    def _lock_conversations(self, conn: Any, ids: list[str]) -> None:
        # Two writers touching one conversation must replay it one after the other.
        if self.sqlite:
            return  # BEGIN IMMEDIATE already serialises writers
        for chunk in _chunks(ids, CHUNK):
            conn.execute(
                select(t.conversations.c.id)
                .where(t.conversations.c.id.in_(chunk))
                # Code point order, as Python sorts them everywhere else.
                .order_by(t.conversations.c.id.collate("C"))
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
        columns = [t.facts.c[name] for name in FACT_COLUMNS]
        found: list[tuple[Any, ...]] = []
        for chunk in _chunks(ids, CHUNK):
            query = select(*columns).where(t.facts.c.conversation_id.in_(chunk))
            found.extend(tuple(row) for row in conn.execute(query))
        return found

    def _register_channels(self, conn: Any, named: dict[str, tuple[str | None, int]]) -> None:
        """Remember the first kind seen for each channel (declared ones keep their own)."""
        new = sorted(name for name in named if name not in self._known_channels)
        if new:
            rows = [{"name": n, "kind": named[n][0], "first_seen": named[n][1]} for n in new]
            conn.execute(self._insert(t.channels).on_conflict_do_nothing(), rows)

    def _add_totals(self, conn: Any, cells: Counter[tuple[str, str, str]]) -> None:
        rows = [
            {"channel": ch, "series": series, "label": label, "value": amount}
            for (ch, series, label), amount in sorted(cells.items())
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
                    for ch, ts in sorted(latest.items())
                ],
            )

    @contextmanager
    def _reading(self, probe: bool = False) -> Iterator[Any]:
        """A read-only connection (of the probe engine if asked); database errors become
        StoreError."""
        try:
            with (self.probe if probe else self.reader).connect() as conn:
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
            return self._kinds(conn)

    def _kinds(self, conn: Any) -> dict[str, str]:
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

    def totals(self) -> dict[Cell, float]:
        """The all-time totals, by (channel, series, label)."""
        with self._reading() as conn:
            return self._totals(conn)

    def _totals(self, conn: Any) -> dict[Cell, float]:
        return {(r.channel, r.series, r.label): r.value for r in conn.execute(select(t.rollups))}

    def snapshot(self, *, probe: bool = False) -> tuple[dict[Cell, float], dict[str, str]]:
        """The totals and the channel kinds on one connection (the probe engine's if asked):
        a scrape's every round trip to the database is one more wait for its thread."""
        with self._reading(probe) as conn:
            # Totals first: a channel is registered in the same transaction that first
            # counts it, so kinds read afterwards always cover every channel they name.
            totals = self._totals(conn)
            return totals, self._kinds(conn)

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


class _Raced(Exception):
    """Another writer committed some of this batch's new ids first; write it again."""


_ATTEMPTS = 3  # writes of one batch that lost such a race, before giving up
_HASH = Event._fields.index("content_hash")  # where an events row holds these
_RAW = len(Event._fields)
_CONVERSATIONS_PER_INSERT = 100  # rows per multi-row INSERT: 700 parameters
_IF_NEW = " ON CONFLICT (id) DO NOTHING RETURNING id"


def _conversation_update(cid: str, r: Replay, events: Sequence[Any]) -> dict[str, Any]:
    row = dict(zip(_CONVERSATION_COLUMNS, conversation_row(cid, r, events), strict=True))
    row["b_id"] = row.pop("id")
    return row


_CONVERSATION_COLUMNS = [c.name for c in t.conversations.columns]


def _merged(latest: Iterable[dict[str, int]]) -> dict[str, int]:
    """The latest event per channel over several conversations."""
    out: dict[str, int] = {}
    for each in latest:
        _raise_latest(out, each)
    return out


def _raise_latest(into: dict[str, int], more: dict[str, int]) -> None:
    for channel, ts in more.items():
        if ts > into.get(channel, -1):
            into[channel] = ts


def _quarantine_row(r: Rejection, received: int) -> dict[str, Any]:
    return {
        "source": r.source,
        "position": r.position,
        "raw": r.raw,
        "reason": r.reason,
        "received_at": received,
    }


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
