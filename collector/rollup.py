"""All-time totals derived from facts: what the Prometheus collector reads at scrape time.

Each fact contributes fixed amounts to a few (channel, series, label) cells. When a
conversation is replayed, the store adds the contributions of its new facts and subtracts
those of its old ones, so the totals always equal a fresh count over all facts. Histogram
buckets are counted cumulatively, as Prometheus exposes them (an observation is in every
bucket whose bound holds it), so each cell is one exposed series and can hold its own
high-water mark (see Store._add_totals).
"""

from __future__ import annotations

import bisect
import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from collector.engine import (
    CSAT,
    ENTERED,
    FIRST_RESPONSE,
    REOPEN,
    RESOLUTION,
    RESPONSE,
    SEGMENT,
    STARTED,
)
from collector.settings import Settings

Cell = tuple[str, str, str]  # channel, series, label
SlotCell = tuple[int, str, str, str]  # slot (at // slot length), channel, series, label
HOUR_US = 3_600_000_000
INF = "+Inf"
HISTOGRAMS = (FIRST_RESPONSE, RESPONSE, RESOLUTION)
# The conversations whose current segment is in the channel and has not ended: a gauge,
# exposed at its exact value (entered - ended), not at a high-water mark.
OPEN = "open"
GAUGES = (OPEN,)


class Layout:
    """The histogram bucket bounds in force; its fingerprint tells when totals need a rebuild."""

    def __init__(self, settings: Settings) -> None:
        self.bounds: dict[str, tuple[float, ...]] = {
            kind: settings.histogram_bounds(kind) for kind in HISTOGRAMS
        }
        self.labels = {
            kind: [bucket_label(b) for b in bounds] + [INF] for kind, bounds in self.bounds.items()
        }

    @property
    def fingerprint(self) -> str:
        text = repr(sorted(self.bounds.items()))
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()

    def bucket(self, kind: str, value: float) -> str:
        """The label of the first bucket whose upper bound holds ``value`` (le semantics)."""
        index = bisect.bisect_left(self.bounds[kind], value)
        return self.labels[kind][index]


def bucket_label(bound: float) -> str:
    return repr(float(bound))


def contributions(
    rows: Iterable[Sequence[Any]],
    layout: Layout,
    sign: int = 1,
    slots: Counter[SlotCell] | None = None,
    slot_us: int = HOUR_US,
) -> Counter[Cell]:
    """The cells these facts rows add to (or, with sign -1, take from).

    Rows are in the facts table's column order (conversation_id, kind, channel, at,
    value, flag, label), as the store writes and reads them. With ``slots``, each fact is
    also counted there once, by the slot of event time holding it (its hour), its kind and
    its class: the first bucket holding a duration, the outcome of a segment, "1" or "0" for
    a satisfied or dissatisfied rating.
    """
    # Every fact is counted by (kind, channel, class) first, and the cells each class adds
    # to are worked out once per class: a batch's facts fall in a few hundred classes.
    classes: dict[tuple[str, str, Any], int] = {}
    sums: dict[tuple[str, str], Any] = {}  # floats, added value by value in row order
    hourly: dict[tuple[int, str, str, Any], int] = {}
    bucket = layout.bucket
    for _conversation, kind, channel, at, value, flag, label in rows:
        if channel is None:
            continue  # anomalies without a channel count in reports, not in totals
        if kind in HISTOGRAMS:
            assert value is not None
            group: Any = bucket(kind, value)
            key = (channel, kind)
            sums[key] = sums.get(key, 0.0) + sign * value
        elif kind == CSAT:
            group = flag or 0
        elif kind in (SEGMENT, ENTERED):
            group = label or ""
        elif kind in (STARTED, REOPEN):
            group = ""
        else:
            continue
        cls = (kind, channel, group)
        classes[cls] = classes.get(cls, 0) + 1
        if slots is not None:
            slot = (at // slot_us, channel, kind, group)
            hourly[slot] = hourly.get(slot, 0) + 1
    if slots is not None:
        for (hour, channel, kind, group), count in hourly.items():
            label = ("1" if group else "0") if kind == CSAT else group
            slots[(hour, channel, kind, label)] += sign * count
    cells = _cells(classes, layout, sign)
    for (channel, kind), total in sums.items():
        cells[(channel, kind, "sum")] += total  # a float, in a Counter of ints
    return cells


def _cells(classes: dict[tuple[str, str, Any], int], layout: Layout, sign: int) -> Counter[Cell]:
    """The cells the facts counted by (kind, channel, class) add to, times ``sign``."""
    cells: Counter[Cell] = Counter()
    for (kind, channel, group), count in classes.items():
        amount = sign * count
        if kind in HISTOGRAMS:
            cells[(channel, kind, "count")] += amount
            # Cumulative: an observation is in every bucket from its first one up.
            labels = layout.labels[kind]
            for label in labels[labels.index(group) :]:
                cells[(channel, kind, label)] += amount
        elif kind == CSAT:
            cells[(channel, "csat", "responses")] += amount
            cells[(channel, "csat", "satisfied")] += amount * group
        else:
            cells[(channel, kind, group)] += amount
            if kind != STARTED and kind != REOPEN:  # a segment entered or ended
                cells[(channel, OPEN, "")] += amount if kind == ENTERED else -amount
    return cells
