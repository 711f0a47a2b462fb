"""The hourly totals behind the overview page: backfilled on upgrade, equal to the facts."""

from __future__ import annotations

from collections import Counter
from typing import Any

from alembic.command import downgrade as alembic_downgrade
from alembic.command import upgrade as alembic_upgrade

from collector.database import _config
from collector.hourly import hourly_counts, slot_counts
from collector.jobs import maintain_rollups
from collector.rollup import HOUR_US, contributions
from tests.events import demo_events

FIVE_MINUTES = 300_000_000


def fresh_count(store: Any, slot_us: int = HOUR_US) -> Counter[tuple[int, str, str, str]]:
    """The hourly counts recomputed from every stored fact."""
    found: Counter[tuple[int, str, str, str]] = Counter()
    facts = ((None, *f[:6]) for f in store.facts(topics=False))
    contributions(facts, store.layout, slots=found, slot_us=slot_us)
    return +found


def test_a_store_from_before_the_hourly_totals_gets_them_on_upgrade(store, write):
    write(demo_events(41, "2026-11-01T00:00:00Z", 1, 60))
    assert maintain_rollups(store) is True
    config = _config()
    with store.engine.begin() as conn:  # back to the schema before hourly totals existed
        config.attributes["connection"] = conn
        alembic_downgrade(config, "0005_open_conversations")
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        alembic_upgrade(config, "head")
    assert hourly_counts(store) == Counter()  # the new table starts empty...
    assert maintain_rollups(store) is True  # ...and the next upkeep counts every fact in
    assert hourly_counts(store) == fresh_count(store)
    assert len({hour for hour, *_ in hourly_counts(store)}) > 20


def test_the_last_hour_counted_from_facts_agrees_with_the_hourly_totals(store, write):
    write(demo_events(42, "2026-11-01T00:00:00Z", 0.5, 80))
    start = 1_793_491_200_000_000 + 5 * HOUR_US  # 2026-11-01T05:00Z
    by_five_minutes = slot_counts(store, start, start + HOUR_US, FIVE_MINUTES)
    by_hour = slot_counts(store, start, start + HOUR_US, HOUR_US)
    pooled: Counter[tuple[int, str, str, str]] = Counter()
    for (_slot, channel, series, group), n in by_five_minutes.items():
        pooled[(0, channel, series, group)] += n
    assert pooled == by_hour and by_hour
    assert {slot for slot, *_ in by_five_minutes} <= set(range(12))
    assert len({slot for slot, *_ in by_five_minutes}) > 6
