"""The metric definitions of DESIGN section 3 and the report of section 4, from facts.

Groups add up counts and pool raw values, never average ratios, so a kind or topic group
equals what its channels would give pooled together.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np

from collector.engine import (
    ANOMALY,
    CSAT,
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
FactRow = tuple[str, str | None, int, float | None, int | None, str | None, str | None]


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


def distribution(values: list[float]) -> dict[str, Any]:
    """n, mean, p50, p90, p99 (linear between closest ranks), max; nulls when empty."""
    if not values:
        return {"n": 0, "mean": None, "p50": None, "p90": None, "p99": None, "max": None}
    array = np.asarray(values, dtype=float)
    p50, p90, p99 = (float(q) for q in np.percentile(array, [50, 90, 99]))
    return {
        "n": len(values),
        "mean": math.fsum(values) / len(values),  # exact sum: any fact order, one result
        "p50": p50,
        "p90": p90,
        "p99": p99,
        "max": float(array.max()),
    }


@dataclass(slots=True)
class Tally:
    """Everything one group adds up."""

    started: int = 0
    segments: Counter[str] = field(default_factory=Counter)
    first_response: list[float] = field(default_factory=list)
    response: list[float] = field(default_factory=list)
    resolution: list[float] = field(default_factory=list)
    csat_responses: int = 0
    csat_satisfied: int = 0
    csat_scores: list[float] = field(default_factory=list)
    reopened: int = 0

    def add(self, kind: str, value: float | None, flag: int | None, label: str | None) -> None:
        if kind == STARTED:
            self.started += 1
        elif kind == SEGMENT:
            self.segments[label or ""] += 1
        elif kind == FIRST_RESPONSE:
            self.first_response.append(value or 0.0)
        elif kind == RESPONSE:
            self.response.append(value or 0.0)
        elif kind == RESOLUTION:
            self.resolution.append(value or 0.0)
        elif kind == CSAT:
            self.csat_responses += 1
            self.csat_satisfied += flag or 0
            self.csat_scores.append(value or 0.0)
        elif kind == REOPEN:
            self.reopened += 1

    def as_dict(self) -> dict[str, Any]:
        ended = sum(self.segments[o] for o in OUTCOMES)
        n = self.csat_responses
        csat_value = self.csat_satisfied / n if n else None
        return {
            "conversations_started": self.started,
            "segments": {"ended": ended, **{o: self.segments[o] for o in OUTCOMES}},
            "resolution_rate": rate(self.segments["resolved"], ended),
            "escalation_rate": rate(self.segments["escalated"], ended),
            "abandonment_rate": rate(self.segments["abandoned"], ended),
            "first_response_seconds": distribution(self.first_response),
            "response_seconds": distribution(self.response),
            "resolution_seconds": distribution(self.resolution),
            "csat": {
                "responses": n,
                "satisfied": self.csat_satisfied,
                "value": csat_value,
                "ci95": wilson(self.csat_satisfied, n),
                "mean_score": math.fsum(self.csat_scores) / n if n else None,
            },
            "reopened": self.reopened,
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
    facts: Iterable[FactRow],
    kinds: Mapping[str, str],
    declared: Iterable[str],
    query: Query,
    events: Mapping[str, int],
) -> dict[str, Any]:
    """The report of DESIGN section 4 from the facts that fall in the query's window."""
    tallies: dict[Any, Tally] = {}
    anomalies: Counter[str] = Counter()
    for kind, channel, at, value, flag, label, topic in facts:
        if not query.window.holds(at):
            continue
        if kind == ANOMALY:
            anomalies[label or "unknown"] += 1
            continue
        if channel is None or not _selected(channel, kinds, query):
            continue
        key = _group_key(channel, topic, kinds, query.group_by)
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = Tally()
        tally.add(kind, value, flag, label)
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
