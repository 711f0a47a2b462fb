"""Reading fields of platform payloads (webhooks, exports) with errors that name the field.

Adapters read nested JSON written by other systems; every reader here raises InvalidPayload
with the dotted path of the offending field, so a rejection says what to fix in the sender.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.errors import InvalidEvent

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_SECONDS = 253402300800  # 10000-01-01: beyond it no datetime exists


class InvalidPayload(InvalidEvent):
    """A platform payload lacks a field its adapter needs, or has it in another shape.

    ``field`` is the dotted path inside the payload (``conversation.id``) and ``rule`` what it
    must be. A subclass of InvalidEvent, so a caller handles both with one ``except``.
    """


def timestamp(holder: Mapping[str, Any], keys: tuple[str, ...], path: str) -> str:
    """RFC 3339 UTC text from the first of ``keys`` present: Unix seconds or ISO text."""
    key = next((k for k in keys if holder.get(k) not in (None, "")), None)
    if key is None:
        raise InvalidPayload(path + keys[0], "required: a time")
    value = holder[key]
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not 0 < value < MAX_SECONDS:
            raise InvalidPayload(path + key, f"Unix seconds out of range (got {value!r})")
        micros = round(value * 1_000_000)
    elif isinstance(value, str):
        micros = _parse_text_time(value, path + key)
    else:
        raise InvalidPayload(path + key, "must be Unix seconds or ISO 8601 text")
    moment = EPOCH + timedelta(microseconds=micros)
    return moment.isoformat().replace("+00:00", "Z")


def _parse_text_time(value: str, path: str) -> int:
    raw = value.strip()
    if raw.endswith(" UTC"):  # Rails' default to_s, as in Chatwoot's older webhook docs
        raw = raw[:-4] + "+00:00"
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        rule = "must be ISO 8601 text with a zone, or Unix seconds"
        raise InvalidPayload(path, f"{rule} (got {value[:40]!r})")
    return (moment - EPOCH) // timedelta(microseconds=1)


def number(holder: Mapping[str, Any], key: str, path: str) -> int:
    """A non-negative integer id, or its digits as text (Chatwoot's older docs quote ids)."""
    value = holder.get(key)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidPayload(path + key, "required: an integer id")
    return value


def mapping(holder: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    """A nested object that must be there."""
    value = holder.get(key)
    if not isinstance(value, Mapping):
        raise InvalidPayload(path + key, "required: an object")
    return value


def text(holder: Mapping[str, Any], key: str, path: str) -> str:
    """A non-empty string that must be there."""
    value = holder.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidPayload(path + key, "required: a string")
    return value


def dig(holder: Any, keys: list[str]) -> Any:
    """The value at a path of keys, or None where the path breaks (optional data)."""
    for key in keys:
        holder = holder.get(key) if isinstance(holder, Mapping) else None
    return holder
