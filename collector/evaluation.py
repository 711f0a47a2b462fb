"""Judging objectives (DESIGN section 11): good k of n per group, its Wilson interval, a state.

The one place an objective's share is computed. The built-in alerts, the overview page, the
summary API and `touchmetrics check` call it; the rules and dashboards express the same
definition in PromQL over histogram buckets whose bounds include every threshold.
It reads the same Aggregate of facts as the report (collector/metrics.py), so both always
agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import numpy as np

from collector.aggregates import read_aggregate
from collector.engine import CSAT, FIRST_RESPONSE, RESOLUTION, RESPONSE, SEGMENT
from collector.metrics import OUTCOMES, Aggregate, FactRow, Window, aggregate, wilson
from collector.objectives import Objective
from collector.store import Store

State = Literal["met", "breached", "no_data"]
GroupKey = tuple[tuple[str, str], ...]  # the group's labels, sorted: hashable and ordered
_FACT_KIND = {
    "resolution_rate": SEGMENT,
    "escalation_rate": SEGMENT,
    "abandonment_rate": SEGMENT,
    "csat": CSAT,
    "first_response": FIRST_RESPONSE,
    "response": RESPONSE,
    "resolution": RESOLUTION,
}
GOOD_OUTCOME = {  # the outcome a rate counts as its numerator
    "resolution_rate": "resolved",
    "escalation_rate": "escalated",
    "abandonment_rate": "abandoned",
}


@dataclass(frozen=True, slots=True)
class Share:
    """Good ``good`` of ``total``."""

    good: int = 0
    total: int = 0

    @property
    def value(self) -> float | None:
        return self.good / self.total if self.total else None

    @property
    def ci95(self) -> list[float] | None:
        return wilson(self.good, self.total)

    def plus(self, good: bool) -> Share:
        return Share(self.good + int(good), self.total + 1)


@dataclass(frozen=True, slots=True)
class Result:
    """One objective judged for one group over one window."""

    objective: Objective
    group: GroupKey
    share: Share
    state: State

    @property
    def labels(self) -> dict[str, str]:
        """The group as labels: channel and kind, the kind, or nothing (``by: all``)."""
        return dict(self.group)

    def as_dict(self) -> dict[str, Any]:
        return {
            "objective": self.objective.name,
            "title": self.objective.display_title,
            "indicator": self.objective.indicator,
            "group": self.labels,
            "bound": self.objective.bound,
            "window": self.objective.window,
            "value": self.share.value,
            "good": self.share.good,
            "n": self.share.total,
            "ci95": self.share.ci95,
            "state": self.state,
        }


def judge(objective: Objective, share: Share) -> State:
    """no data under ``min_events``; breached outside the bound; met otherwise."""
    if share.total < objective.min_events or share.value is None:
        return "no_data"
    return "breached" if objective.breached_by(share.value) else "met"


def group_key(objective: Objective, channel: str, kind: str | None) -> GroupKey:
    if objective.by == "channel":
        return (("channel", channel), ("kind", kind or "unknown"))
    if objective.by == "kind":
        return (("kind", kind or "unknown"),)
    return ()


class Tally:
    """Good k of n per group for one objective, added up from Aggregates of its window."""

    def __init__(
        self, objective: Objective, kinds: Mapping[str, str], declared: Iterable[str] = ()
    ) -> None:
        self.objective, self.kinds = objective, kinds
        self.fact_kind = _FACT_KIND[objective.indicator]
        self._good: dict[GroupKey, int] = {}
        self._total: dict[GroupKey, int] = {}
        # Every declared channel the objective covers has its group, empty until it sees data.
        for name in declared:
            key = self._group(name)
            if key is not None:
                self._total.setdefault(key, 0)

    def _group(self, channel: str | None) -> GroupKey | None:
        """The channel's group, or None when the objective does not cover it."""
        if channel is None:
            return None
        kind = self.kinds.get(channel)
        covered = self.objective.covers(channel, kind)
        return group_key(self.objective, channel, kind) if covered else None

    def _count(self, channel: str | None, good: int, total: int) -> None:
        key = self._group(channel)
        if key is not None and total:
            self._total[key] = self._total.get(key, 0) + total
            self._good[key] = self._good.get(key, 0) + good

    def add(self, facts: Aggregate) -> None:
        """The objective's good and total facts: a segment with an outcome (good when it is
        the rate's), a CSAT response (good when satisfied), a duration (good within the
        bound)."""
        if self.fact_kind in (SEGMENT, CSAT):
            for key, count in facts.counts.items():
                kind, channel, label, _topic = key
                if kind != self.fact_kind:
                    continue
                if kind == CSAT:
                    self._count(channel, facts.flagged[key], count)
                elif label in OUTCOMES:
                    good = count if label == GOOD_OUTCOME[self.objective.indicator] else 0
                    self._count(channel, good, count)
            return
        bound = self.objective.within_seconds
        assert bound is not None
        for (kind, channel, _topic), values in facts.values.items():
            if kind == self.fact_kind:
                self._count(channel, int(np.count_nonzero(values <= bound)), len(values))

    @property
    def shares(self) -> dict[GroupKey, Share]:
        """Good k of n per group so far."""
        return {key: Share(self._good.get(key, 0), n) for key, n in self._total.items()}

    def results(self) -> list[Result]:
        o, shares = self.objective, self.shares
        return [Result(o, k, shares[k], judge(o, shares[k])) for k in sorted(shares)]


