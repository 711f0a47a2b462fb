"""Pages and probes: the overview page, /metrics, /healthz and /readyz."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request

from collector.app import context
from collector.database import current_revision, head_revision
from collector.engine import (
    CSAT,
    ENTERED,
    FIRST_RESPONSE,
    REOPEN,
    RESOLUTION,
    SEGMENT,
    STARTED,
)
from collector.errors import StoreError
from collector.metrics import OUTCOMES
from collector.objectives_view import objective_rows
from collector.outbox import mail_status
from collector.rollup import OPEN
from collector.store import EVENTS_CELL
from exporters.prometheus import read_snapshot, render_metrics
from exporters.prometheus.scrape import EVENT_RESULTS, Snapshot

web = Blueprint("web", __name__, template_folder="templates")
_READINESS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="touchmetrics-readyz")


@web.get("/metrics")
def metrics() -> Response:
    """The Prometheus exposition, OpenMetrics when the scraper asks for it."""
    body, content_type = render_metrics(context().registry, request.headers.get("Accept"))
    return Response(body, content_type=content_type)


@web.get("/healthz")
def healthz() -> Any:
    """Liveness: the process answers."""
    return jsonify(status="ok")


@web.get("/readyz")
def readyz() -> Any:
    """Readiness: the database answers within the probe timeout and its schema is this
    version's."""
    ctx = context()
    limit = ctx.settings.probe_timeout_seconds
    try:
        # In a helper thread, so the answer comes within the limit whatever the database
        # does; a check left running ends by the probe engine's own timeouts.
        revision = _READINESS.submit(current_revision, ctx.store.probe).result(limit)
    except FutureTimeout:
        error = f"database unavailable: no answer within {limit:g} s"
        return jsonify(status="unavailable", error=error), 503
    except StoreError as exc:
        return jsonify(status="unavailable", error=str(exc)), 503
    if revision != head_revision():
        return jsonify(status="schema not current", schema=revision, expected=head_revision()), 503
    return jsonify(status="ready", schema=revision)


@web.get("/")
def overview() -> str:
    """Per-channel table, AI next to human, read from the all-time totals like /metrics,
    so the page costs the same however much history is stored."""
    ctx = context()
    snapshot = read_snapshot(ctx.store)
    titles = {name: spec.title or name for name, spec in ctx.settings.channels.items()}
    rows = [channel_row(snapshot, name, kind) for name, kind in snapshot.channels()]
    rows.sort(key=lambda row: (row["kind"] != "ai", row["channel"]))
    events = {
        result: int(snapshot.value(EVENTS_CELL, "events", result)) for result in EVENT_RESULTS
    }
    return render_template(
        "overview.html", rows=rows, titles=titles, events=events,
        objectives=objective_rows(ctx.store), mail_status=mail_status(ctx.settings),
    )  # fmt: skip


def channel_row(snapshot: Snapshot, channel: str, kind: str) -> dict[str, Any]:
    """One channel's all-time figures: counts, rates and mean times."""

    def get(series: str, label: str = "") -> float:
        return snapshot.value(channel, series, label)

    ended = sum(get(SEGMENT, outcome) for outcome in OUTCOMES)
    responses = get(CSAT, "responses")
    return {
        "channel": channel,
        "kind": kind,
        "started": int(get(STARTED)),
        # A channel that only receives handoffs starts nothing; this is what it took in.
        "handed_in": int(get(ENTERED, "handoff")),
        "open": int(get(OPEN)),
        "ended": int(ended),
        "rates": {o: get(SEGMENT, o) / ended if ended else None for o in OUTCOMES},
        "first_response": _mean(get(FIRST_RESPONSE, "sum"), get(FIRST_RESPONSE, "count")),
        "resolution": _mean(get(RESOLUTION, "sum"), get(RESOLUTION, "count")),
        "csat": get(CSAT, "satisfied") / responses if responses else None,
        "csat_n": int(responses),
        "reopened": int(get(REOPEN)),
    }


def _mean(total: float, count: float) -> float | None:
    return total / count if count else None
