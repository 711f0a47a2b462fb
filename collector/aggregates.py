"""A window's facts added up by the database, in the form a report and an evaluation read.

Reading every fact row into Python cost 34 s over 10M stored events. Here one GROUP BY
counts the facts by (kind, channel, label), and each distribution's (kind, channel, label)
sends only its value column. Both read the index ix_facts_report alone: in its order, the
GROUP BY needs no sort; by its `at`, a window's values come from that window only. The
values become arrays; collector/metrics.py computes every figure from them, as it does for
a file's facts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from itertools import chain
from typing import Any

import numpy as np
from sqlalchemy import case, func, null, select, text

from collector import tables as t
from collector.connect import placeholder
from collector.engine import ENTERED, SEGMENT
from collector.metrics import DISTRIBUTIONS, Aggregate, CountKey, ValueKey
from collector.store import Store

# A window holding under 1/NARROW of the history reads its facts by instant: measured at
# 1M facts, a fact found by instant cost about six times one read in index order.
NARROW = 8


def read_aggregate(
    store: Store, start: int | None = None, end: int | None = None, *, topics: bool = False
) -> Aggregate:
    """The Aggregate of the stored facts at instants in [start, end); each count and value
    keyed by its conversation's topic with ``topics``, by None without."""
    with store.reading() as conn:
        if conn.dialect.name == "postgresql":
            # The counts and the values from one snapshot, as SQLite's read transaction
            # gives them, so a concurrent import never makes them disagree.
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        counts, flagged = _counts(conn, start, end, topics)
        groups = sorted(
            {(kind, channel, label) for kind, channel, label, _t in counts if channel},
            key=lambda group: (group[0], group[1], group[2] or ""),
        )
        pooled: dict[ValueKey, list[np.ndarray]] = {}
        cursor = conn.connection.cursor()
        try:
            for kind, channel, label in groups:
                if kind in DISTRIBUTIONS:
                    found = _values(cursor, store, (kind, channel, label), (start, end), topics)
                    for key, array in found.items():
                        pooled.setdefault(key, []).append(array)
        finally:
            cursor.close()
    values = {key: np.concatenate(arrays) for key, arrays in pooled.items()}
    return Aggregate(counts, flagged, values)


def _counts(
    conn: Any, start: int | None, end: int | None, topics: bool
) -> tuple[Counter[CountKey], Counter[CountKey]]:
    c = t.facts.c
    topic = t.conversations.c.topic if topics else null()
    flagged = func.sum(case((c.flag != 0, 1), else_=0))
    query = select(c.kind, c.channel, c.label, topic, func.count(), flagged)
    if topics:
        query = query.join_from(t.facts, t.conversations, t.conversations.c.id == c.conversation_id)
    # The report index's own condition, as written there, so both databases choose it; it
    # leaves out the latest events, wherever those are kept.
    query = query.where(text(t.REPORTED_ONLY))
    at = c.at if _narrow(conn, start, end) else c.at + 0  # an expression: no index on it
    if start is not None:
        query = query.where(at >= start)
    if end is not None:
        query = query.where(at < end)
    query = query.group_by(c.kind, c.channel, c.label, *([topic] if topics else []))
    counts: Counter[CountKey] = Counter()
    flags: Counter[CountKey] = Counter()
    for kind, channel, label, group_topic, count, flag_count in conn.execute(query):
        key = (kind, channel, label, group_topic)
        counts[key] += count
        if flag_count:
            flags[key] += int(flag_count)
    return counts, flags


def _narrow(conn: Any, start: int | None, end: int | None) -> bool:
    """Whether the window holds so little of the history that SQLite should find its facts
    by instant (and sort them to group), not read the whole report index in its order.

    Without statistics, SQLite takes any bounds on `at` as narrow: a 30-day window over 30
    days of facts then cost six times the full index read. PostgreSQL's planner has
    statistics and decides for itself.
    """
    if conn.dialect.name != "sqlite" or (start is None and end is None):
        return True
    return _share(conn, start, end) * NARROW < 1


def _share(conn: Any, start: int | None, end: int | None) -> float:
    """The part of the facts' span of instants that [start, end) holds (1 when empty)."""
    first = conn.execute(select(func.min(t.facts.c.at))).scalar()  # two index steps
    last = conn.execute(select(func.max(t.facts.c.at))).scalar()
    if first is None or last is None:
        return 1.0
    low, high = max(first, start or first), min(last + 1, last + 1 if end is None else end)
    return float(max(0, high - low) / (last + 1 - first))


def open_at(store: Store, end: int | None, *, topics: bool) -> Counter[tuple[str, str | None]]:
    """Conversations open at ``end`` by (channel, topic), as Store.open_at gives them.

    That reads the facts from ``end`` on by instant, cheap for a recent end. For an end
    long ago, without topics, this counts the segments entered before ``end`` less those
    ended before it (DESIGN's definition, as a file's report counts) from the report index
    in its order instead: at 10M events, the middle day's report spent 8 s the other way.
    """
    if topics or end is None:
        return store.open_at(end, topics=topics)
    c = t.facts.c
    with store.reading() as conn:
        if _share(conn, end, None) * NARROW < 1:
            return store.open_at(end, topics=topics)
        query = (
            select(c.kind, c.channel, func.count())
            .where(text(t.REPORTED_ONLY), c.kind.in_((ENTERED, SEGMENT)), c.channel.is_not(None))
            .where(c.at + 0 < end)  # an expression, so SQLite reads the report index
            .group_by(c.kind, c.channel)
        )
        counts: Counter[tuple[str, str | None]] = Counter()
        for kind, channel, count in conn.execute(query):
            counts[(channel, None)] += count if kind == ENTERED else -count
    return counts


def _values(
    cursor: Any,
    store: Store,
    group: tuple[str, str, str | None],
    span: tuple[int | None, int | None],
    topics: bool,
) -> dict[ValueKey, np.ndarray]:
    """One (kind, channel, label)'s values by topic (None without ``topics``), read from
    the report index alone, a window's instants only.

    Through the driver's own cursor: SQLAlchemy's row objects cost more than the reading.
    """
    mark = placeholder(store.engine)
    kind, channel, label = group
    where = [t.REPORTED_ONLY, f"f.kind = {mark}", f"f.channel = {mark}"]
    params: list[Any] = [kind, channel]
    where.append("f.label IS NULL" if label is None else f"f.label = {mark}")
    params += [] if label is None else [label]
    for bound, test in zip(span, (f"f.at >= {mark}", f"f.at < {mark}"), strict=True):
        if bound is not None:
            where.append(test)
            params.append(bound)
    condition = " AND ".join(where)
    if not topics:
        cursor.execute(f"SELECT COALESCE(f.value, 0.0) FROM facts f WHERE {condition}", params)
        return {(kind, channel, None): _array(chain.from_iterable(cursor))}
    cursor.execute(
        "SELECT c.topic, COALESCE(f.value, 0.0) FROM facts f"
        f" JOIN conversations c ON c.id = f.conversation_id WHERE {condition}",
        params,
    )
    by_topic: dict[str | None, list[float]] = {}
    for topic, value in cursor:
        by_topic.setdefault(topic, []).append(value)
    return {(kind, channel, topic): _array(pooled) for topic, pooled in by_topic.items()}


def _array(values: Iterable[float]) -> np.ndarray:
    # Unsorted: quantiles partition and shares count in linear time, cheaper than a sort.
    return np.fromiter(values, dtype=float)
