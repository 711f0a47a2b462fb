"""Pages and probes: the overview page, /metrics, /healthz and /readyz."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request

from collector.app import context
from collector.database import current_revision, head_revision
from collector.errors import StoreError
from collector.instants import parse_instant
from collector.objectives_view import objective_rows
from collector.outbox import mail_status
from collector.overview import WINDOWS
from collector.page import page_context
from collector.store import EVENTS_CELL
from exporters.prometheus import render_metrics
from exporters.prometheus.scrape import EVENT_RESULTS

web = Blueprint("web", __name__, template_folder="templates")
DEFAULT_WINDOW = "24h"
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
def overview() -> Any:
    """AI and human side by side over the last hour, day or week (``?window=``), ending now
    or at ``?end=``: read from hourly totals, so it costs the same however much is stored."""
    window = request.args.get("window", DEFAULT_WINDOW)
    if window not in WINDOWS:
        return _bad_page(f"`window` must be one of {', '.join(WINDOWS)} (got {window[:40]!r})")
    end_text = request.args.get("end")
    try:
        end_us = parse_instant(end_text) if end_text else int(time.time() * 1_000_000)
    except ValueError:
        got = (end_text or "")[:40]
        return _bad_page(f"`end`: not an ISO 8601 instant with an offset (got {got!r})")
    ctx = context()
    totals = ctx.store.totals()
    events = {r: int(totals.get((EVENTS_CELL, "events", r), 0)) for r in EVENT_RESULTS}
    page = page_context(ctx.store, window, end_us)
    return render_template(
        "overview.html", **page, events=events, end_param=end_text or "",
        objectives=objective_rows(ctx.store), mail_status=mail_status(ctx.settings),
    )  # fmt: skip


def _bad_page(message: str) -> tuple[str, int]:
    return render_template("overview_error.html", message=message), 400
