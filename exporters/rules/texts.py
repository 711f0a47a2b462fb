"""The words of an alert: summary, title and description, as Prometheus templates.

The summary reads well as a mail subject: "bot-chat resolution rate 52% over 1h, objective
≥ 60%". ``render`` fills the same templates in Python, for the generated promtool tests to
expect exactly what Prometheus will write.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from collector.objectives import Objective
from exporters.rules.promql import duration_ms, format_duration, percent

VALUE = "{{ $value | humanizePercentage }}"
LABEL = "{{{{ $labels.{} }}}}"
_LITERAL_BRACES = '{{ "{{" }}'  # how a Go template writes "{{" as text
_RATES = {
    "resolution_rate": ("resolution rate", "ended segments"),
    "escalation_rate": ("escalation rate", "ended segments"),
    "abandonment_rate": ("abandonment rate", "ended segments"),
    "csat": ("CSAT", "ratings"),
}
_DURATIONS = {
    "first_response": "first responses",
    "response": "responses",
    "resolution": "resolutions",
}


def alert_annotations(objective: Objective, public_url: str) -> dict[str, str]:
    """The alert's annotations: ``summary``, ``title`` and ``description``."""
    o = objective
    phrase, unit = _indicator(o)
    group = _group(o)
    side = "at or above" if o.min is not None else "at or below"
    bound = percent(next(iter(o.bound.values())))
    return {
        "summary": f"{group} {phrase} {VALUE} over {o.window}, objective {_symbol(o)} {bound}",
        "title": escape(o.display_title),
        "description": (
            f"{escape(o.display_title)}: the {phrase} of {group} must stay {side} {bound} "
            f"over the trailing {o.window}, judged once it holds at least {o.min_events} "
            f"{unit}. Objective `{o.name}`, severity {o.severity}. "
            f"Numbers: {escape(public_url.rstrip('/'))}/api/v1/summary"
        ),
    }


def _indicator(o: Objective) -> tuple[str, str]:
    if o.indicator in _RATES:
        return _RATES[o.indicator]
    assert o.within_seconds is not None
    noun = _DURATIONS[o.indicator]
    return f"{noun} within {format_duration(duration_ms(o.within_seconds))}", noun


def _group(o: Objective) -> str:
    if o.by == "channel":
        return LABEL.format("channel")
    if o.by == "kind":
        return f"{LABEL.format('kind')} channels"
    if o.channels is not None:
        return ", ".join(o.channels)
    return f"all {o.kind} channels" if o.kind else "all channels"


def _symbol(o: Objective) -> str:
    return "≥" if o.min is not None else "≤"


def escape(text: str) -> str:
    """Configured text as template text: a ``{{`` in a title must not start an action."""
    return text.replace("{{", _LITERAL_BRACES)


def render(template: str, labels: Mapping[str, str], value: float) -> str:
    """What Prometheus makes of one of these templates for an alert with these labels."""
    for name, text in labels.items():
        template = template.replace(LABEL.format(name), text)
    return template.replace(VALUE, humanize_percentage(value)).replace(_LITERAL_BRACES, "{{")


def humanize_percentage(value: float) -> str:
    """Prometheus' ``humanizePercentage``: 0.52 is ``52%``, 0.006667 is ``0.6667%``."""
    scaled = value * 100
    if math.isnan(scaled):
        return "NaN%"
    if math.isinf(scaled):
        return ("+Inf" if scaled > 0 else "-Inf") + "%"
    return f"{scaled:.4g}%"  # Go's %.4g and C's agree on finite numbers
