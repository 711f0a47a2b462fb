"""The Flask application: `create_app(settings)` builds it around one store."""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from collector.errors import StoreError
from collector.gate import body_over_limit, refuse
from collector.schema import Validator
from collector.settings import Settings
from collector.store import Store

log = logging.getLogger("touchmetrics.http")


def create_app(settings: Settings, store: Store | None = None) -> Flask:
    """The WSGI app; every route reads the database, so any number of processes agree."""
    from collector.database import open_store
    from exporters.prometheus import make_registry

    app = Flask("touchmetrics")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the report in contract order
    app.extensions["touchmetrics"] = Context(settings, store or open_store(settings))
    app.extensions["touchmetrics"].registry = make_registry(app.extensions["touchmetrics"].store)
    from collector.api import api
    from collector.web import web

    app.register_blueprint(api)
    app.register_blueprint(web)
    app.before_request(admit)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(StoreError, _store_error)
    return app


class Context:
    """What the routes share: the settings, the store, a validator and the metrics registry."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.validator = Validator(settings)
        self.registry: Any = None
        # Summaries read every fact of their window: more than a few at once would take
        # the server threads writes need, and the interpreter's time scrapes need.
        self.summaries = threading.BoundedSemaphore(settings.summary_concurrency)


def context() -> Context:
    from flask import current_app

    found: Context = current_app.extensions["touchmetrics"]
    return found


def admit() -> Response | None:
    """Refuse what collector/gate.py refuses, for WSGI servers other than `serve`'s
    (which refuses it before reading the body) and as a second guard."""
    headers = request.headers
    length = request.content_length
    if length is None and "chunked" in headers.get("Transfer-Encoding", "").lower():
        known: int | None = None
    else:
        known = length or 0
    refusal = refuse(context().settings, request.method, headers.get, known)
    if refusal is None:
        return None
    answer = jsonify(error=refusal.message)
    answer.status_code = refusal.status
    answer.headers.extend(refusal.headers)
    return answer


def _http_error(exc: HTTPException) -> tuple[Response, int]:
    messages = {413: body_over_limit(context().settings.max_body_bytes)}
    code = exc.code or 500
    return jsonify(error=messages.get(code, exc.description)), code


def _store_error(exc: StoreError) -> tuple[Response, int, dict[str, str]]:
    log.warning("database error: %s", exc)
    answer = jsonify(error=f"{exc}; nothing was written, retry later")
    return answer, 503, {"Retry-After": "5"}
