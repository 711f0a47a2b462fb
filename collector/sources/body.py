"""Request bodies of POST /api/v1/events: a JSON array, or NDJSON (one event per line)."""

from __future__ import annotations

import orjson

from collector.errors import InputError
from collector.sources.record import Record


class MalformedBody(InputError):
    """The body is not JSON at all; the message gives the line and column."""


def parse_body(body: bytes) -> list[Record]:
    """One record per event, numbered from 0 by its index in the batch.

    A JSON array that does not parse fails whole (400). In NDJSON each line stands
    alone, so a bad line is one rejected record and the others still count.
    """
    text = body.lstrip()
    if text.startswith(b"["):
        try:
            items = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno} (char {exc.pos})"
            raise MalformedBody(f"malformed JSON: {exc.msg} at {where}") from exc
        return [
            Record(i, 0, orjson.dumps(item).decode(), items=[item]) for i, item in enumerate(items)
        ]
    return _ndjson(body)


def _ndjson(body: bytes) -> list[Record]:
    records: list[Record] = []
    for line in body.splitlines():
        if not line.strip():
            continue
        raw = line.decode("utf-8", errors="replace")
        index = len(records)
        try:
            records.append(Record(index, 0, raw, items=[orjson.loads(line)]))
        except orjson.JSONDecodeError as exc:
            records.append(
                Record(index, 0, raw, error=f"invalid JSON: {exc.msg} at column {exc.colno}")
            )
    if not records:
        raise MalformedBody("empty body: send a JSON array or NDJSON of events")
    return records
