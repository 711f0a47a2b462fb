"""The Flask application: `create_app(settings)` builds it around one store."""

from __future__ import annotations

import hmac
import logging
import threading
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from collector.errors import StoreError
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


def require_token() -> Response | None:
    """401 unless the request carries one of the configured bearer tokens."""
    tokens = context().settings.tokens
    if not tokens:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() == "bearer" and any(hmac.compare_digest(given.strip(), t) for t in tokens):
        return None
    answer = jsonify(error="a valid bearer token is required for writes")
    answer.status_code = 401
    answer.headers["WWW-Authenticate"] = 'Bearer realm="touchmetrics"'
    return answer


def _http_error(exc: HTTPException) -> tuple[Response, int]:
    messages = {413: f"request body over the limit of {context().settings.max_body_bytes} bytes"}
    code = exc.code or 500
    return jsonify(error=messages.get(code, exc.description)), code


def _store_error(exc: StoreError) -> tuple[Response, int, dict[str, str]]:
    log.warning("database error: %s", exc)
    answer = jsonify(error=f"{exc}; nothing was written, retry later")
    return answer, 503, {"Retry-After": "5"}
