"""The overview page's figures: each channel and kind over the last hour, day or week.

Read from counts per slot of event time (collector/hourly.py), never from every fact, so
the page costs the same with ten thousand or ten million events stored. Percentiles are
interpolated inside histogram buckets, as Prometheus' histogram_quantile does, so the page
and the Grafana panels agree; the report and the summary give exact ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from collector.engine import CSAT, ENTERED, FIRST_RESPONSE, REOPEN, RESOLUTION, SEGMENT, STARTED
from collector.hourly import slot_counts
from collector.metrics import OUTCOMES, rate
from collector.rollup import HOUR_US, Layout
from collector.store import Store

MINUTE_US = 60_000_000
# name: (length, slot length), both in microseconds; a window is a whole number of slots
# ending with the slot that holds its end.
WINDOWS: dict[str, tuple[int, int]] = {
    "1h": (HOUR_US, 5 * MINUTE_US),
    "24h": (24 * HOUR_US, HOUR_US),
    "7d": (7 * 24 * HOUR_US, 6 * HOUR_US),
}
KINDS = ("ai", "human")


@dataclass(frozen=True, slots=True)
class Span:
    """A window of whole slots: [start, end), where end is the instant asked for."""

    name: str
    start: int
    end: int
    slot: int

    @property
    def slots(self) -> int:
        return -(-(self.end - self.start) // self.slot)


def span(name: str, end_us: int) -> Span:
    """The window called ``name`` ending at ``end_us``: its slots, the last one partial."""
    length, slot = WINDOWS[name]
    first = ((end_us - 1) // slot) * slot - (length - slot)  # the last slot holds end - 1 µs
    return Span(name, first, end_us, slot)


@dataclass
class Tally:
    """Counts of one channel, or of several pooled, by (kind of fact, class)."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, series: str, group: str, n: int) -> None:
        self.counts[(series, group)] += n

    def merge(self, other: Tally) -> None:
        self.counts.update(other.counts)

    def figures(self, layout: Layout) -> dict[str, Any]:
        """Counts, rates with n and their Wilson interval, p50 and p90 with n."""
        c = self.counts
        ended = sum(c[(SEGMENT, o)] for o in OUTCOMES)
        satisfied, ratings = c[(CSAT, "1")], c[(CSAT, "1")] + c[(CSAT, "0")]
        return {
            "started": c[(STARTED, "")],
            # A channel that only receives handoffs starts nothing; this is what it took in.
            "handed_in": c[(ENTERED, "handoff")],
            "ended": ended,
            **{f"{o}_rate": rate(c[(SEGMENT, o)], ended) for o in OUTCOMES},
            "first_response": self._times(layout, FIRST_RESPONSE),
            "resolution": self._times(layout, RESOLUTION),
            "csat": rate(satisfied, ratings),
            "reopened": c[(REOPEN, "")],
        }

    def _times(self, layout: Layout, series: str) -> dict[str, Any]:
        buckets = [self.counts[(series, label)] for label in layout.labels[series]]
        n = sum(buckets)
        bounds = layout.bounds[series]
        return {
            "n": n,
            "p50": bucket_quantile(0.5, bounds, buckets),
            "p90": bucket_quantile(0.9, bounds, buckets),
        }


def bucket_quantile(q: float, bounds: tuple[float, ...], counts: list[int]) -> float | None:
    """The q-quantile interpolated inside its bucket, as Prometheus' histogram_quantile.

    ``counts`` holds each bucket's own count, the +Inf bucket last; a quantile in the
    +Inf bucket is the highest finite bound. None when there is nothing counted.
    """
    total = sum(counts)
    if total == 0:
        return None
    rank, below = q * total, 0
    for index, count in enumerate(counts):
        if count and below + count >= rank:
            if index == len(bounds):
                return bounds[-1]
            lower = bounds[index - 1] if index else 0.0
            return lower + (bounds[index] - lower) * (rank - below) / count
        below += count
    return bounds[-1]


@dataclass
class Overview:
    """Everything the page shows for one window."""

    span: Span
    kinds: dict[str, str]
    channels: dict[str, Tally] = field(default_factory=dict)
    slots: dict[str, list[Tally]] = field(default_factory=dict)  # by channel, slot by slot

    def channels_of(self, kind: str) -> list[str]:
        return sorted(ch for ch in self.channels if self.kinds.get(ch) == kind)

    def pooled(self, kind: str) -> Tally:
        total = Tally()
        for channel in self.channels_of(kind):
            total.merge(self.channels[channel])
        return total


def read_overview(store: Store, name: str, end_us: int) -> Overview:
    """The figures of every channel over the window ``name`` ending at ``end_us``.

    1. Lay out the window in whole slots (five minutes, an hour or six hours).
    2. Read the counts per slot: the hourly totals, or the facts of the last hour.
    3. Sum them per channel for the window, and keep them per slot for the charts.
    """
    window = span(name, end_us)
    counts = slot_counts(store, window.start, window.end, window.slot)
    kinds = store.channel_kinds()
    view = Overview(window, kinds)
    for channel in (*store.settings.channels, *(key[1] for key in counts)):
        if channel not in view.channels:
            view.channels[channel] = Tally()
            view.slots[channel] = [Tally() for _ in range(window.slots)]
    for (slot, channel, series, group), n in counts.items():
        view.channels[channel].add(series, group, n)
        if 0 <= slot < window.slots:
            view.slots[channel][slot].add(series, group, n)
    return view


HEADLINES = ("started", "resolved_rate", "first_response_p90", "csat")


def headline_series(
    view: Overview, channels: Iterable[str], layout: Layout
) -> dict[str, dict[str, list[float | None]]]:
    """Each headline figure slot by slot for each channel: the points of the charts."""
    found: dict[str, dict[str, list[float | None]]] = {h: {} for h in HEADLINES}
    for channel in channels:
        per_slot = [t.figures(layout) for t in view.slots[channel]]
        for headline in HEADLINES:
            found[headline][channel] = [_headline(f, headline) for f in per_slot]
    return found


def _headline(figures: Mapping[str, Any], figure: str) -> float | None:
    if figure == "started":
        return float(figures["started"])
    if figure == "resolved_rate":
        value: float | None = figures["resolved_rate"]["value"]
        return value
    if figure == "first_response_p90":
        p90: float | None = figures["first_response"]["p90"]
        return p90
    csat: float | None = figures["csat"]["value"]
    return csat
