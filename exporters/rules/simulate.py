"""What the generated rules do with the input series of a promtool test, step by step.

The generated tests must list every alert that fires, and every objective's alert shares one
name, so a test of one objective must also expect the alerts its input raises for the others.
This module works them out. Inputs are counters that start at 0 and are sampled every step;
at step s a window of w steps holds the increments of the steps in (s - w, s]: increase()
over a range whose edges fall on samples, with nothing to extrapolate. Which series an
objective reads, how they group and when a group is breached come from the same definitions
as everywhere else (``Objective.covers``, ``group_key``, ``judge``); the PromQL comes from
exporters/rules/promql.py, and promtool proves the two agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate

from collector.evaluation import GroupKey, Share, group_key, judge
from collector.objectives import Objective
from exporters.rules.promql import duration_ms, selectors


@dataclass(frozen=True, slots=True)
class Series:
    """One input series: its labels (channel and kind first) and its increment per step."""

    metric: str
    labels: tuple[tuple[str, str], ...]
    increments: tuple[int, ...]  # step 0 is the first sample, so its increment is 0

    @property
    def channel(self) -> str:
        return dict(self.labels)["channel"]

    @property
    def kind(self) -> str:
        return dict(self.labels)["kind"]

    def text(self) -> str:
        """The series as promtool names it: ``metric{channel="bot-chat",kind="ai"}``."""
        return self.metric + "{" + ",".join(f'{k}="{v}"' for k, v in self.labels) + "}"

    def values(self) -> str:
        """Its samples in promtool's expanding notation: ``0+5x3 20+10x2``."""
        cumulative = list(accumulate(self.increments))
        parts, i = [], 0
        while i < len(cumulative):
            run = 0
            while i + run + 1 < len(cumulative) and (
                cumulative[i + run + 1] - cumulative[i + run] == cumulative[i + 1] - cumulative[i]
            ):
                run += 1
            if run:
                parts.append(f"{cumulative[i]}+{cumulative[i + 1] - cumulative[i]}x{run}")
            else:
                parts.append(str(cumulative[i]))
            i += run + 1
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Firing:
    """A group of an objective whose alert fires, with its share at that step."""

    objective: Objective
    group: GroupKey
    share: Share


class Timeline:
    """Every objective's groups over input series evaluated every ``step_ms``."""

    def __init__(self, objectives: Iterable[Objective], series: Sequence[Series], step_ms: int):
        self.objectives = list(objectives)
        self.series = list(series)
        self.step_ms = step_ms
        self.sums = [[0, *accumulate(s.increments)] for s in self.series]

    def window_steps(self, objective: Objective) -> int:
        return duration_ms(objective.window_seconds) // self.step_ms

    def shares(self, objective: Objective, step: int) -> dict[GroupKey, Share]:
        """Good of total per group in the objective's window ending at ``step``.

        A group shows only where both sides have series: PromQL's sum over no series is no
        result at all, so a ratio whose numerator is missing (a bucket bound the inputs do
        not have) has no value and no alert, rather than a share of 0.
        """
        good_selector, total_selector = selectors(objective)
        first = max(0, step - self.window_steps(objective)) + 1  # increments counted from here
        counts: dict[GroupKey, list[int]] = {}
        seen: set[GroupKey] = set()
        for series, sums in zip(self.series, self.sums, strict=True):
            labels = dict(series.labels)
            if not objective.covers(series.channel, series.kind):
                continue
            key = group_key(objective, series.channel, series.kind)
            count = sums[step + 1] - sums[first]
            if good_selector.matches(series.metric, labels):
                seen.add(key)
                counts.setdefault(key, [0, 0])[0] += count
            if total_selector.matches(series.metric, labels):
                counts.setdefault(key, [0, 0])[1] += count
        return {key: Share(good, total) for key, (good, total) in counts.items() if key in seen}

    def firing(self, *steps: int) -> dict[int, list[Firing]]:
        """The alerts firing at each of ``steps``: breached at every evaluation for `for`."""
        since: dict[tuple[str, GroupKey], int] = {}
        found: dict[int, list[Firing]] = {}
        for now in range(max(steps) + 1):
            firing = []
            for o in self.objectives:
                # A window needs two samples: at step 0 increase() has no result at all.
                shares = self.shares(o, now) if now else {}
                for key, share in sorted(shares.items()):
                    if judge(o, share) != "breached":
                        since.pop((o.name, key), None)
                        continue
                    start = since.setdefault((o.name, key), now)
                    if (now - start) * self.step_ms >= duration_ms(o.for_seconds):
                        firing.append(Firing(o, key, share))
            if now in steps:
                found[now] = firing
        return found
