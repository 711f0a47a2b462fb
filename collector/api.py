"""The /api/v1 routes: event ingestion, platform webhooks and the summary report."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, jsonify, request

from collector.app import context
from collector.batch import Batch, BatchResult, Rejection, add_record
from collector.errors import InputError, InvalidEvent, StoreError, UnsupportedBody
from collector.reporting import BadQuery, parse_query, summary_from_store
from collector.schema import MAX_ID
from collector.sources.body import parse_body
from collector.sources.record import Record
from collector.store import Store

api = Blueprint("api", __name__, url_prefix="/api/v1")
# SQLite takes one writer at a time, and a writer that finds the lock taken polls for it with
# growing sleeps, so under concurrent POSTs some requests starve for seconds. Queueing this
# process's writers on a lock hands the database over at once; parsing and validation still
# run concurrently. One lock for the process: two SQLite stores in one process are test-only.
_SQLITE_WRITES = threading.Lock()


@api.post("/events")
def post_events() -> Any:
    """Accept a JSON array or NDJSON of events; commit the good ones atomically."""
    try:
        records = parse_body(request.get_data())
    except UnsupportedBody as exc:
        return jsonify(error=str(exc)), 415
    except InputError as exc:
        return jsonify(error=str(exc)), 400
    return jsonify(_write(records, f"api/{uuid.uuid4().hex[:12]}"))


def _write(records: list[Record], source: str) -> dict[str, Any]:
    ctx = context()
    batch = Batch(source)
    index_of: dict[str, int] = {}
    by_index: dict[int, Record] = {}  # NDJSON skips blank lines: an index is a line
    for record in records:
        index_of[f"{source}:{record.line}"] = record.line
        by_index[record.line] = record
        add_record(batch, ctx.validator, record)
    with _writer_turn(ctx.store):
        result: BatchResult = ctx.store.write_batch(batch)
    return {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": [
            {
                "index": index_of.get(r.position),
                "id": r.event_id or _id_of(by_index.get(index_of.get(r.position, -1))),
                "error": r.reason,
            }
            for r in result.rejections
        ],
    }


@contextmanager
def _writer_turn(store: Store) -> Iterator[None]:
    """This process' turn to write to SQLite, waited for as long as a statement may wait."""
    if not store.sqlite:
        yield
        return
    limit = store.settings.database_statement_timeout_seconds
    if not _SQLITE_WRITES.acquire(timeout=limit):
        raise StoreError(f"database busy: no turn to write within {limit:g} s")
    try:
        yield
    finally:
        _SQLITE_WRITES.release()


def _id_of(record: Record | None) -> str | None:
    if record is None or not record.items:
        return None
    item = record.items[0]
    value = item.get("id") if isinstance(item, dict) else None
    # Only an id that could be one is echoed: a 1 MB one would make the answer 1 MB.
    return value if isinstance(value, str) and 0 < len(value) <= MAX_ID else None


@api.post("/webhooks/<platform>")
def post_webhook(platform: str) -> Any:
    """Turn a platform's webhook payload into canonical events and write them."""
    from collector.webhooks import ADAPTERS

    adapter = ADAPTERS.get(platform)
    if adapter is None:
        return jsonify(
            error=f"no adapter for platform {platform!r}; known: {', '.join(sorted(ADAPTERS))}"
        ), 404
    body = request.get_data()
    try:
        records = adapter(body, context().settings)
    except InputError as exc:
        return jsonify(error=str(exc)), 400
    except InvalidEvent as exc:
        # The payload parsed but is not what the platform documents: keep it for a replay.
        source = f"webhook/{platform}/{uuid.uuid4().hex[:12]}"
        raw = body.decode("utf-8", errors="replace")
        context().store.write_batch(
            Batch(source, rejections=[Rejection(source, f"{source}:0", raw, exc.reason)])
        )
        return jsonify(error=str(exc)), 422
    if not records:
        return jsonify(accepted=0, duplicates=0, rejected=[], ignored=True)
    return jsonify(_write(records, f"webhook/{platform}/{uuid.uuid4().hex[:12]}"))


@api.get("/summary")
def summary() -> Any:
    """The report of DESIGN section 4 for the query's window, grouping and filters;
    503 while summary_concurrency others are being computed."""
    args = request.args
    try:
        query = parse_query(
            args.get("from"),
            args.get("to"),
            args.get("group_by"),
            args.get("channel"),
            args.get("kind"),
        )
    except BadQuery as exc:
        return jsonify(error=str(exc)), 400
    ctx = context()
    if not ctx.summaries.acquire(blocking=False):
        busy = f"busy: {ctx.settings.summary_concurrency} summaries are being computed"
        return jsonify(error=f"{busy}; retry later"), 503, {"Retry-After": "5"}
    try:
        return jsonify(summary_from_store(ctx.store, query, time.time_ns() // 1000))
    except BadQuery as exc:
        return jsonify(error=str(exc)), 400
    finally:
        ctx.summaries.release()
