"""Counts of facts per slot of event time, for windows of the last hour, day or week.

A day or a week is read from the hourly totals the store keeps in step with the facts
(``rollups_hourly``: a few thousand rows however many events are stored); the last hour,
drawn in five-minute slots, is counted from the facts of that hour alone, which the index
on ``facts.at`` finds without reading the rest.

Each count is keyed ``(slot, channel, kind of fact, class)`` as ``rollup.contributions``
makes them: the class is the bucket label of a duration, the outcome of a segment, "1" or
"0" for a satisfied or dissatisfied rating, and "" for starts and reopens.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select, text

from collector import tables as t
from collector.rollup import HOUR_US, SlotCell, contributions
from collector.store import Store


def slot_counts(store: Store, start_us: int, end_us: int, slot_us: int) -> Counter[SlotCell]:
    """Counts per slot over [start, end): slot 0 begins at ``start_us``.

    Slots of whole hours (``start_us`` on an hour) read the hourly totals, where the
    hour holding ``end_us`` counts whole; shorter slots count the facts of the window.
    """
    if slot_us % HOUR_US == 0 and start_us % HOUR_US == 0:
        return _from_hours(store, start_us // HOUR_US, -(-end_us // HOUR_US), slot_us // HOUR_US)
    if start_us % slot_us:
        raise ValueError("the window must start on a slot boundary")
    found: Counter[SlotCell] = Counter()
    rows = ((None, *fact[:6]) for fact in store.facts(start_us, end_us, topics=False))
    contributions(rows, store.layout, slots=found, slot_us=slot_us)
    shift = start_us // slot_us
    return Counter(
        {(slot - shift, ch, kind, group): n for (slot, ch, kind, group), n in found.items()}
    )


def _from_hours(store: Store, first: int, stop: int, per_slot: int) -> Counter[SlotCell]:
    """Hours [first, stop) summed into slots of ``per_slot`` hours, in the database."""
    # Integer division of integers in both SQLite and PostgreSQL.
    query = text(
        "SELECT (hour - :first) / :per AS slot, channel, series, label, SUM(value) AS n "
        "FROM rollups_hourly WHERE hour >= :first AND hour < :stop "
        "GROUP BY (hour - :first) / :per, channel, series, label"
    )
    found: Counter[SlotCell] = Counter()
    with store.reading() as conn:
        for slot, channel, series, label, n in conn.execute(
            query, {"first": first, "stop": stop, "per": per_slot}
        ):
            if n:
                found[(int(slot), channel, series, label)] = int(n)
    return found


def hourly_counts(store: Store) -> Counter[SlotCell]:
    """Every stored hourly count, by (hour, channel, kind of fact, class)."""
    c = t.rollups_hourly.c
    with store.reading() as conn:
        rows = conn.execute(select(c.hour, c.channel, c.series, c.label, c.value))
        return Counter({(h, ch, s, lab): int(v) for h, ch, s, lab, v in rows if v})
