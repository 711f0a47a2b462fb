"""Request bodies of POST /api/v1/events: a JSON array, one JSON object, or NDJSON.

The shape of a body is decided for the whole body, so a body that is not NDJSON is
refused with a position instead of being split into fragments that each count as a
rejected record nobody sent:

1. A body that is not UTF-8 text at all (gzip, UTF-16, UTF-32) is refused (415).
2. A UTF-8 byte order mark is dropped.
3. ``[`` begins a JSON array, parsed whole: one record per item, numbered by its index.
4. A body that parses whole as one JSON object (pretty-printed or not) is one record.
5. Otherwise it is NDJSON when at least one of its lines is a JSON object on its own: then
   every non-blank line is a record, numbered by its line (index i is line i + 1), and a
   bad line is one rejected record, as in a JSON Lines file.
6. Anything else (a pretty-printed document broken somewhere, text, bare numbers) is
   refused (400) with the line and column of the fault.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from collector.errors import MalformedBody, UnsupportedBody
from collector.sources.record import Record
from collector.sources.text import at, decode_line

BOM = b"\xef\xbb\xbf"
# RFC 8259 section 8.1: JSON text begins with an ASCII character, so the NUL bytes among
# the first four tell UTF-16 and UTF-32 apart from UTF-8 even without a byte order mark.
_FOREIGN = [
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\xfe\xff", "UTF-16"),
    (b"\xff\xfe", "UTF-16"),
    (b"\x1f\x8b", "gzip-compressed"),
]
_KINDS = {str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}
NO_SHAPE = "a body is a JSON array, one JSON object, or NDJSON (one JSON object per line)"


def parse_body(body: bytes) -> list[Record]:
    """The records of a body, numbered from 0 by their index or line; MalformedBody when
    the body as a whole cannot be read (nothing of it is then stored)."""
    body = _utf8_text(body).removeprefix(BOM)
    text = body.lstrip()
    if not text:
        raise MalformedBody(f"empty body: {NO_SHAPE}")
    if text[:1] == b"[":
        items = _whole(body)
        return [Record(i, 0, json_text(item), [item]) for i, item in enumerate(items)]
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return _ndjson(body, exc)
    if not isinstance(value, dict):
        raise MalformedBody(f"the body is one JSON {_KINDS.get(type(value), 'value')}: {NO_SHAPE}")
    return [Record(0, 0, body.decode().strip(), [value])]


def _utf8_text(body: bytes) -> bytes:
    head = body[:4]
    for mark, name in _FOREIGN:
        if head.startswith(mark):
            raise UnsupportedBody(f"the body is {name}: send UTF-8 JSON, uncompressed")
    if 0 in head[:2]:
        name = "UTF-32" if head.count(0) >= 3 else "UTF-16"
        raise UnsupportedBody(f"the body is {name} (no byte order mark): send UTF-8 JSON")
    return body


def _whole(body: bytes) -> Any:
    """A body parsed as one JSON document, or MalformedBody saying where it breaks."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(_fault(body, exc)) from exc


def _fault(body: bytes, exc: orjson.JSONDecodeError) -> str:
    """Why a whole body does not parse, at a line and column (UTF-8 and NUL named)."""
    for number, data in enumerate(body.split(b"\n"), start=1):
        _text, reason = decode_line(data, number)
        if reason is not None:
            return f"malformed JSON: {reason}"
    return f"malformed JSON: {exc.msg} at line {exc.lineno}, column {exc.colno} (char {exc.pos})"


def _ndjson(body: bytes, fault: orjson.JSONDecodeError) -> list[Record]:
    """One record per non-blank line, when a line at least is an event; else MalformedBody
    saying where the body, read as one document, breaks."""
    records: list[Record] = []
    for index, data in enumerate(body.split(b"\n")):
        data = data.rstrip(b"\r")
        if data.strip():
            records.append(_line_record(data, index))
    if not any(isinstance(r.items[0], dict) for r in records if r.items):
        raise MalformedBody(_fault(body, fault)) from fault
    return records


def _line_record(data: bytes, index: int) -> Record:
    text, reason = decode_line(data, index + 1)
    if reason is not None:
        return Record(index, 0, text, error=reason)
    try:
        return Record(index, 0, text, [orjson.loads(data)])
    except orjson.JSONDecodeError as exc:
        return Record(
            index, 0, text, error=f"invalid JSON: {exc.msg} at {at(exc.colno, index + 1)}"
        )


def json_text(value: Any) -> str:
    """An array item as compact JSON text, the record kept for it, however deep it nests.

    orjson writes at most 254 levels, and parses up to 1,024: an item between the two
    is valid JSON (a JSON Lines file keeps such a line), so it is written out here by a
    loop instead of failing its whole body with a 500."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return _written_by_loop(value)


def _written_by_loop(value: Any) -> str:
    """Compact JSON text as orjson writes it, with a stack of its own instead of recursion."""
    out: list[str] = []
    # One frame per open array or object: its members left, its closing bracket, and
    # whether a member was written yet (a comma goes before every later one).
    stack: list[tuple[Iterator[Any], str, list[bool]]] = []

    def begin(item: Any) -> None:
        if isinstance(item, dict):
            out.append("{")
            stack.append((iter(item.items()), "}", [False]))
        elif isinstance(item, list):
            out.append("[")
            stack.append((iter(item), "]", [False]))
        else:
            out.append(orjson.dumps(item).decode())

    begin(value)
    while stack:
        members, closer, written = stack[-1]
        member: Any = next(members, _END)
        if member is _END:
            stack.pop()
            out.append(closer)
            continue
        if written[0]:
            out.append(",")
        written[0] = True
        if closer == "}":
            key, member = member
            out.append(orjson.dumps(key).decode() + ":")
        begin(member)
    return "".join(out)


_END = object()
