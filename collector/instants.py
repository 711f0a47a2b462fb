"""Instants as microseconds since the Unix epoch, and the one range every instant must fall in.

DESIGN section 2 bounds a timestamp to [1970-01-01T00:00:00Z, 9999-12-31T23:59:59Z] once its
offset is applied. Events, the summary's ``from``/``to`` and ``report --from/--to`` all check
that range here, so no form of a timestamp is accepted in one place and refused in another,
and every stored or queried instant can be shown again as a date.
"""

from __future__ import annotations

from datetime import UTC, datetime

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIRST_US = 0
LAST_US = 253_402_300_799_000_000  # 9999-12-31T23:59:59Z
RANGE = "[1970-01-01T00:00:00Z, 9999-12-31T23:59:59Z]"
MICROSECOND = datetime.resolution


def in_range(micros: int) -> bool:
    """Whether an instant falls in the range of DESIGN section 2."""
    return FIRST_US <= micros <= LAST_US


def micros_of(moment: datetime) -> int:
    """An aware datetime in microseconds since the epoch, exactly (no float on the way)."""
    return (moment - EPOCH) // MICROSECOND


def parse_instant(text: str) -> int:
    """An ISO 8601 instant (offset required; a bare date means its UTC midnight) in
    microseconds; ValueError says what is wrong with it."""
    # CPython's parser stops at a NUL and accepts what came before it.
    if not text.isascii() or not text.isprintable():
        raise ValueError(f"not an ISO 8601 instant with an offset (got {text[:200]!r})")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO 8601 instant with an offset (got {text[:200]!r})") from None
    if moment.tzinfo is None:
        if len(text) > 10:
            raise ValueError(f"needs an offset or Z (got {text[:200]!r})")
        moment = moment.replace(tzinfo=UTC)
    micros = micros_of(moment)
    if not in_range(micros):
        raise ValueError(f"out of range: must fall in {RANGE} (got {text[:200]!r})")
    return micros
