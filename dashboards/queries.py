"""The PromQL of every panel: the series of DESIGN section 5 and the recording rules of 13.

Each function returns one expression. ``select`` is the label matcher that narrows a panel to
a kind (``kind="ai"``) or a channel (``channel="$channel"``); ``by`` is the grouping of the
result: ``("channel",)`` gives one series per channel, ``()`` pools everything selected.
Ratios divide summed counts, never average ratios, as the report does (DESIGN section 3).
``$window`` is the dashboard's trailing window, ``$__rate_interval`` Grafana's own.
"""

from __future__ import annotations

from collections.abc import Sequence

from collector.objectives import Objective

PREFIX = "touchmetrics_"
WINDOW = "$window"
RATE_INTERVAL = "$__rate_interval"
OUTCOMES = ("resolved", "escalated", "abandoned")
# One rule group per window: the names the rules exporter records (DESIGN section 13).
RATIO_RULE = "touchmetrics:objective_ratio:{window}"
EVENTS_RULE = "touchmetrics:objective_events:{window}"


def _by(by: Sequence[str]) -> str:
    return f"sum by ({', '.join(by)})" if by else "sum"


def _matchers(select: str, *more: str) -> str:
    found = [m for m in (select, *more) if m]
    return "{" + ", ".join(found) + "}" if found else ""


def increase(series: str, select: str, by: Sequence[str], *more: str, window: str = WINDOW) -> str:
    """The summed increase of a counter over the window."""
    return f"{_by(by)} (increase({PREFIX}{series}{_matchers(select, *more)}[{window}]))"


def per_hour(series: str, select: str, by: Sequence[str]) -> str:
    """A counter's rate, per hour."""
    inner = f"rate({PREFIX}{series}{_matchers(select)}[{RATE_INTERVAL}])"
    return f"{_by(by)} ({inner}) * 3600"


def outcome_rate(outcome: str, select: str, by: Sequence[str]) -> str:
    """Segments ended with ``outcome`` ÷ all ended segments, over the window."""
    good = increase("segments_ended_total", select, by, f'outcome="{outcome}"')
    total = increase("segments_ended_total", select, by)
    return f"{good}\n  / {total}"


def csat_share(select: str, by: Sequence[str]) -> str:
    """Satisfied ratings ÷ all ratings, over the window."""
    good = increase("csat_satisfied_total", select, by)
    return f"{good}\n  / {increase('csat_responses_total', select, by)}"


def quantile(q: float, histogram: str, select: str, by: Sequence[str]) -> str:
    """A quantile of a histogram over the window, interpolated inside its bucket."""
    buckets = increase(f"{histogram}_seconds_bucket", select, (*by, "le"))
    return f"histogram_quantile({q}, {buckets})"


def buckets_over_time(histogram: str, select: str) -> str:
    """Observations per bucket per interval, for a heatmap."""
    return increase(f"{histogram}_seconds_bucket", select, ("le",), window=RATE_INTERVAL)


def events_received() -> str:
    """Events received per hour, by result (accepted, duplicate, rejected)."""
    return per_hour("events_received_total", "", ("result",))


def seconds_since_last_event(select: str) -> str:
    """Wall-clock seconds since the latest event credited to the channel (event time)."""
    return f"time() - max ({PREFIX}last_event_timestamp_seconds{_matchers(select)})"


def open_conversations(select: str) -> str:
    """Conversations whose current segment is in the selection and has not ended (a gauge)."""
    return f"sum ({PREFIX}open_conversations{_matchers(select)})"


def objective_share(objective: Objective, select: str = "") -> str:
    """The objective's good share over its own window, as its recording rule keeps it."""
    name = RATIO_RULE.format(window=objective.window)
    return name + _matchers(_objective(objective), select)


def objective_verdict(objective: Objective, select: str = "") -> str:
    """The share where the denominator reaches ``min_events``; no value (no data) elsewhere."""
    events = EVENTS_RULE.format(window=objective.window)
    counted = events + _matchers(_objective(objective), select)
    return f"{objective_share(objective, select)}\n  and ({counted} >= {objective.min_events})"


def _objective(objective: Objective) -> str:
    return f'objective="{objective.name}"'


def label_values(label: str, where: str = "") -> str:
    """The query of a Grafana query variable listing a label's values."""
    return f"label_values({PREFIX}conversations_started_total{_matchers(where)}, {label})"
