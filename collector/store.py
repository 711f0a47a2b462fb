"""The database: the single source of truth every process reads from.

``Store.write_batch`` is the one way events get in. In one transaction it drops what was
seen before, keeps the rest, and brings every conversation the batch touched up to date:
a new one from the batch alone, a stored one by applying the events to its saved state
(collector.advance), or, for a late event, by replaying it from all its stored events and
swapping its facts; the all-time totals move by the difference.

Concurrent writers on PostgreSQL lock rows in one order, so none waits for another in a
circle (a deadlock): events by id, then channels by name, conversations by id (a stored
conversation's row is locked before its state is read, so the second of two writers
reads what the first committed), then the rows of those conversations alone (facts,
last_events), and the totals by cell. Each step sorts its rows; a new step that writes
shared rows must sort them too and keep its place in this order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Engine,
    Table,
    delete,
    func,
    null,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from collector import bulk
from collector import tables as t
from collector.advance import bring_up_to_date
from collector.batch import (
    CONFLICT,
    Batch,
    BatchResult,
    Checkpoint,
    GroupedPass,
    Rejection,
    position,
)
from collector.connect import CHUNK, driver_insert, placeholder
from collector.connect import chunks as _chunks
from collector.deadlines import unhurried
from collector.engine import ENTERED, LAST_EVENT, SEGMENT
from collector.errors import StoreError, driver_message
from collector.prepare import FACT_COLUMNS, Prepared, Row, kept_channels, prepare
from collector.rollup import GAUGES, Cell, Layout, SlotCell, contributions
from collector.schema import Event
from collector.settings import Settings
from collector.sortout import sort_out

_HASH = Event._fields.index("content_hash")  # where an events row holds its content hash
EVENTS_CELL = ""  # the channel of store-wide series


@dataclass(slots=True)
class _Kept:
    """The events rows of a batch whose id was new to the store, with their lines."""

    rows: list[Row]
    lines: list[int]
    refused: set[str] | None  # conversations of the rows turned away; None: none were


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
        # Raised, never lowered: a replayed conversation's rows are deleted first.
        self._raise_latest_sql = self._upsert(
            t.last_events,
            " ON CONFLICT (conversation_id, channel) DO UPDATE SET at = CASE"
            " WHEN excluded.at > last_events.at THEN excluded.at ELSE last_events.at END",
        )
        # SET reads the row as it was before this statement: value there is the old total.
        self._add_totals_sql = self._upsert(
            t.rollups,
            " ON CONFLICT (channel, series, label) DO UPDATE SET"
            " value = rollups.value + excluded.value,"
            # A gauge (rollup.GAUGES) may go down: it shows its value, never a mark.
            f" exposed = CASE WHEN rollups.series IN ({', '.join(map(repr, GAUGES))})"
            " OR rollups.value + excluded.value > rollups.exposed"
            " THEN rollups.value + excluded.value ELSE rollups.exposed END",
        )
        self._add_hourly_sql = self._upsert(
            t.rollups_hourly,
            " ON CONFLICT (hour, channel, series, label) DO UPDATE SET"
            " value = rollups_hourly.value + excluded.value",
        )
        self._conversation_inserts: dict[int, str] = {}  # by rows per statement
        self._mark = placeholder(engine)
        self._growth = _Growth()
        self._all_new = True  # whether the last batch's events ids were all new (PostgreSQL)

    def _upsert(self, table: Table, suffix: str) -> Callable[[Any, Sequence[Row]], None]:
        """Insert or merge rows of every column of ``table`` in one go, in their order."""
        if not self.sqlite:
            return bulk.Upsert(table, suffix)
        statement = driver_insert(self.engine, table, suffix=suffix)
        return lambda conn, rows: conn.exec_driver_sql(statement, rows)

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
        """Write in one transaction. An id another writer stores meanwhile needs no second
        go: the insert waits for that writer's commit and counts the id as stored."""
        registered: set[str] = set()
        with self.engine.begin() as conn:
            result = self._write(conn, prepared, registered)
        # Only once committed: a rolled-back registration must be tried again.
        self._known_channels |= registered
        return result

    def _analyze(self) -> None:
        # PostgreSQL plans for the table sizes it last measured: without fresh statistics a
        # table that grew from nothing is still "tiny" and the id lookups scan it whole
        # (an import of 33k calls took 267 s instead of seconds).
        # Maintenance, not a request: it may take longer than a statement should.
        with self.engine.begin() as conn, unhurried(conn):
            conn.execute(text("ANALYZE events, conversations, facts"))

    def _write(self, conn: Any, p: Prepared, registered: set[str]) -> BatchResult:
        """The batch's writes in ``conn``'s transaction; the channels it registers are
        added to ``registered``."""
        result = BatchResult(rejections=list(p.rejections))
        kept = self._insert_events(conn, p, result)
        cells: Counter[Cell] = Counter()
        hours: Counter[SlotCell] = Counter()
        if kept.rows:
            channels = p.channels if kept.refused is None else kept_channels(kept.rows, kept.lines)
            registered.update(self._register_channels(conn, channels))
            cells = self._derive(conn, p, kept, hours)
        result.accepted = len(kept.rows)
        if result.rejections:
            conn.execute(
                t.quarantine.insert(), [_quarantine_row(r, p.received) for r in result.rejections]
            )
        cells[(EVENTS_CELL, "events", "accepted")] += result.accepted
        cells[(EVENTS_CELL, "events", "duplicate")] += result.duplicates
        cells[(EVENTS_CELL, "events", "rejected")] += len(result.rejections)
        self._add_totals(conn, cells)
        self._add_hourly(conn, hours)
        if p.checkpoint is not None:
            self._save_checkpoint(conn, p.checkpoint, p.received, len(result.rejections))
        return result

    def _insert_events(self, conn: Any, p: Prepared, result: BatchResult) -> _Kept:
        """Insert the events whose id is new and return them. A stored id counts as a
        duplicate, or as a conflict when its content differs; a record of several events
        with a conflict is turned away whole (collector.sortout)."""
        if not p.rows:
            return _Kept([], [], None)
        if not self.sqlite:
            # Insert first: the ids returned are new, and only the others can be stored
            # ones, whether before this batch or by a writer that committed meanwhile.
            new = bulk.insert_new(conn, t.events, p.rows, likely_new=self._all_new)
            stale = [row for row in p.rows if row[0] not in new]
            # A file imported again repeats every id: stage its batches from the start.
            self._all_new = not stale
            seen = self._stored(conn, stale) if stale else {}
        else:
            # SQLite writers take turns, so rows above the highest rowid before the insert
            # are this batch's: one look up per batch replaces one per event in the usual
            # case, where every id is new.
            before = conn.exec_driver_sql("SELECT max(rowid) FROM events").scalar() or 0
            inserted = conn.exec_driver_sql(self._insert_new_events_sql, p.rows).rowcount
            seen = {}
            if inserted != len(p.rows):
                seen = self._stored(conn, p.rows, f"rowid <= {int(before)}")
        kept, dropped = self._sorted_out(p, seen, result)
        for chunk in _chunks(dropped, CHUNK):
            # Inserted above, then turned away with the rest of their record.
            conn.execute(delete(t.events).where(t.events.c.id.in_(chunk)))
        self._judge_repeats(p, seen, result)
        return kept

    def _stored(self, conn: Any, rows: list[Row], condition: str = "") -> dict[str, str]:
        """The content hash of each of these rows' ids that is stored (and meets condition)."""
        seen: dict[str, str] = {}
        where = f" AND {condition}" if condition else ""
        ids = [row[0] for row in rows]
        if not self.sqlite:  # one array parameter, however many ids
            query = f"SELECT id, content_hash FROM events WHERE id = ANY(%s){where}"
            return dict(conn.exec_driver_sql(query, (ids,)).all())
        for chunk in _chunks(ids, CHUNK):
            # Driver SQL: SQLAlchemy coerces every IN element, a cost per event (_driver_insert).
            marks = self._marks(len(chunk))
            query = f"SELECT id, content_hash FROM events WHERE id IN ({marks}){where}"
            seen.update(conn.exec_driver_sql(query, tuple(chunk)).all())
        return seen

    def _sorted_out(
        self, p: Prepared, seen: dict[str, str], result: BatchResult
    ) -> tuple[_Kept, list[str]]:
        """The rows to store, and the new ids turned away with their record; count the
        others as duplicates or conflicts."""
        if not seen:
            return _Kept(p.rows, p.lines, None), []
        out = sort_out(p, seen)
        result.duplicates += out.duplicates
        result.rejections.extend(out.rejections)
        return _Kept(out.fresh, out.fresh_lines, out.refused), out.dropped

    def _judge_repeats(self, p: Prepared, seen: dict[str, str], result: BatchResult) -> None:
        """Count each repeat of an id in the batch as a duplicate of the content kept for
        that id (the stored one, else the batch's first) or as a conflict, as reading the
        records one by one would."""
        if not p.repeats:
            return
        first = {row[0]: row[_HASH] for row in p.rows}
        for event_id, line, raw, digest in p.repeats:
            if digest == seen.get(event_id, first[event_id]):
                result.duplicates += 1
            else:
                where = position(p.source, line)
                result.rejections.append(Rejection(p.source, where, raw, CONFLICT, event_id))

    def _derive(
        self, conn: Any, p: Prepared, kept: _Kept, hours: Counter[SlotCell]
    ) -> Counter[Cell]:
        """Store the prepared conversations that are new; bring the others up to date from
        the store. Returns the change in totals; adds the change in hourly totals to
        ``hours``.

        A prepared conversation counts every event of the batch, so one holding an event
        the store turned away is replayed from its stored events like a late one."""
        rows = p.conversations
        if kept.refused is not None:
            touched = {row[1] for row in kept.rows}
            rows = [row for row in rows if row[0] in touched]
        inserted = self._insert_conversations(conn, rows)
        cells: Counter[Cell] = Counter()
        raised: list[Row] = []  # last_events rows of stored conversations
        if kept.refused is None and len(inserted) == len(p.conversations):  # the usual case
            facts, latest = p.facts, p.latest
        else:
            usable = inserted - (kept.refused or set())
            facts = [row for row in p.facts if row[0] in usable]
            latest = [row for row in p.latest if row[0] in usable]
            stored = sorted(row[0] for row in rows if row[0] not in usable)
            if stored:
                done = bring_up_to_date(
                    conn,
                    stored,
                    (kept.rows, kept.refused or set()),
                    self.layout,
                    (cells, hours),
                    lock=not self.sqlite,  # SQLite writers already take turns
                )
                facts += done.facts
                raised = done.latest
        # Counted here rather than while preparing: the reading process is the busier one.
        cells.update(contributions(facts, self.layout, slots=hours))
        if facts:
            self._insert_fact_rows(conn, facts)
        self._write_latest(conn, latest, raised)
        return cells

    def _write_latest(self, conn: Any, new: list[Row], raised: list[Row]) -> None:
        """Store the last_events rows of the conversations this batch inserted (``new``),
        and raise those of stored ones. A conversation's rows are written only by the
        writer holding its row, so the new ones are free, and PostgreSQL copies them;
        unless rows outlived their conversation's (deleted by hand): raised then too."""
        if not self.sqlite and bulk.copied_all(conn, t.last_events, LATEST_COLUMNS, new):
            new = []
        if new or raised:
            self._raise_latest_sql(conn, sorted(new + raised))

    def _insert_fact_rows(self, conn: Any, facts: list[Row]) -> None:
        if self.sqlite:
            conn.exec_driver_sql(self._insert_facts, facts)
        else:
            bulk.copy_rows(conn, t.facts, FACT_COLUMNS, facts)

    def _insert_conversations(self, conn: Any, rows: list[Row]) -> set[str]:
        """Insert the conversations that are not stored yet; return the ids inserted."""
        if not self.sqlite:
            return bulk.insert_new(conn, t.conversations, rows)
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

    def _register_channels(self, conn: Any, named: dict[str, tuple[str | None, int]]) -> list[str]:
        """Remember the first kind seen for each channel (declared ones keep their own);
        return the channels this process had not registered yet."""
        new = sorted(name for name in named if name not in self._known_channels)
        if new:
            rows = [{"name": n, "kind": named[n][0], "first_seen": named[n][1]} for n in new]
            conn.execute(self._insert(t.channels).on_conflict_do_nothing(), rows)
        return new

    def _add_totals(self, conn: Any, cells: Counter[tuple[str, str, str]]) -> None:
        """Move the totals, and raise each one's exposed high-water mark to it.

        Late events can move counts between channels, so a true total may fall; Prometheus
        would read that as a counter reset. /metrics shows ``exposed``, the highest total
        ever committed, so it holds until the true total passes it again. Raised in the
        write's own transaction, it is the same for every process and survives restarts.
        """
        # Driver SQL with tuples: built through Core, these rows (a histogram touches up to
        # one per bucket) cost more to bind than to write. In key order, so writers that
        # touch the same rows lock them in the same order.
        rows = sorted(
            (ch, series, label, amount, amount if series in GAUGES else max(amount, 0))
            for (ch, series, label), amount in cells.items()
            if amount != 0
        )
        if rows:
            self._add_totals_sql(conn, rows)

    def _add_hourly(self, conn: Any, hours: Counter[SlotCell]) -> None:
        """Move the hourly totals (no high-water mark: only pages read them, never as
        counters). In key order, as the totals, so concurrent writers lock alike."""
        rows = sorted((*cell, amount) for cell, amount in hours.items() if amount != 0)
        if rows:
            self._add_hourly_sql(conn, rows)

    @contextmanager
    def _reading(self, probe: bool = False) -> Iterator[Any]:
        """A read-only connection (of the probe engine if asked); database errors become
        StoreError."""
        try:
            with (self.probe if probe else self.reader).connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"database unavailable: {driver_message(exc)}") from exc

    def reading(self) -> Any:
        """A read-only connection for modules reading tables of their own (StoreError on
        failure), as a context manager."""
        return self._reading()

    def _save_checkpoint(self, conn: Any, cp: Checkpoint, at: int, rejected: int) -> None:
        """Move the file's checkpoint on, and add the batch's rejections to its count."""
        ins = self._insert(t.imports)
        g = cp.grouped
        values = {
            "fingerprint": cp.fingerprint,
            "offset": cp.offset,
            "line": cp.line,
            "updated_at": at,
            "pass_end": g and g.end,
            "pass_end_line": g and g.end_line,
            "pass_buckets": g and g.buckets,
            "pass_bucket": g and g.bucket,
            "pass_done": g and g.done,
        }
        conn.execute(
            ins.values(
                source=cp.source, reader=cp.reader, rejected=rejected, **values
            ).on_conflict_do_update(
                index_elements=["source", "reader"],
                set_={**values, "rejected": t.imports.c.rejected + rejected},
            )
        )

    def _marks(self, count: int) -> str:
        return ", ".join([self._mark] * count)

    def _insert(self, table: Table) -> Any:
        return sqlite_insert(table) if self.sqlite else pg_insert(table)

    # -- reading -----------------------------------------------------------------------

    def checkpoint(self, source: str, reader: str = "jsonl") -> Checkpoint | None:
        """How far ``source`` was imported when read by ``reader`` (a Reader's key)."""
        c = t.imports.c
        with self._reading() as conn:
            row = conn.execute(
                select(t.imports).where(c.source == source, c.reader == reader)
            ).first()
        if row is None:
            return None
        grouped = None
        if row.pass_end is not None:
            grouped = GroupedPass(
                row.pass_end, row.pass_end_line, row.pass_buckets, row.pass_bucket, row.pass_done
            )
        return Checkpoint(
            source, row.fingerprint, row.offset, row.line, reader, row.rejected, grouped
        )

    def forget_checkpoint(self, source: str, reader: str) -> None:
        """Drop a file's checkpoint, so its next import reads it from the start."""
        c = t.imports.c
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(t.imports).where(c.source == source, c.reader == reader))
        except SQLAlchemyError as exc:
            raise StoreError(f"database write failed: {driver_message(exc)}") from exc

    def channel_kinds(self) -> dict[str, str]:
        """Every known channel's kind: declared ones from configuration, others as first seen."""
        with self._reading() as conn:
            seen = {row.name: row.kind for row in conn.execute(select(t.channels))}
        seen.update(self.settings.channel_kinds())
        return seen

    def facts(
        self, start: int | None = None, end: int | None = None, *, topics: bool = True
    ) -> Iterator[tuple[Any, ...]]:
        """Facts at instants in [start, end): (kind, channel, at, value, flag, label, topic).

        The topic is the fact's conversation's; without ``topics`` it is None and the
        conversations are not read."""
        c = t.facts.c
        columns = [c.kind, c.channel, c.at, c.value, c.flag, c.label]
        if topics:
            query = select(*columns, t.conversations.c.topic).join_from(
                t.facts, t.conversations, t.conversations.c.id == c.conversation_id
            )
        else:
            query = select(*columns, null())
        query = query.where(c.kind != LAST_EVENT)
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

    def exposed(
        self, *, probe: bool = False
    ) -> tuple[dict[Cell, float], dict[str, str], dict[str, float]]:
        """What /metrics shows, in two queries on one connection (the probe engine's if
        asked): each total's high-water mark by (channel, series, label); every known
        channel's kind (as channel_kinds); and each channel's latest event in Unix seconds."""
        latest = (
            select(func.max(t.last_events.c.at))
            .where(t.last_events.c.channel == t.channels.c.name)
            .scalar_subquery()
        )
        r = t.rollups.c
        with self._reading(probe) as conn:
            # Totals first: a channel is registered in the same transaction that first
            # counts it, so the channels read afterwards cover every channel totals name.
            held = {
                (row.channel, row.series, row.label): row.exposed
                for row in conn.execute(select(r.channel, r.series, r.label, r.exposed))
            }
            seen = conn.execute(select(t.channels.c.name, t.channels.c.kind, latest)).all()
        kinds = {name: kind for name, kind, _at in seen} | self.settings.channel_kinds()
        return held, kinds, {name: at / 1e6 for name, _kind, at in seen if at is not None}

    def open_at(self, end: int | None, *, topics: bool) -> Counter[tuple[str, str | None]]:
        """Conversations open at ``end`` (None: now) by (channel, topic; None without
        ``topics``): those open now, less the segments entered at or after ``end``, plus
        those that ended at or after it.

        Both reads are indexed (the open conversations, the facts from ``end`` on), so
        the cost follows the backlog and the time since ``end``, not the history."""
        conv, f = t.conversations.c, t.facts.c
        keys = [conv.channel, conv.topic] if topics else [conv.channel]
        now = select(*keys, func.count()).where(text(t.OPEN_ONLY)).group_by(*keys)
        counts: Counter[tuple[str, str | None]] = Counter()
        with self._reading() as conn:
            for row in conn.execute(now):
                counts[_open_key(row, topics)] += row[-1]
            if end is not None:
                keys = [f.kind, f.channel, conv.topic] if topics else [f.kind, f.channel]
                later = select(*keys, func.count()).where(
                    f.at >= end, f.kind.in_((ENTERED, SEGMENT)), f.channel.is_not(None)
                )
                if topics:
                    later = later.join_from(t.facts, t.conversations, conv.id == f.conversation_id)
                for row in conn.execute(later.group_by(*keys)):
                    counts[_open_key(row[1:], topics)] += -row[-1] if row[0] == ENTERED else row[-1]
        return counts

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


LATEST_COLUMNS = [column.name for column in t.last_events.columns]
_CHANNEL = Event._fields.index("channel")  # where an events row holds it
_CONVERSATIONS_PER_INSERT = 100  # rows per multi-row INSERT: 800 parameters
_IF_NEW = " ON CONFLICT (id) DO NOTHING RETURNING id"


def _open_key(row: Sequence[Any], topics: bool) -> tuple[str, str | None]:
    return (row[0], row[1] if topics else None)


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
    10,000 events, then each time the count grows fourfold, so a long import analyses a
    few times (four times in 1M events). Planner estimates scale the measured row density
    by the table's current size, so statistics taken at a quarter of it still say "large";
    only a table first measured tiny needs measuring again soon."""

    def __init__(self) -> None:
        self.written = 0
        self.next_at = 10_000

    def due(self, accepted: int) -> bool:
        self.written += accepted
        if self.written < self.next_at:
            return False
        self.next_at = 4 * self.written
        return True