Span = tuple[int | None, int | None]


def evaluate_aggregates(
    objectives: Sequence[Objective],
    read: Callable[[Span], Aggregate],
    kinds: Mapping[str, str],
    declared: Iterable[str] = (),
    now: int | None = None,
) -> list[Result]:
    """Every objective judged group by group from ``read(span)``, the Aggregate of a span.

    With ``now`` (microseconds) each objective is judged over its own trailing window
    ``[now - window, now)``; with ``now`` None each over ``read((None, None))``. A span
    several objectives share is read once.
    """
    declared = list(declared)
    read_once = cache(read)
    results: list[Result] = []
    for objective in objectives:
        tally = Tally(objective, kinds, declared)
        tally.add(read_once(span_of(objective, now)))
        results.extend(tally.results())
    return results


def evaluate(
    objectives: Sequence[Objective],
    facts: Iterable[FactRow],
    kinds: Mapping[str, str],
    declared: Iterable[str] = (),
    now: int | None = None,
) -> list[Result]:
    """Every objective judged group by group, from ``facts`` read once: a whole log, or
    (with ``now``) at least the facts of the longest window. The store and the check read
    Aggregates instead (``evaluate_aggregates``); this is the same judgement from rows."""
    spans = {span_of(o, now) for o in objectives}
    if len(spans) == 1:
        (span,) = spans
        aggregates = {span: aggregate(facts, Window(*span))}
    else:
        rows = list(facts)  # held once for a few windows; the store path reads no rows
        aggregates = {span: aggregate(rows, Window(*span)) for span in spans}
    return evaluate_aggregates(objectives, aggregates.__getitem__, kinds, declared, now)


def span_of(objective: Objective, now: int | None) -> Span:
    return (None, None) if now is None else (now - window_us(objective), now)


def window_us(objective: Objective) -> int:
    return int(objective.window_seconds * 1_000_000)


def evaluate_store(store: Store, objectives: Sequence[Objective], now: int) -> list[Result]:
    """Every objective over its trailing window ending at ``now``, from the stored facts."""
    if not objectives:
        return []

    def read(span: Span) -> Aggregate:
        return read_aggregate(store, *span)

    kinds, declared = store.channel_kinds(), store.settings.channels
    return evaluate_aggregates(objectives, read, kinds, declared, now)
