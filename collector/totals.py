"""Rebuilding the all-time totals from facts, for when the histogram buckets change."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import delete, select, text

from collector import tables as t
from collector.prepare import FACT_COLUMNS
from collector.rollup import contributions
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
            conn.execute(text("LOCK TABLE rollups IN EXCLUSIVE MODE"))
        cells: Counter[tuple[str, str, str]] = Counter()
        # On the statement, not the connection: Connection.execution_options() changes the
        # connection in place, and a server-side cursor would then wrap the DELETE below,
        # which PostgreSQL rejects (DECLARE ... CURSOR FOR DELETE).
        columns = [t.facts.c[name] for name in FACT_COLUMNS]
        query = select(*columns).execution_options(yield_per=50_000)
        for chunk in conn.execute(query).partitions():
            cells.update(contributions((tuple(row) for row in chunk), store.layout))
        conn.execute(delete(t.rollups).where(t.rollups.c.series.not_in(KEPT_SERIES)))
        rows = [_row(cell, amount) for cell, amount in sorted(cells.items()) if amount]
        if rows:
            conn.execute(t.rollups.insert(), rows)
        conn.execute(delete(t.meta).where(t.meta.c.key == LAYOUT_KEY))
        conn.execute(t.meta.insert().values(key=LAYOUT_KEY, value=store.layout.fingerprint))


def _row(cell: tuple[str, str, str], amount: float) -> dict[str, Any]:
    channel, series, label = cell
    return {"channel": channel, "series": series, "label": label, "value": amount}
