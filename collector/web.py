"""Pages and probes: the overview page, /metrics, /healthz and /readyz."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request

from collector.app import context
from collector.database import current_revision, head_revision
from collector.errors import StoreError
from collector.metrics import Query
from collector.reporting import report_from_store
from exporters.prometheus import render_metrics

web = Blueprint("web", __name__, template_folder="templates")


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
    """Readiness: the database answers and its schema is this version's."""
    try:
        revision = current_revision(context().store.engine)
    except StoreError as exc:
        return jsonify(status="unavailable", error=str(exc)), 503
    if revision != head_revision():
        return jsonify(status="schema not current", schema=revision, expected=head_revision()), 503
    return jsonify(status="ready", schema=revision)


@web.get("/")
def overview() -> str:
    """Per-channel table, AI next to human, with links to the machine-readable outputs."""
    report = report_from_store(context().store, Query())
    groups = sorted(report["groups"], key=lambda g: (g["kind"] != "ai", g["channel"]))
    titles = {name: spec.title or name for name, spec in context().settings.channels.items()}
    return render_template("overview.html", groups=groups, titles=titles, events=report["events"])
