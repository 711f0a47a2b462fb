"""Judging objectives (DESIGN section 11): good k of n per group, its Wilson interval, a state.

The one place an objective's share is computed. The built-in alerts, the overview page, the
summary API and `touchmetrics check` call it; the rules and dashboards express the same
definition in PromQL over histogram buckets whose bounds include every threshold.
It reads the same facts as the report (collector/metrics.py), so both always agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from collector.engine import CSAT, FIRST_RESPONSE, RESOLUTION, RESPONSE, SEGMENT
from collector.metrics import OUTCOMES, FactRow, wilson
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


def good(objective: Objective, fact_kind: str, value: float | None, flag: int | None,
         label: str | None) -> bool | None:  # fmt: skip
    """Whether a fact is good for the objective, bad, or (None) not counted at all."""
    indicator = objective.indicator
    if fact_kind != _FACT_KIND[indicator]:
        return None
    if fact_kind == SEGMENT:
        return None if label not in OUTCOMES else label == GOOD_OUTCOME[indicator]
    if fact_kind == CSAT:
        return bool(flag)
    assert objective.within_seconds is not None
    return (value or 0.0) <= objective.within_seconds


def group_key(objective: Objective, channel: str, kind: str | None) -> GroupKey:
    if objective.by == "channel":
        return (("channel", channel), ("kind", kind or "unknown"))
    if objective.by == "kind":
        return (("kind", kind or "unknown"),)
    return ()


class Tally:
    """Good k of n per group for one objective over [start, end), fed one fact at a time."""

    def __init__(
        self,
        objective: Objective,
        kinds: Mapping[str, str],
        declared: Iterable[str] = (),
        start: int | None = None,
        end: int | None = None,
    ) -> None:
        self.objective, self.kinds, self.start, self.end = objective, kinds, start, end
        self.fact_kind = _FACT_KIND[objective.indicator]
        # Counts per group, as plain integers: the alert job feeds every fact of every
        # window through here, and a new Share per fact cost a third of its time.
        self._good: dict[GroupKey, int] = {}
        self._total: dict[GroupKey, int] = {}
        # Each channel's group, or None when the objective does not cover it, looked up once.
        self._groups: dict[str, GroupKey | None] = {}
        # Every declared channel the objective covers has its group, empty until it sees data.
        for name in declared:
            key = self._group(name)
            if key is not None:
                self._total.setdefault(key, 0)

    def _group(self, channel: str) -> GroupKey | None:
        kind = self.kinds.get(channel)
        covered = self.objective.covers(channel, kind)
        key = self._groups[channel] = group_key(self.objective, channel, kind) if covered else None
        return key

    def add(self, row: FactRow) -> None:
        fact_kind, channel, at, value, flag, label, _topic = row
        if channel is None or (self.start is not None and at < self.start):
            return
        if self.end is not None and at >= self.end:
            return
        key = self._groups[channel] if channel in self._groups else self._group(channel)
        if key is None:
            return
        verdict = good(self.objective, fact_kind, value, flag, label)
        if verdict is not None:
            self._total[key] = self._total.get(key, 0) + 1
            if verdict:
                self._good[key] = self._good.get(key, 0) + 1

    @property
    def shares(self) -> dict[GroupKey, Share]:
        """Good k of n per group so far."""
        return {key: Share(self._good.get(key, 0), n) for key, n in self._total.items()}

    def results(self) -> list[Result]:
        o, shares = self.objective, self.shares
        return [Result(o, k, shares[k], judge(o, shares[k])) for k in sorted(shares)]


class Evaluation:
    """Every objective's tallies, fed one fact at a time.

    A caller that reads facts for something else (the summary's report) judges the
    objectives in the same pass through ``tap``.
    """

    def __init__(
        self,
        objectives: Sequence[Objective],
        kinds: Mapping[str, str],
        declared: Iterable[str] = (),
        now: int | None = None,
    ) -> None:
        declared = list(declared)
        self.tallies: list[Tally] = []
        self._by_fact_kind: dict[str, list[Tally]] = {}
        for o in objectives:
            start = None if now is None else now - window_us(o)
            tally = Tally(o, kinds, declared, start, now)
            self.tallies.append(tally)
            self._by_fact_kind.setdefault(tally.fact_kind, []).append(tally)

    def add(self, row: FactRow) -> None:
        for tally in self._by_fact_kind.get(row[0], ()):
            tally.add(row)

    def tap(self, facts: Iterable[FactRow]) -> Iterator[FactRow]:
        """Pass ``facts`` through unchanged, counting each on the way."""
        for row in facts:
            self.add(row)
            yield row

    def results(self) -> list[Result]:
        return [result for tally in self.tallies for result in tally.results()]


def evaluate(
    objectives: Sequence[Objective],
    facts: Iterable[FactRow],
    kinds: Mapping[str, str],
    declared: Iterable[str] = (),
    now: int | None = None,
) -> list[Result]:
    """Every objective judged group by group, in one pass over ``facts``.

    With ``now`` (microseconds) each objective is judged over its own trailing window
    ``[now - window, now)``; pass at least the facts of the longest window. With ``now``
    None each is judged over all of ``facts``: a whole log, as the check does.
    """
    evaluation = Evaluation(objectives, kinds, declared, now)
    for row in facts:
        evaluation.add(row)
    return evaluation.results()


def window_us(objective: Objective) -> int:
    return int(objective.window_seconds * 1_000_000)


def longest_window_us(objectives: Iterable[Objective]) -> int:
    """The longest window among the objectives, in microseconds (0 when there are none)."""
    return max((window_us(o) for o in objectives), default=0)


def evaluate_store(store: Store, objectives: Sequence[Objective], now: int) -> list[Result]:
    """Every objective over its trailing window ending at ``now``, from the stored facts."""
    if not objectives:
        return []
    facts = store.facts(now - longest_window_us(objectives), now, topics=False)
    return evaluate(objectives, facts, store.channel_kinds(), store.settings.channels, now)
