"""An objective in PromQL: the series it reads, its good share and its denominator.

The Python definitions stay in collector/evaluation.py (which facts are good, how groups
form) and collector/objectives.py (which channels an objective covers); this module writes
the same definitions as PromQL over the series of DESIGN section 5, and the generated
promtool tests prove the two agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from collector.evaluation import GOOD_OUTCOME, group_key
from collector.objectives import Objective
from exporters.prometheus.scrape import go_float

ALERT = "TouchmetricsObjectiveBreached"
_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1))


@dataclass(frozen=True, slots=True)
class Selector:
    """A metric name with exact label matchers (the objective's channels come on top)."""

    metric: str
    labels: tuple[tuple[str, str], ...] = ()

    def matches(self, metric: str, labels: Mapping[str, str]) -> bool:
        return metric == self.metric and all(labels.get(k) == v for k, v in self.labels)

    def promql(self, coverage: tuple[str, ...]) -> str:
        matchers = ",".join((*coverage, *(f'{k}="{v}"' for k, v in self.labels)))
        return f"{self.metric}{{{matchers}}}" if matchers else self.metric


def selectors(objective: Objective) -> tuple[Selector, Selector]:
    """The series of the good events and of all events of the objective's indicator."""
    indicator = objective.indicator
    if indicator in GOOD_OUTCOME:
        total = Selector("touchmetrics_segments_ended_total")
        return Selector(total.metric, (("outcome", GOOD_OUTCOME[indicator]),)), total
    if indicator == "csat":
        return (
            Selector("touchmetrics_csat_satisfied_total"),
            Selector("touchmetrics_csat_responses_total"),
        )
    # Durations: within_seconds is a bucket bound (Settings.histogram_bounds), printed on
    # /metrics by the same function as here, so `le` matches the exposition's text exactly.
    assert objective.within_seconds is not None
    histogram = f"touchmetrics_{indicator}_seconds"
    return (
        Selector(f"{histogram}_bucket", (("le", le_label(objective.within_seconds)),)),
        Selector(f"{histogram}_count"),
    )


def le_label(bound: float) -> str:
    """The text of a bucket bound's `le` label on /metrics (``120`` is ``120.0``)."""
    return go_float(float(bound))


def coverage(objective: Objective) -> tuple[str, ...]:
    """Label matchers for the channels the objective covers (``Objective.covers``)."""
    if objective.channels is not None:
        if len(objective.channels) == 1:
            return (f'channel="{objective.channels[0]}"',)
        # A channel name may hold dots, which a regular expression would read as any character.
        names = "|".join(name.replace(".", "\\\\.") for name in objective.channels)
        return (f'channel=~"{names}"',)
    if objective.kind is not None:
        return (f'kind="{objective.kind}"',)
    return ()


def group_labels(objective: Objective) -> tuple[str, ...]:
    """The labels that form a group (``by``), as collector.evaluation.group_key builds them."""
    return tuple(name for name, _ in group_key(objective, "", None))


def ratio_name(objective: Objective) -> str:
    return f"touchmetrics:objective_ratio:{objective.window}"


def events_name(objective: Objective) -> str:
    return f"touchmetrics:objective_events:{objective.window}"


def _sum(objective: Objective, selector: Selector) -> str:
    by = group_labels(objective)
    aggregation = f"sum by ({', '.join(by)})" if by else "sum"
    return f"{aggregation} (increase({selector.promql(coverage(objective))}[{objective.window}]))"


def ratio_expr(objective: Objective) -> str:
    """The good share per group over the window.

    Both increases cover the same range over series scraped together, so increase()'s
    extrapolation to the window's edges scales both by the same factor and cancels.
    """
    good, total = selectors(objective)
    return f"{_sum(objective, good)}\n/\n{_sum(objective, total)}"


def events_expr(objective: Objective) -> str:
    """The denominator per group over the window (increase() may make it fractional)."""
    return _sum(objective, selectors(objective)[1])


def alert_expr(objective: Objective) -> str:
    """Outside the bound while the window holds at least min_events."""
    only = f'{{objective="{objective.name}"}}'
    op, bound = ("<", objective.min) if objective.min is not None else (">", objective.max)
    return (
        f"{ratio_name(objective)}{only} {op} {bound!r}\n"
        f"and {events_name(objective)}{only} >= {objective.min_events}"
    )


def format_duration(ms: int) -> str:
    """Milliseconds in Prometheus' duration syntax, largest units first (``1h30m``)."""
    if ms == 0:
        return "0s"
    parts = []
    for unit, size in _UNITS:
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def duration_ms(seconds: float) -> int:
    return round(seconds * 1000)


def percent(share: float) -> str:
    """A bound as a percentage: 0.6 is ``60%``, 0.905 is ``90.5%``."""
    return f"{share * 100:.10g}%"
