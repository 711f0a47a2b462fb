"""The custom collector behind /metrics: the all-time rollups of DESIGN section 5 at scrape time.

Nothing is instrumented in-process: every web process reads the same rollup table, so any
number of them behind a load balancer expose the same numbers, and a restart loses nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import cast

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from collector import __version__
from collector.engine import CSAT, FIRST_RESPONSE, REOPEN, RESOLUTION, RESPONSE, SEGMENT, STARTED
from collector.metrics import OUTCOMES
from collector.rollup import INF, OPEN, Cell, Layout
from collector.store import EVENTS_CELL, Store

# Untyped in prometheus_client; the cast keeps strict mypy honest about what it returns.
go_float = cast(Callable[[float], str], floatToGoString)
PREFIX = "touchmetrics_"
CHANNEL_LABELS = ("channel", "kind")
EVENT_RESULTS = ("accepted", "duplicate", "rejected")
UNKNOWN_KIND = "unknown"  # only if a rollup names a channel the channels table lacks
COUNTERS = {  # family name: (rollup series, rollup label, help)
    "conversations_started": (STARTED, "", "Conversations begun."),
    "csat_responses": (CSAT, "responses", "CSAT ratings received."),
    "csat_satisfied": (CSAT, "satisfied", "CSAT ratings that count as satisfied."),
    "reopened": (REOPEN, "", "Conversations reopened after ending."),
}
HISTOGRAMS = (
    (FIRST_RESPONSE, "Seconds a customer waited for the first reply of each channel segment."),
    (RESPONSE, "Seconds a customer waited for each reply, first replies included."),
    (RESOLUTION, "Seconds from the start or reopen of a conversation to its resolution."),
)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one scrape reads: the exposed totals (each one's high-water mark, so that no
    counter goes down), each channel's latest event, and the kind of every known channel."""

    totals: Mapping[Cell, float]
    kinds: Mapping[str, str]
    latest: Mapping[str, float]

    def value(self, channel: str, series: str, label: str = "") -> float:
        return float(self.totals.get((channel, series, label), 0.0))

    def channels(self) -> list[tuple[str, str]]:
        """(channel, kind) of declared, seen and counted channels, sorted by name."""
        names = set(self.kinds) | {ch for ch, _, _ in self.totals if ch != EVENTS_CELL}
        return [(name, self.kinds.get(name, UNKNOWN_KIND)) for name in sorted(names)]


EMPTY = Snapshot({}, {}, {})


def read_snapshot(store: Store, *, probe: bool = False) -> Snapshot:
    """Read the exposed totals and channels (through the store's probe engine for a
    scrape); the store raises StoreError when it cannot."""
    totals, kinds, latest = store.exposed(probe=probe)
    return Snapshot(totals, kinds, latest)


class TouchmetricsCollector:
    """A prometheus_client collector reading the store at each scrape, in two small queries.

    The queries read the rollup and channel tables, whose size depends on the number of
    channels and buckets, never on the number of events.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        # The store's own layout: the bucket labels it writes are the ones read back here.
        self.layout: Layout = store.layout

    def describe(self) -> Iterator[Metric]:
        """The families from an empty snapshot, so registering never touches the database."""
        return iter(self._families(EMPTY))

    def collect(self) -> Iterator[Metric]:
        return iter(self._families(read_snapshot(self.store, probe=True)))

    def _families(self, snap: Snapshot) -> list[Metric]:
        channels = snap.channels()
        families: list[Metric] = [_counter(snap, channels, "conversations_started")]
        families.append(_segments(snap, channels))
        families += [self._histogram(snap, channels, series, doc) for series, doc in HISTOGRAMS]
        families += [
            _counter(snap, channels, name) for name in ("csat_responses", "csat_satisfied")
        ]
        families += [
            _counter(snap, channels, "reopened"),
            _events(snap),
            _last_event(snap, channels),
            _open(snap, channels),
            _build_info(),
        ]
        return families

    def _histogram(
        self, snap: Snapshot, channels: Iterable[tuple[str, str]], series: str, doc: str
    ) -> HistogramMetricFamily:
        family = HistogramMetricFamily(
            f"{PREFIX}{series}_seconds", doc, labels=list(CHANNEL_LABELS)
        )
        bounds = [*self.layout.bounds[series], math.inf]
        for channel, kind in channels:
            # Cumulative in the rollups already, each held on its own. A bucket without a
            # row of its own (a store counted before buckets were cumulative) shows the one
            # below it; the running maximum keeps the buckets growing with the bound in any
            # case, and the +Inf bucket, which is the _count, is the highest of them.
            running = 0.0
            buckets: list[tuple[str, float]] = []
            for bound, label in zip(bounds, self.layout.labels[series], strict=True):
                running = max(running, snap.value(channel, series, label))
                buckets.append((INF if math.isinf(bound) else go_float(bound), running))
            family.add_metric([channel, kind], buckets, snap.value(channel, series, "sum"))
        return family


def _counter(snap: Snapshot, channels: Iterable[tuple[str, str]], name: str) -> CounterMetricFamily:
    series, label, doc = COUNTERS[name]
    # CounterMetricFamily adds the _total suffix to samples (and drops it from the
    # OpenMetrics family name), so the family is named without it.
    family = CounterMetricFamily(PREFIX + name, doc, labels=list(CHANNEL_LABELS))
    for channel, kind in channels:
        family.add_metric([channel, kind], snap.value(channel, series, label))
    return family


def _segments(snap: Snapshot, channels: Iterable[tuple[str, str]]) -> CounterMetricFamily:
    family = CounterMetricFamily(
        PREFIX + "segments_ended",
        "Channel segments ended, by outcome: resolved, escalated (handed off) or abandoned.",
        labels=[*CHANNEL_LABELS, "outcome"],
    )
    for channel, kind in channels:
        for outcome in OUTCOMES:
            family.add_metric([channel, kind, outcome], snap.value(channel, SEGMENT, outcome))
    return family


def _events(snap: Snapshot) -> CounterMetricFamily:
    family = CounterMetricFamily(
        PREFIX + "events_received",
        "Event records received, by result: accepted, duplicate or rejected (quarantined).",
        labels=["result"],
    )
    for result in EVENT_RESULTS:
        family.add_metric([result], snap.value(EVENTS_CELL, "events", result))
    return family


def _last_event(snap: Snapshot, channels: Iterable[tuple[str, str]]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        PREFIX + "last_event_timestamp_seconds",
        "Unix time of the latest event in the channel.",
        labels=list(CHANNEL_LABELS),
    )
    # A channel without events gets no series rather than 0, which would read as 1970
    # and make `time() - ...` staleness alerts fire on a channel that never started.
    for channel, kind in channels:
        if channel in snap.latest:
            family.add_metric([channel, kind], snap.latest[channel])
    return family


def _open(snap: Snapshot, channels: Iterable[tuple[str, str]]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        PREFIX + "open_conversations",
        "Conversations whose current segment is in the channel and has not ended.",
        labels=list(CHANNEL_LABELS),
    )
    for channel, kind in channels:
        family.add_metric([channel, kind], snap.value(channel, OPEN))
    return family


def _build_info() -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        PREFIX + "build_info", "The running touchmetrics version; always 1.", labels=["version"]
    )
    family.add_metric([__version__], 1.0)
    return family
