"""touchmetrics.rules.yml: two recording rules and one alert per objective (DESIGN 13)."""

from __future__ import annotations

from typing import Any

from collector.objectives import Objective
from collector.settings import Settings
from exporters.rules.promql import (
    ALERT,
    alert_expr,
    events_expr,
    events_name,
    ratio_expr,
    ratio_name,
)
from exporters.rules.texts import alert_annotations


def rule_file(settings: Settings) -> dict[str, Any]:
    """The rule file: a group per objective, in the order the configuration lists them."""
    groups = [objective_group(o, settings.public_url) for o in settings.objectives.values()]
    return {"groups": groups}


def objective_group(objective: Objective, public_url: str) -> dict[str, Any]:
    """One objective's rules.

    They share a group so that Prometheus evaluates them in order: the alert reads the
    ratio and the count recorded in the same evaluation, never a step behind.
    """
    o = objective
    labels = {"objective": o.name}
    return {
        "name": f"touchmetrics-objective-{o.name}",
        "rules": [
            {"record": ratio_name(o), "expr": ratio_expr(o), "labels": labels},
            {"record": events_name(o), "expr": events_expr(o), "labels": labels},
            {
                "alert": ALERT,
                "expr": alert_expr(o),
                "for": o.for_,
                "labels": {"objective": o.name, "severity": o.severity},
                "annotations": alert_annotations(o, public_url),
            },
        ],
    }
