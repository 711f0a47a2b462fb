"""touchmetrics.rules.test.yml: promtool unit tests for every objective's alert (DESIGN 13).

Per objective, on one channel it covers (and, when it leaves some out, one it does not cover
carrying an even worse share, which must change nothing):

1. a breach fires after `for`: silent one evaluation before, firing at `for`;
2. a breach under `min_events` stays silent where it would otherwise have fired;
3. a recovery resolves: the breach fires, then good events fill the window and it is gone.

Shares sit one event from the bound (59 of 100 against a minimum of 60%, 60 of 100 for the
recovery), so the tests also pin which side of the bound is a breach.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from collector.evaluation import GOOD_OUTCOME, Share
from collector.metrics import OUTCOMES
from collector.objectives import Objective
from collector.settings import Settings
from exporters.rules.promql import (
    ALERT,
    duration_ms,
    events_name,
    format_duration,
    percent,
    ratio_name,
    selectors,
)
from exporters.rules.simulate import Firing, Series, Timeline
from exporters.rules.steps import for_ms, step_classes
from exporters.rules.texts import alert_annotations, render

PER_STEP = 100  # events per step in a breach, so that shares move by whole percents
Counts = list[tuple[int, int]]  # (good, total) added at each step


def rule_tests(settings: Settings, rules_file: str) -> list[tuple[int, dict[str, Any]]]:
    """promtool test files for every objective: (evaluation step in ms, content) each.

    Usually one. promtool evaluates every rule at one step per file and loads at most about
    ten thousand samples per query, so objectives whose windows differ by far more than
    ``SPREAD`` get a file of their own, with a step fitted to their windows.
    """
    objectives = list(settings.objectives.values())
    files = []
    for step, members in step_classes(objectives):
        tests = [t for o in members for t in _Plan(o, settings, step).tests()]
        content = {
            "rule_files": [rules_file],
            "evaluation_interval": format_duration(step),
            "tests": tests,
        }
        files.append((step, content))
    # Without objectives the file still exists, with no tests, so the check runs the same.
    return files or [
        (60_000, {"rule_files": [rules_file], "evaluation_interval": "1m", "tests": []})
    ]


@dataclass
class _Plan:
    """The three tests of one objective."""

    objective: Objective
    settings: Settings
    step: int

    def __post_init__(self) -> None:
        o = self.objective
        self.window = duration_ms(o.window_seconds) // self.step
        self.fire = 1 + -(-duration_ms(o.for_seconds) // self.step)  # breached from step 1
        self.per_step = max(PER_STEP, o.min_events)
        shares = range(self.per_step + 1)
        breaching = [k for k in shares if o.breached_by(k / self.per_step)]
        keeping = [k for k in shares if not o.breached_by(k / self.per_step)]
        # The share nearest the bound on each side: 59 of 100 against min 60%, 60 for the mend.
        self.nearest = max if o.min is not None else min
        self.bad = self.nearest(breaching) if breaching else None
        self.ok = (min if o.min is not None else max)(keeping)
        self.worst = 0 if o.min is not None else self.per_step
        self.channel, self.other = _channels(o, self.settings)

    def tests(self) -> list[dict[str, Any]]:
        if self.bad is None:
            return [self._unbreachable()]
        return [self._fires(), self._under_min_events(), self._recovers()]

    def _fires(self) -> dict[str, Any]:
        o, fire = self.objective, self.fire
        assert self.bad is not None
        counts = [(0, 0)] + [(self.bad, self.per_step)] * fire
        expect = {fire - 1: False, fire: True} if fire > 1 else {fire: True}
        test = self._test(f"a breach fires after `for` ({o.for_})", counts, expect)
        if fire < self.window:  # the window still reaches the first sample: exact values
            test["promql_expr_test"] = self._samples(counts, fire)
        return test

    def _under_min_events(self) -> dict[str, Any]:
        o = self.objective
        n = o.min_events - 1
        bad = self.nearest((k for k in range(n + 1) if o.breached_by(k / n)), default=0) if n else 0
        # Judged where the breach would have fired, while the events are still in the window
        # (when `for` is about as long as the window, that is before `for` has passed).
        at = min(self.fire, self.window - 1)
        counts = [(0, 0), (bad, n)] + [(0, 0)] * (at - 1)
        name = f"a breach under min_events ({n} of {o.min_events}) stays silent"
        test = self._test(name, counts, {at: False})
        if n:
            test["promql_expr_test"] = self._samples(counts, at)
        return test

    def _recovers(self) -> dict[str, Any]:
        fire = self.fire
        # Past the window and every objective's `for`: whatever the good events leave
        # breached has fired by then, whatever they mend has resolved.
        longest_for = max(for_ms(o) for o in self.settings.objectives.values())
        end = fire + self.window + 1 + -(-longest_for // self.step)
        assert self.bad is not None
        counts = [(0, 0)] + [(self.bad, self.per_step)] * fire
        counts += [(self.ok, self.per_step)] * (end - fire)
        return self._test("a recovery resolves the alert", counts, {fire: True, end: False})

    def _unbreachable(self) -> dict[str, Any]:
        name = f"no share can breach {percent(next(iter(self.objective.bound.values())))}"
        counts = [(0, 0)] + [(self.worst, self.per_step)] * self.fire
        return self._test(name, counts, {self.fire: False})

    def _test(self, name: str, counts: Counts, expect: dict[int, bool]) -> dict[str, Any]:
        """A test of these counts, expecting every alert that fires at the given steps.

        ``expect`` says whether this objective's own alert fires at each step: the scenario
        is built for that, and a scenario that does not do it is a bug here, not a test.
        """
        o = self.objective
        series = self._series(counts)
        timeline = Timeline(self.settings.objectives.values(), series, self.step)
        times = sorted(expect)
        firing = timeline.firing(*times)
        for at, fires in expect.items():
            if any(f.objective.name == o.name for f in firing[at]) != fires:
                raise RuntimeError(f"rules test for {o.name}: the scenario misses its point")
        return {
            "name": f"{o.name}: {name}",
            "interval": format_duration(self.step),
            "input_series": [{"series": s.text(), "values": s.values()} for s in series],
            "alert_rule_test": [
                {
                    "eval_time": format_duration(at * self.step),
                    "alertname": ALERT,
                    "exp_alerts": [self._alert(f) for f in firing[at]],
                }
                for at in times
            ],
        }

    def _series(self, counts: Counts) -> list[Series]:
        channel, kind = self.channel
        series = _family(self.objective, channel, kind, counts)
        if self.other is not None:
            worse = [(0, 0)] + [(self.worst, self.per_step)] * (len(counts) - 1)
            series += _family(self.objective, *self.other, worse)
        return series

    def _alert(self, firing: Firing) -> dict[str, Any]:
        o, labels = firing.objective, dict(firing.group)
        value = firing.share.value
        assert value is not None
        texts = alert_annotations(o, self.settings.public_url)
        return {
            "exp_labels": {"objective": o.name, "severity": o.severity, **labels},
            "exp_annotations": {k: render(v, labels, value) for k, v in texts.items()},
        }

    def _samples(self, counts: Counts, at: int) -> list[dict[str, Any]]:
        o = self.objective
        timeline = Timeline([o], self._series(counts), self.step)
        shares = timeline.shares(o, at)
        only = f'{{objective="{o.name}"}}'
        return [
            {
                "expr": name + only,
                "eval_time": format_duration(at * self.step),
                "exp_samples": [
                    {"labels": _labels(name, o.name, key), "value": pick(share)}
                    for key, share in sorted(shares.items())
                ],
            }
            for name, pick in ((ratio_name(o), _value), (events_name(o), _total))
        ]


def _value(share: Share) -> float:
    assert share.value is not None
    return share.value


def _total(share: Share) -> float:
    return float(share.total)


def _labels(metric: str, objective: str, key: tuple[tuple[str, str], ...]) -> str:
    labels = sorted([("objective", objective), *key])
    return metric + "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}"


def _family(o: Objective, channel: str, kind: str, counts: Counts) -> list[Series]:
    """The input series of the objective's indicator for one channel."""
    base = (("channel", channel), ("kind", kind))
    good = tuple(g for g, _ in counts)
    total = tuple(t for _, t in counts)
    rest = tuple(t - g for g, t in counts)
    good_selector, total_selector = selectors(o)
    if o.indicator in GOOD_OUTCOME:
        metric, outcome = total_selector.metric, GOOD_OUTCOME[o.indicator]
        other, unused = (x for x in OUTCOMES if x != outcome)
        return [
            Series(metric, (*base, ("outcome", outcome)), good),
            Series(metric, (*base, ("outcome", other)), rest),
            Series(metric, (*base, ("outcome", unused)), (0,) * len(counts)),
        ]
    return [
        Series(good_selector.metric, base + good_selector.labels, good),
        Series(total_selector.metric, base + total_selector.labels, total),
    ]


def _channels(o: Objective, settings: Settings) -> tuple[tuple[str, str], tuple[str, str] | None]:
    """A channel the objective covers and, when it leaves some out, one it does not."""
    declared = [(name, spec.kind) for name, spec in settings.channels.items()]
    covered = [(n, k) for n, k in declared if o.covers(n, k)]
    left_out = [(n, k) for n, k in declared if not o.covers(n, k)]
    channel = covered[0] if covered else ("example", o.kind or "ai")
    if o.channels is None and o.kind is None:
        return channel, None
    other_kind = {"ai": "human", "human": "ai"}[o.kind] if o.kind else channel[1]
    return channel, left_out[0] if left_out else ("not-covered", other_kind)
