"""Objectives as people see them: each group's alert state, its value and its bound.

Read from the alert states the scheduler writes (collector/alerts.py), so the overview page
costs a few rows however much history is stored, and shows what the alert mail sees. The
page, `touchmetrics alerts list` and tests share these dictionaries.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from collector.alerts import alert_states
from collector.evaluation import Share
from collector.objectives import Objective
from collector.outbox import group_labels
from collector.settings import Settings
from collector.store import Store


def describe_state(row: Any, settings: Settings) -> dict[str, Any]:
    """One stored alert state as JSON-ready figures."""
    objective = settings.objectives.get(row.objective)
    share = Share(row.good, row.total)
    return {
        "objective": row.objective,
        "title": objective.display_title if objective else row.objective,
        "configured": objective is not None,
        "indicator": objective.indicator if objective else None,
        "within_seconds": objective.within_seconds if objective else None,
        "group": group_labels(row.group_key),
        "state": row.state,
        "verdict": row.verdict,
        "value": share.value,
        "good": row.good,
        "n": row.total,
        "ci95": share.ci95,
        "bound": objective.bound if objective else None,
        "window": objective.window if objective else None,
        "since": iso(row.changed_at),
        "breached_since": iso(row.breached_since),
        "evaluated_at": iso(row.evaluated_at),
    }


def objective_rows(store: Store) -> list[dict[str, Any]]:
    """Every configured objective's groups as last judged; one placeholder row for an
    objective not judged yet (the scheduler has not run since it was declared)."""
    settings = store.settings
    by_objective: dict[str, list[dict[str, Any]]] = {}
    for row in alert_states(store):
        if row.objective in settings.objectives:
            by_objective.setdefault(row.objective, []).append(describe_state(row, settings))
    rows: list[dict[str, Any]] = []
    for name, objective in settings.objectives.items():
        rows.extend(by_objective.get(name) or [_not_judged(objective)])
    for shown in rows:
        shown["group_name"] = group_name(shown["group"], settings)
    return rows


def _not_judged(o: Objective) -> dict[str, Any]:
    return {
        "objective": o.name, "title": o.display_title, "configured": True,
        "indicator": o.indicator, "within_seconds": o.within_seconds, "group": None,
        "state": None, "verdict": None, "value": None, "good": 0, "n": 0, "ci95": None,
        "bound": o.bound, "window": o.window, "since": None, "breached_since": None,
        "evaluated_at": None,
    }  # fmt: skip


def group_name(group: dict[str, str] | None, settings: Settings) -> str:
    """A channel's title, a kind, or `all channels`."""
    if group is None:
        return "–"
    if "channel" in group:
        spec = settings.channels.get(group["channel"])
        return (spec.title if spec and spec.title else None) or group["channel"]
    return group.get("kind") or "all channels"


def iso(us: int | None) -> str | None:
    if us is None:
        return None
    moment = datetime.fromtimestamp(us / 1e6, UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")
