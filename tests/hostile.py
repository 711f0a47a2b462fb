"""Hostile records and bodies shared by the hostile-input suites (HTTP and files)."""

from __future__ import annotations

from typing import Any

import orjson

from tests.events import customer, start

JSON = {"Content-Type": "application/json"}
NDJSON = {"Content-Type": "application/x-ndjson"}


def good(n: int) -> dict[str, Any]:
    """A valid conversation start, the n-th of a batch, for the bad records to travel with."""
    return start(n, cid=f"good-{n}", channel="chat", id=f"good-{n}")


def ndjson(items: list[dict[str, Any] | bytes]) -> bytes:
    """NDJSON of objects, with byte strings kept as they are (the hostile lines)."""
    return b"".join((i if isinstance(i, bytes) else orjson.dumps(i)) + b"\n" for i in items)


# A NUL (U+0000) in every kind of string an event carries, sent escaped as JSON allows.
NUL_CASES: dict[str, dict[str, Any]] = {
    "id": start(1, cid="n1", channel="chat", id="e\x001"),
    "conversation_id": start(1, cid="c\x001", channel="chat"),
    "channel": start(1, cid="n3", channel="chat\x00"),
    "attributes.topic": start(1, cid="n4", channel="chat", attributes={"topic": "bil\x00ling"}),
    "attributes key": start(1, cid="n5", channel="chat", attributes={"to\x00pic": "billing"}),
    "unknown field": start(1, cid="n6", channel="chat", note="hello\x00"),
    "nested unknown field": customer(1, cid="n7", extra={"deep": ["x", "y\x00"]}),
}

# The same instant bounds for every form: [1970-01-01T00:00:00Z, 9999-12-31T23:59:59Z].
TIMESTAMPS_OUT = [
    "0001-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59-23:59",
    "1969-12-31T23:59:59Z",
    "9999-12-31T23:59:59.5Z",
    -1,
    253_402_300_799.5,
    253_402_300_800,
]
TIMESTAMPS_IN = ["1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z", 0, 253_402_300_799]


def attributes(keys: int = 1, key_length: int = 5, value_length: int = 7) -> dict[str, str]:
    """``keys`` attributes, each key ``key_length`` and each value ``value_length`` long."""
    return {f"{i:0{key_length}d}": "v" * value_length for i in range(keys)}


def accounted(answer: dict[str, Any]) -> int:
    """How many records an answer of POST /api/v1/events accounts for."""
    return int(answer["accepted"]) + int(answer["duplicates"]) + len(answer["rejected"])


def nested(depth: int, leaf: str) -> str:
    """JSON text of ``leaf`` inside ``depth`` arrays: valid up to orjson's 1,024 levels,
    far deeper than the 254 levels orjson (or Python's recursion limit) writes or walks."""
    return "[" * depth + leaf + "]" * depth


def with_field(event: dict[str, Any], name: str, json_text: str) -> str:
    """An event's compact JSON text with one more field, its value given as JSON text."""
    return orjson.dumps(event).decode()[:-1] + f',"{name}":{json_text}}}'
