"""The quarantine after a fix: list, export and replay rejected records (DESIGN section 9).

A replay re-validates stored raw records under the configuration in force now, writes what
passes through the one way events get in (``Store.write_batch``), and marks those rows
resolved. Resolved rows stay in the table, hidden from listings unless asked for, so the
account of every record received is never rewritten.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError

from collector import tables as t
from collector.batch import Batch, validate_record
from collector.errors import StoreError, driver_message
from collector.schema import Validator
from collector.sources.record import Record
from collector.store import Store

REPLAY_SOURCE = "quarantine"  # positions of replayed records read quarantine:<row id>
CHUNK = 500


@dataclass(frozen=True, slots=True)
class Filter:
    """Which quarantined rows: by words in the reason, by source, resolved ones too or not."""

    reason: str | None = None
    source: str | None = None
    include_resolved: bool = False

    def apply(self, query: Any) -> Any:
        c = t.quarantine.c
        if not self.include_resolved:
            query = query.where(c.replayed_at.is_(None))
        if self.reason:
            query = query.where(c.reason.contains(self.reason, autoescape=True))
        if self.source:
            query = query.where(c.source == self.source)
        return query


@dataclass(slots=True)
class ReplayOutcome:
    """What a replay did: rows examined and resolved, events taken, and what still fails."""

    examined: int = 0
    resolved: int = 0
    accepted: int = 0
    duplicates: int = 0
    still_rejected: Counter[str] = field(default_factory=Counter)


def rows(store: Store, which: Filter = Filter(), limit: int | None = None) -> list[Any]:
    """Quarantined rows, oldest first."""
    query = which.apply(select(t.quarantine).order_by(t.quarantine.c.id))
    if limit is not None:
        query = query.limit(limit)
    return _read(store, query)


def count(store: Store, which: Filter = Filter()) -> int:
    query = which.apply(select(func.count()).select_from(t.quarantine))
    return int(_read(store, query)[0][0])


def replay(store: Store, validator: Validator, which: Filter = Filter()) -> ReplayOutcome:
    """Re-validate the selected rows; take what passes now and mark those rows resolved.

    1. Read the unresolved rows that match, a chunk at a time, oldest first.
    2. Parse each raw record as JSON and validate it under the current settings; a row that
       still fails keeps its place, counted by its reason.
    3. Write what passes as one batch; each of its rows is then marked resolved (a record
       the store turns down, a conflict say, is quarantined anew with that reason).
    """
    outcome = ReplayOutcome()
    for chunk in _chunks(store, Filter(which.reason, which.source)):
        batch = Batch(REPLAY_SOURCE)
        passed: list[int] = []
        for row in chunk:
            outcome.examined += 1
            events, problem = _revalidate(validator, row)
            if problem is not None:
                outcome.still_rejected[problem] += 1
                continue
            batch.events.extend(events)
            passed.append(row.id)
        if passed:
            result = store.write_batch(batch)
            outcome.accepted += result.accepted
            outcome.duplicates += result.duplicates
            for rejection in result.rejections:
                outcome.still_rejected[rejection.reason] += 1
            outcome.resolved += _mark_resolved(store, passed)
    return outcome


def _revalidate(validator: Validator, row: Any) -> tuple[list[Any], str | None]:
    try:
        value = orjson.loads(row.raw)
    except orjson.JSONDecodeError:
        return [], "not a JSON record: fix the file or mapping and import it again"
    items = value if isinstance(value, list) else [value]
    record = Record(row.id, 0, row.raw, items=items)
    events, rejection = validate_record(validator, record, REPLAY_SOURCE)
    return events, None if rejection is None else rejection.reason


def _chunks(store: Store, which: Filter) -> Iterator[list[Any]]:
    after = 0
    while True:
        query = which.apply(select(t.quarantine).where(t.quarantine.c.id > after))
        chunk = _read(store, query.order_by(t.quarantine.c.id).limit(CHUNK))
        if not chunk:
            return
        yield chunk
        after = chunk[-1].id


def _mark_resolved(store: Store, ids: list[int]) -> int:
    c = t.quarantine.c
    statement = update(t.quarantine).where(c.id.in_(ids), c.replayed_at.is_(None))
    try:
        with store.engine.begin() as conn:
            done = conn.execute(statement.values(replayed_at=int(time.time() * 1_000_000)))
            return int(done.rowcount)
    except SQLAlchemyError as exc:
        raise StoreError(f"database write failed: {driver_message(exc)}") from exc


def _read(store: Store, query: Any) -> list[Any]:
    try:
        with store.engine.connect() as conn:
            return list(conn.execute(query))
    except SQLAlchemyError as exc:
        raise StoreError(f"database unavailable: {driver_message(exc)}") from exc
