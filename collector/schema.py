"""The canonical event (schema version 1): strict validation and normalisation.

Validation is written out here rather than declared in a model library because most rules
depend on each other or on the configuration (the kind of a declared channel, a score
within its scale, naive timestamps only when a default zone is set) and because it runs
once per record on the ingest hot path.
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

import orjson

from collector.errors import InvalidEvent, quote
from collector.instants import EPOCH, FIRST_US, LAST_US, MICROSECOND, RANGE
from collector.sources.text import find_nul

if TYPE_CHECKING:  # settings build pydantic models: a reading process does without them
    from collector.settings import Settings

# A channel's name, as events and the configuration give it.
CHANNEL_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
EVENT_TYPES = (
    "conversation_started",
    "reopened",
    "message",
    "handoff",
    "resolved",
    "abandoned",
    "csat",
)
# Ties at one instant are applied in this order (DESIGN section 3).
TYPE_ORDER = {name: rank for rank, name in enumerate(EVENT_TYPES)}
AUTHORS = frozenset({"customer", "agent", "system"})
KINDS = frozenset({"ai", "human"})
# Each allowed text to its one shared string: an event then holds no copy of its own, and
# marshal writes each once per batch of events and reads the rest as references.
_TYPES = {name: name for name in EVENT_TYPES}
_AUTHORS = {name: name for name in AUTHORS}
_KINDS = {name: name for name in KINDS}
_KEPT_CHANNELS = 10_000  # channel names remembered as valid
SCALES = frozenset({2, 3, 5, 7, 10})
RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?P<zone>[Zz]|[+-]\d{2}:\d{2})?"
)
MAX_ID = 128
# Limits of DESIGN section 2: a few words of context, not documents (a topic is stored
# with its conversation, and every attribute with its event).
MAX_ATTRIBUTES = 32
MAX_ATTRIBUTE_KEY = 64
MAX_ATTRIBUTE_VALUE = 1024
NUL_RULE = "must not contain NUL (U+0000)"
MAX_PATH = 200  # characters of a nested field's path shown in a reason


class Event(NamedTuple):
    """A validated event; ``ts`` is microseconds since the Unix epoch, UTC.

    A named tuple rather than a dataclass: it is built once per record on the ingest hot
    path and sent between processes, and a tuple is several times cheaper at both. Its
    fields are in the column order of the events table.
    """

    id: str
    conversation_id: str
    type: str
    ts: int
    channel: str | None
    kind: str | None
    author: str | None
    public: bool
    score: int | None
    scale: int
    topic: str | None
    content_hash: str

    def sort_key(self) -> tuple[int, int, str]:
        """Applied order: timestamp, then type rank, then id."""
        return (self.ts, TYPE_ORDER[self.type], self.id)


class Validator:
    """Validates raw records against the schema and the configured channels."""

    def __init__(self, settings: Settings) -> None:
        self.declared = settings.channel_kinds()
        self.zone: tzinfo | None = (
            ZoneInfo(settings.default_timezone) if settings.default_timezone else None
        )
        self._minutes: dict[str, int] = {}  # 'YYYY-MM-DDTHH:MM:' -> microseconds
        self._seconds: dict[str, int] = {}  # 'SS.fffZ' -> microseconds after the minute
        self._channels = {name: name for name in self.declared}  # valid names met

    def validate(self, record: Any, raw: str | None = None) -> Event:
        """Return the normalised event, or raise InvalidEvent naming the field and rule.

        ``raw`` is the text the record was parsed from, when the caller has it: its strings
        are then searched for NUL only when it holds the escape ``\\u0000``, the one way a
        NUL reaches a parsed string (readers refuse a raw NUL byte).
        """
        if not isinstance(record, dict):
            raise InvalidEvent("(record)", "must be a JSON object")
        # One backslash test (a memchr) spares the usual record the six-character search.
        if raw is None or ("\\" in raw and "\\u0000" in raw):
            _refuse_nul(record)
        given = record.get("type")
        etype = _TYPES.get(given) if isinstance(given, str) else None
        if etype is None:
            raise InvalidEvent("type", _required_one_of(given, EVENT_TYPES))
        # The usual valid value is checked inline; anything else takes the helper's checks
        # and error messages. Calls and repeated lookups are a real cost at 1M records.
        conversation_id = record.get("conversation_id")
        if not isinstance(conversation_id, str) or not 0 < len(conversation_id) <= MAX_ID:
            conversation_id = _identifier(record, "conversation_id", required=True)
            assert conversation_id is not None  # required=True raises instead
        ts = self.timestamp(record.get("timestamp"))
        channel, kind = self._channel_and_kind(record, etype)
        author = record.get("author")
        if author is not None:
            shared = _AUTHORS.get(author) if isinstance(author, str) else None
            if shared is None:
                raise InvalidEvent("author", _required_one_of(author, sorted(AUTHORS)))
            author = shared
        elif etype == "message":
            raise InvalidEvent("author", "required on a message: customer, agent or system")
        public = record.get("public", True)
        if not isinstance(public, bool):
            raise InvalidEvent("public", "must be true or false")
        if etype == "csat" or "score" in record or "scale" in record:
            scale, score = _score_and_scale(record, etype)
        else:
            scale, score = 5, None
        attributes = record.get("attributes")
        topic = None if attributes is None else _topic(attributes)
        digest = _content_hash(
            [etype, conversation_id, ts, channel, kind, author, public, score, scale, attributes]
        )
        event_id = record.get("id")
        if event_id is None:
            event_id = digest
        elif not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_ID:
            _identifier(record, "id", required=False)  # raises, naming the rule broken
        return Event(
            event_id, conversation_id, etype, ts, channel, kind, author, public, score, scale,
            topic, digest,
        )  # fmt: skip

    def timestamp(self, value: Any) -> int:
        """Microseconds since the epoch from RFC 3339 text or Unix seconds."""
        if type(value) is str:
            # Timestamps repeat their minute and, at millisecond precision, their seconds:
            # a known-valid 'YYYY-MM-DDTHH:MM:' and a known-valid 'SS.fffZ' make a valid
            # whole. Checked first, before any other form: it is the usual one.
            minute = self._minutes.get(value[:17])
            if minute is not None:
                within = self._seconds.get(value[17:])
                if within is not None:
                    return minute + within
        if isinstance(value, bool) or value is None:
            raise InvalidEvent(
                "timestamp", "required: RFC 3339 text with an offset, or Unix seconds"
            )
        if isinstance(value, int | float):
            # The first test keeps a huge or infinite number from the multiplication.
            if math.isfinite(value) and 0 <= value <= _LAST_SECOND:
                micros = round(value * 1_000_000)
                if micros <= LAST_US:
                    return micros
            raise _out_of_range(value)
        if not isinstance(value, str):
            raise InvalidEvent("timestamp", "must be RFC 3339 text or a number of Unix seconds")
        micros = self._parsed(value)
        if not FIRST_US <= micros <= LAST_US:  # instants.in_range, inline on this path
            raise _out_of_range(value)
        # A remembered minute takes any remembered seconds: the last minute of the range
        # is never remembered, so no sum of the two can pass its end.
        if (
            value[-1] == "Z"
            and micros < _LAST_MINUTE
            and len(self._seconds) < _KEPT
            and len(self._minutes) < _KEPT
        ):
            within = micros % 60_000_000  # UTC minutes are all 60 s long
            self._minutes[value[:17]] = micros - within
            self._seconds[value[17:]] = within
        return micros

    def _parsed(self, value: str) -> int:
        """The full RFC 3339 parse: every form, and the error messages."""
        match = RFC3339.fullmatch(value)
        if match is None:
            raise InvalidEvent("timestamp", f"not an RFC 3339 timestamp (got {quote(value)})")
        try:
            # RFC 3339 allows a lower-case t and z; fromisoformat does not.
            moment = datetime.fromisoformat(value.upper())
        except ValueError as exc:
            raise InvalidEvent("timestamp", f"not a valid date or time (got {value!r})") from exc
        if moment.tzinfo is None:
            if self.zone is None:
                raise InvalidEvent(
                    "timestamp",
                    f"needs an offset or Z (got {value!r}); or configure default_timezone",
                )
            moment = moment.replace(tzinfo=self.zone)
        return (moment - EPOCH) // MICROSECOND  # instants.micros_of, inline on this path

    def _channel(self, name: str) -> str | None:
        """The one shared string of a valid channel name; None for an invalid one."""
        known = self._channels.get(name)
        if known is None and CHANNEL_NAME.fullmatch(name):
            known = name
            if len(self._channels) < _KEPT_CHANNELS:
                self._channels[name] = name
        return known

    def _channel_and_kind(
        self, record: dict[str, Any], etype: str
    ) -> tuple[str | None, str | None]:
        channel = record.get("channel")
        kind = record.get("kind")
        if kind is not None:
            shared = _KINDS.get(kind) if isinstance(kind, str) else None
            if shared is None:
                raise InvalidEvent("kind", _required_one_of(kind, sorted(KINDS)))
            kind = shared
        if channel is None:
            if etype in ("conversation_started", "handoff"):
                target = " (the target)" if etype == "handoff" else ""
                raise InvalidEvent("channel", f"required on {etype}{target}")
            return None, None
        valid = self._channel(channel) if isinstance(channel, str) else None
        if valid is None:
            raise InvalidEvent(
                "channel", f"must match {CHANNEL_NAME.pattern} (got {quote(channel)})"
            )
        channel = valid
        declared = self.declared.get(channel)
        if declared is None:
            if kind is None:
                raise InvalidEvent("kind", f"required: channel {channel!r} is not declared")
            return channel, kind
        if kind is not None and kind != declared:
            raise InvalidEvent("kind", f"channel {channel!r} is declared {declared}, not {kind}")
        return channel, declared


_KEPT = 100_000  # timestamp parts remembered, enough for two months of minutes
_LAST_SECOND = LAST_US // 1_000_000
_LAST_MINUTE = LAST_US - 59_000_000  # 9999-12-31T23:59:00Z


def _out_of_range(value: Any) -> InvalidEvent:
    return InvalidEvent("timestamp", f"out of range: must fall in {RANGE} (got {quote(value)})")


def _refuse_nul(record: dict[str, Any]) -> None:
    """Raise InvalidEvent naming the first string, key or value, that holds a NUL.

    PostgreSQL text cannot hold U+0000 and SQLite can, so without this one poison record
    failed a whole batch on one store and was kept on the other."""
    found = find_nul(record)
    if found is None:
        return
    where = found.path or "(record)"
    if len(where) > MAX_PATH:  # a path 1,000 levels deep would outgrow the reason
        where = f"{where[:MAX_PATH]}…"
    rule = f"a key {NUL_RULE}" if found.key else NUL_RULE
    raise InvalidEvent(where, f"{rule} (got {quote(found.text)})")


def _identifier(record: dict[str, Any], field: str, *, required: bool) -> str | None:
    value = record.get(field)
    if value is None:
        if required:
            raise InvalidEvent(field, f"required: a string of 1 to {MAX_ID} characters")
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_ID:
        raise InvalidEvent(field, f"must be a string of 1 to {MAX_ID} characters")
    return value


def _score_and_scale(record: dict[str, Any], etype: str) -> tuple[int, int | None]:
    scale = record.get("scale", 5)
    if isinstance(scale, bool) or not isinstance(scale, int) or scale not in SCALES:
        raise InvalidEvent("scale", f"must be one of 2, 3, 5, 7, 10 (got {quote(scale)})")
    score = record.get("score")
    if score is None:
        if etype == "csat":
            raise InvalidEvent("score", "required on csat")
        return scale, None
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= scale:
        raise InvalidEvent("score", f"must be an integer from 1 to {scale} (got {quote(score)})")
    return scale, score


def _topic(attributes: Any) -> str | None:
    """The topic among checked attributes: an object of at most 32 short strings."""
    if attributes is None:
        return None
    if not isinstance(attributes, dict):
        raise InvalidEvent("attributes", "must be an object of string to string")
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidEvent("attributes", f"at most {MAX_ATTRIBUTES} keys (got {len(attributes)})")
    for key, value in attributes.items():
        if len(key) > MAX_ATTRIBUTE_KEY:
            raise InvalidEvent(
                "attributes", f"a key of at most {MAX_ATTRIBUTE_KEY} characters (got {quote(key)})"
            )
        if not isinstance(value, str):
            raise InvalidEvent(f"attributes.{key}", "must be a string")
        if len(value) > MAX_ATTRIBUTE_VALUE:
            raise InvalidEvent(
                f"attributes.{key}", f"at most {MAX_ATTRIBUTE_VALUE} characters (got {len(value)})"
            )
    topic = attributes.get("topic")
    return topic if topic else None


def _content_hash(content: list[Any]) -> str:
    """Digest of the normalised fields, the last being the attributes (None or an object)."""
    content[-1] = content[-1] or {}
    payload = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


def _required_one_of(value: Any, allowed: tuple[str, ...] | list[str]) -> str:
    shown = "missing" if value is None else f"got {quote(value)}"
    return f"must be one of {', '.join(allowed)} ({shown})"


def satisfied(score: int, scale: int) -> bool:
    """A rating is satisfied when score >= ceil(0.8 * scale)."""
    return 5 * score >= 4 * scale  # integer form of score >= ceil(0.8 * scale)


def rescaled(score: int, scale: int) -> float:
    """The score on the 1..5 scale."""
    return 1 + 4 * (score - 1) / (scale - 1)
