"""Rebuilding the all-time and hourly totals from facts, when the histogram buckets change
(or when a migration asks for it by forgetting the recorded layout)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import delete, select, text

from collector import tables as t
from collector.prepare import FACT_COLUMNS
from collector.rollup import GAUGES, HISTOGRAMS, Cell, Layout, SlotCell, contributions
from collector.store import Store

LAYOUT_KEY = "rollup_layout"
# Counted at ingest, not derived from facts: a rebuild keeps them.
KEPT_SERIES = ("events",)


def totals_layout(store: Store) -> str | None:
    """The fingerprint of the bucket layout the stored totals were counted in."""
    with store.engine.connect() as conn:
        return conn.execute(select(t.meta.c.value).where(t.meta.c.key == LAYOUT_KEY)).scalar()


def rebuild_totals(store: Store) -> None:
    """Recount every fact into the layout in force, in one transaction.

    1. Count every fact into the cells of the layout in force.
    2. Keep each series' exposed high-water mark: a series that stays (a bound in both
       layouts, every counter) never shows less than it showed before.
    3. Replace the counted rollups and the hourly totals, and record the layout's
       fingerprint.
    """
    with store.engine.begin() as conn:
        if not store.sqlite:
            # Writers add their differences after this commits, on top of the new totals.
            conn.execute(text("LOCK TABLE rollups, rollups_hourly IN EXCLUSIVE MODE"))
        cells: Counter[Cell] = Counter()
        hours: Counter[SlotCell] = Counter()
        # On the statement, not the connection: Connection.execution_options() changes the
        # connection in place, and a server-side cursor would then wrap the DELETE below,
        # which PostgreSQL rejects (DECLARE ... CURSOR FOR DELETE).
        columns = [t.facts.c[name] for name in FACT_COLUMNS]
        query = select(*columns).execution_options(yield_per=50_000)
        for chunk in conn.execute(query).partitions():
            facts = (tuple(row) for row in chunk)
            cells.update(contributions(facts, store.layout, slots=hours))
        r = t.rollups.c
        held = {
            (row.channel, row.series, row.label): row.exposed
            for row in conn.execute(select(r.channel, r.series, r.label, r.exposed))
        }
        rows = _rows(cells, held, store.layout)
        conn.execute(delete(t.rollups).where(t.rollups.c.series.not_in(KEPT_SERIES)))
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


def _rows(cells: Counter[Cell], held: dict[Cell, float], layout: Layout) -> list[dict[str, Any]]:
    """The rollups rows of a recount: each cell's count, exposed at the recount or at the
    cell's old mark if that is higher (a marked cell the recount lacks stays, at 0).

    Bucket labels the layout dropped lose their series. A bucket new to the layout has no
    mark of its own and starts at the mark of the bound below it, if higher, so the exposed
    buckets still grow with the bound."""
    exposed: dict[Cell, float] = {}
    for cell, mark in held.items():
        channel, series, label = cell
        if series in KEPT_SERIES or series in GAUGES:
            continue  # a gauge holds no mark: it shows its recounted value
        if series not in HISTOGRAMS or label in layout.labels[series] or label in _TOTALS:
            exposed[cell] = mark
    for cell, amount in cells.items():
        exposed[cell] = amount if cell[1] in GAUGES else max(amount, exposed.get(cell, 0.0))
    for channel, series in {(ch, s) for ch, s, _ in exposed if s in HISTOGRAMS}:
        floor = 0.0
        for label in layout.labels[series]:
            cell = (channel, series, label)
            exposed[cell] = floor = max(exposed.get(cell, 0.0), floor)
    return [
        {"channel": channel, "series": series, "label": label,
         "value": cells.get((channel, series, label), 0), "exposed": mark}
        for (channel, series, label), mark in sorted(exposed.items())
    ]  # fmt: skip


_TOTALS = ("count", "sum")  # a histogram's cells besides its buckets
