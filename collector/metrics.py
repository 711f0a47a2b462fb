"""The metric definitions of DESIGN section 3 and the report of section 4, from facts.

Groups add up counts and pool raw values, never average ratios, so a kind or topic group
equals what its channels would give pooled together.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np

from collector.engine import (
    ANOMALY,
    CSAT,
    ENTERED,
    FIRST_RESPONSE,
    REOPEN,
    RESOLUTION,
    RESPONSE,
    SEGMENT,
    STARTED,
)
from collector.instants import EPOCH

SCHEMA = "touchmetrics.report/1"
Z95 = 1.959964
OUTCOMES = ("resolved", "escalated", "abandoned")
GROUPINGS = ("channel", "kind", "topic")
ENTRIES = ("started", "handoff", "reopened")  # how a segment began (engine.ENTERED labels)
OpenCounts = Mapping[tuple[str, str | None], int]  # (channel, topic) -> open conversations
FactRow = tuple[str, str | None, int, float | None, int | None, str | None, str | None]
CountKey = tuple[str, str | None, str | None, str | None]  # kind, channel, label, topic
ValueKey = tuple[str, str | None, str | None]  # kind, channel, topic
DISTRIBUTIONS = (FIRST_RESPONSE, RESPONSE, RESOLUTION, CSAT)  # the kinds whose values count


def wilson(successes: int, n: int, z: float = Z95) -> list[float] | None:
    """The Wilson score interval of a proportion; None when there is nothing to estimate."""
    if n == 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # At 0 of n (n of n) the bound is exactly 0 (1); rounding would leave 1.4e-20 behind.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return [low, high]


def rate(successes: int, n: int) -> dict[str, Any]:
    return {"value": successes / n if n else None, "n": n, "ci95": wilson(successes, n)}


def distribution(values: np.ndarray) -> dict[str, Any]:
    """n, mean, p50, p90, p99 (linear between closest ranks), max; nulls when empty.

    The values may come in any order: quantiles read order statistics and the mean is an
    exact sum, so a sorted array from the store and a file's arrival order give one result.
    """
    n = len(values)
    if not n:
        return {"n": 0, "mean": None, "p50": None, "p90": None, "p99": None, "max": None}
    array = np.asarray(values, dtype=float)
    p50, p90, p99 = (float(q) for q in np.percentile(array, [50, 90, 99]))
    return {
        "n": n,
        "mean": math.fsum(array.tolist()) / n,  # exact sum: any fact order, one result
        "p50": p50,
        "p90": p90,
        "p99": p99,
        "max": float(array.max()),
    }


@dataclass(slots=True)
class Aggregate:
    """A window's facts as a report and an evaluation read them: how many facts of each
    (kind, channel, label, topic) and how many of those carry a flag, and the values of each
    distribution kind by (kind, channel, topic). The store computes it in the database
    (collector/aggregates.py); a file's facts are added up here, one at a time."""

    counts: Counter[CountKey] = field(default_factory=Counter)
    flagged: Counter[CountKey] = field(default_factory=Counter)
    values: dict[ValueKey, np.ndarray] = field(default_factory=dict)


class Aggregator:
    """Facts added up into an Aggregate as they come, a batch at a time (a file report
    adds each conversation's facts as it replays it)."""

    __slots__ = ("counts", "end", "flagged", "start", "values")

    def __init__(self, window: Window | None = None) -> None:
        self.start, self.end = (None, None) if window is None else (window.start, window.end)
        self.counts: Counter[CountKey] = Counter()
        self.flagged: Counter[CountKey] = Counter()
        # Packed doubles: a list would take four times the memory.
        self.values: dict[ValueKey, array[float]] = {}

    def add(self, facts: Iterable[FactRow]) -> None:
        """Count the facts that fall in the window."""
        start, end = self.start, self.end
        counts, flagged, values = self.counts, self.flagged, self.values
        for kind, channel, at, value, flag, label, topic in facts:
            if (start is not None and at < start) or (end is not None and at >= end):
                continue
            key = (kind, channel, label, topic)
            counts[key] += 1
            if flag:
                flagged[key] += 1
            if kind in DISTRIBUTIONS:
                pooled = values.get((kind, channel, topic))
                if pooled is None:
                    pooled = values[(kind, channel, topic)] = array("d")
                pooled.append(value or 0.0)

    def result(self) -> Aggregate:
        arrays = {key: np.array(pooled, dtype=float) for key, pooled in self.values.items()}
        return Aggregate(self.counts, self.flagged, arrays)


def aggregate(facts: Iterable[FactRow], window: Window | None = None) -> Aggregate:
    """The Aggregate of the facts that fall in ``window`` (None: all of them)."""
    aggregator = Aggregator(window)
    aggregator.add(facts)
    return aggregator.result()


