"""Rebuilding the all-time and hourly totals from facts, when the histogram buckets change
(or when a migration asks for it by forgetting the recorded layout)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import delete, select, text

from collector import tables as t
from collector.prepare import FACT_COLUMNS
from collector.rollup import SlotCell, contributions
from collector.store import Store

LAYOUT_KEY = "rollup_layout"
# Counted at ingest, not derived from facts: a rebuild keeps them.
KEPT_SERIES = ("events", "last_event")


def totals_layout(store: Store) -> str | None:
    """The fingerprint of the bucket layout the stored totals were counted in."""
    with store.engine.connect() as conn:
        return conn.execute(select(t.meta.c.value).where(t.meta.c.key == LAYOUT_KEY)).scalar()


def rebuild_totals(store: Store) -> None:
    """Recount every fact into the layout in force, in one transaction."""
    with store.engine.begin() as conn:
        if not store.sqlite:
            # Writers add their differences after this commits, on top of the new totals.
            conn.execute(text("LOCK TABLE rollups, rollups_hourly IN EXCLUSIVE MODE"))
        cells: Counter[tuple[str, str, str]] = Counter()
        hours: Counter[SlotCell] = Counter()
        # On the statement, not the connection: Connection.execution_options() changes the
        # connection in place, and a server-side cursor would then wrap the DELETE below,
        # which PostgreSQL rejects (DECLARE ... CURSOR FOR DELETE).
        columns = [t.facts.c[name] for name in FACT_COLUMNS]
        query = select(*columns).execution_options(yield_per=50_000)
        for chunk in conn.execute(query).partitions():
            facts = (tuple(row) for row in chunk)
            cells.update(contributions(facts, store.layout, slots=hours))
        conn.execute(delete(t.rollups).where(t.rollups.c.series.not_in(KEPT_SERIES)))
        rows = [_row(cell, amount) for cell, amount in sorted(cells.items()) if amount]
        if rows:
            conn.execute(t.rollups.insert(), rows)
        conn.execute(delete(t.rollups_hourly))
        hourly = [_hour_row(cell, amount) for cell, amount in sorted(hours.items()) if amount]
        for start in range(0, len(hourly), 10_000):
            conn.execute(t.rollups_hourly.insert(), hourly[start : start + 10_000])
        conn.execute(delete(t.meta).where(t.meta.c.key == LAYOUT_KEY))
        conn.execute(t.meta.insert().values(key=LAYOUT_KEY, value=store.layout.fingerprint))


def _hour_row(cell: SlotCell, amount: float) -> dict[str, Any]:
    hour, channel, series, label = cell
    return {"hour": hour, "channel": channel, "series": series, "label": label, "value": amount}


def _row(cell: tuple[str, str, str], amount: float) -> dict[str, Any]:
    channel, series, label = cell
    return {"channel": channel, "series": series, "label": label, "value": amount}