@dataclass(slots=True)
class Tally:
    """Everything one group adds up."""

    started: int = 0
    segments: Counter[str] = field(default_factory=Counter)
    pooled: dict[str, list[np.ndarray]] = field(default_factory=dict)  # distribution kind
    csat_responses: int = 0
    csat_satisfied: int = 0
    reopened: int = 0
    entered: Counter[str] = field(default_factory=Counter)
    open: int = 0

    def add(self, kind: str, label: str | None, count: int, flagged: int) -> None:
        """``count`` facts of ``kind`` with ``label``, ``flagged`` of them with a flag."""
        if kind == STARTED:
            self.started += count
        elif kind == SEGMENT:
            self.segments[label or ""] += count
        elif kind == CSAT:
            self.csat_responses += count
            self.csat_satisfied += flagged
        elif kind == REOPEN:
            self.reopened += count
        elif kind == ENTERED:
            self.entered[label or ""] += count

    def pool(self, kind: str, values: np.ndarray) -> None:
        self.pooled.setdefault(kind, []).append(values)

    def values(self, kind: str) -> np.ndarray:
        arrays = self.pooled.get(kind, [])
        return arrays[0] if len(arrays) == 1 else np.concatenate([np.empty(0), *arrays])

    def as_dict(self) -> dict[str, Any]:
        ended = sum(self.segments[o] for o in OUTCOMES)
        n = self.csat_responses
        csat_value = self.csat_satisfied / n if n else None
        scores = self.values(CSAT)
        return {
            "conversations_started": self.started,
            "segments": {"ended": ended, **{o: self.segments[o] for o in OUTCOMES}},
            "resolution_rate": rate(self.segments["resolved"], ended),
            "escalation_rate": rate(self.segments["escalated"], ended),
            "abandonment_rate": rate(self.segments["abandoned"], ended),
            "first_response_seconds": distribution(self.values(FIRST_RESPONSE)),
            "response_seconds": distribution(self.values(RESPONSE)),
            "resolution_seconds": distribution(self.values(RESOLUTION)),
            "csat": {
                "responses": n,
                "satisfied": self.csat_satisfied,
                "value": csat_value,
                "ci95": wilson(self.csat_satisfied, n),
                "mean_score": math.fsum(scores.tolist()) / n if n else None,
            },
            "reopened": self.reopened,
            # A channel that only receives handoffs starts 0 conversations: this says
            # how many segments it took in, and how they began.
            "entered": {
                "total": sum(self.entered[e] for e in ENTRIES),
                **{e: self.entered[e] for e in ENTRIES},
            },
            "open": self.open,
        }


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open event-time window [start, end) in microseconds; None is unbounded."""

    start: int | None = None
    end: int | None = None

    def holds(self, at: int) -> bool:
        return (self.start is None or at >= self.start) and (self.end is None or at < self.end)

    def as_dict(self) -> dict[str, str | None]:
        return {"from": _iso(self.start), "to": _iso(self.end)}


@dataclass(frozen=True, slots=True)
class Query:
    """What a report asks for: the window, the grouping and optional filters."""

    window: Window = Window()
    group_by: str = "channel"
    channel: str | None = None
    kind: str | None = None


def build_report(
    facts: Iterable[FactRow] | Aggregate,
    kinds: Mapping[str, str],
    declared: Iterable[str],
    query: Query,
    events: Mapping[str, int],
    open_counts: OpenCounts | None = None,
) -> dict[str, Any]:
    """The report of DESIGN section 4 from the facts that fall in the query's window (or
    their Aggregate, of that window already), and the conversations open at its end by
    (channel, topic)."""
    if not isinstance(facts, Aggregate):
        facts = aggregate(facts, query.window)
    tallies: dict[Any, Tally] = {}

    def tally(channel: str | None, topic: str | None) -> Tally | None:
        if channel is None or not _selected(channel, kinds, query):
            return None
        key = _group_key(channel, topic, kinds, query.group_by)
        return tallies.setdefault(key, Tally())

    anomalies: Counter[str] = Counter()
    for (kind, channel, label, topic), count in facts.counts.items():
        if kind == ANOMALY:
            anomalies[label or "unknown"] += count
        elif (group := tally(channel, topic)) is not None:
            group.add(kind, label, count, facts.flagged[(kind, channel, label, topic)])
    for (kind, channel, topic), values in facts.values.items():
        if (group := tally(channel, topic)) is not None:
            group.pool(kind, values)
    for (channel, topic), count in (open_counts or {}).items():
        if count and (group := tally(channel, topic)) is not None:
            group.open += count
    for name in declared:
        if _selected(name, kinds, query) and query.group_by != "topic":
            tallies.setdefault(_group_key(name, None, kinds, query.group_by), Tally())
    groups = [
        _group_head(key, kinds, query.group_by) | tallies[key].as_dict()
        for key in sorted(tallies, key=_sort_key)
    ]
    return {
        "schema": SCHEMA,
        "window": query.window.as_dict(),
        "group_by": query.group_by,
        "groups": groups,
        "anomalies": dict(sorted(anomalies.items())),
        "events": dict(events),
    }


def counting_open(
    facts: Iterable[FactRow], end: int | None, counts: Counter[tuple[str, str | None]]
) -> Iterator[FactRow]:
    """Pass the facts on, counting into ``counts`` the conversations open at ``end``
    (None: after every fact) by (channel, topic): segments entered before it less segments
    ended before it."""
    for fact in facts:
        kind, channel, at, _value, _flag, _label, topic = fact
        if channel is not None and (end is None or at < end):
            if kind == ENTERED:
                counts[(channel, topic)] += 1
            elif kind == SEGMENT:
                counts[(channel, topic)] -= 1
        yield fact


def _selected(channel: str, kinds: Mapping[str, str], query: Query) -> bool:
    if query.channel is not None and channel != query.channel:
        return False
    return query.kind is None or kinds.get(channel) == query.kind


def _group_key(
    channel: str, topic: str | None, kinds: Mapping[str, str], group_by: str
) -> str | None:
    if group_by == "channel":
        return channel
    if group_by == "kind":
        return kinds.get(channel, "unknown")
    return topic


def _sort_key(key: str | None) -> tuple[bool, str]:
    return (key is None, key or "")


def _group_head(key: str | None, kinds: Mapping[str, str], group_by: str) -> dict[str, Any]:
    if group_by == "channel":
        assert key is not None
        return {"channel": key, "kind": kinds.get(key)}
    return {group_by: key}


def _iso(us: int | None) -> str | None:
    if us is None:
        return None
    moment = EPOCH + timedelta(microseconds=us)  # exact, where a float loses microseconds
    text = moment.isoformat(timespec="microseconds" if us % 1_000_000 else "seconds")
    return text.replace("+00:00", "Z")
