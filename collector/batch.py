"""What goes into the store and what comes out of a write: batches, rejections, checkpoints.

Records become a batch here: each one validated whole, into its events or its rejection.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from collector.errors import InvalidEvent
from collector.schema import Event, Validator
from collector.sources.record import Record

# The reason given when an id arrives again with other content, wherever that is found.
CONFLICT = "field `id`: already used by an event with different content (conflict)"


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass(slots=True)
class Rejection:
    """A record that was not accepted, with where it came from and why.

    Its texts are made storable on both stores as it is made (``storable``): the record
    that is rejected for holding a NUL or invalid UTF-8 must still reach the quarantine.
    """

    source: str
    position: str
    raw: str
    reason: str
    event_id: str | None = None

    def __post_init__(self) -> None:
        self.source = storable(self.source)
        self.position = storable(self.position)
        self.raw = storable(self.raw)
        self.reason = storable(self.reason)


def storable(text: str) -> str:
    """Text that a PostgreSQL ``text`` column can hold, written as the input had it.

    PostgreSQL text cannot hold U+0000, and neither store can encode a lone surrogate (what
    Python makes of undecodable bytes in a file name). A NUL is kept as the JSON escape
    ``\\u0000`` and a lone surrogate as ``\\udcff``: readable in ``quarantine list``, and a
    replayed record that held one is refused again for the same reason. Invalid UTF-8 in
    a record arrives here already escaped as ``\\xff`` by its reader (collector.sources).
    """
    if "\x00" in text:
        text = text.replace("\x00", "\\u0000")
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            text = text.encode("utf-8", "backslashreplace").decode()
    return text


@dataclass(slots=True)
class GroupedPass:
    """A grouped import under way (collector.grouping): the byte range it reads, and how
    far its commits got. The checkpoint's offset stays at the range's start until the
    last batch of the pass commits, so a re-run reads the same range into the same
    buckets and skips the records already committed."""

    end: int  # the offset after the pass's last record
    end_line: int
    buckets: int
    bucket: int = 0  # the bucket being committed
    done: int = 0  # records of that bucket committed


@dataclass(slots=True)
class Checkpoint:
    """How far a file has been read, committed with the batch that read it.

    One per file and way of reading it (``reader``: "jsonl", or a mapping's fingerprint);
    ``rejected`` counts the records its imports rejected, so that a resumed import still
    knows the file had rejections. ``grouped``: a pass by conversation is under way."""

    source: str
    fingerprint: str
    offset: int
    line: int
    reader: str = "jsonl"
    rejected: int = 0
    grouped: GroupedPass | None = None


class Incoming(NamedTuple):
    """A validated event with its record as received and the record's line (or index)."""

    event: Event
    raw: str
    line: int


def position(source: str, line: int) -> str:
    """Where a record was read, as rejections name it: ``file:line`` or ``source:index``."""
    return f"{source}:{line}"


@dataclass(slots=True)
class Batch:
    """Validated events with their raw text, and the records that failed validation."""

    source: str
    events: list[Incoming] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    checkpoint: Checkpoint | None = None
    # The text of each record that holds several events (a CSV row), by its line: the
    # store rejects such a record whole, and quarantines it as it was read.
    records: dict[int, str] = field(default_factory=dict)

    def take(self, record: Record, events: list[Incoming]) -> None:
        """Add the events of one record that passed validation."""
        self.events.extend(events)
        if len(events) > 1:
            self.records[record.line] = record.raw


@dataclass(slots=True)
class BatchResult:
    accepted: int = 0
    duplicates: int = 0
    rejections: list[Rejection] = field(default_factory=list)


def validate_record(
    validator: Validator, record: Record, source: str
) -> tuple[list[Incoming], Rejection | None]:
    """The events of one record, or its rejection: a record is taken whole or not at all."""
    where = position(source, record.line)
    if record.error is not None:
        return [], Rejection(source, where, record.raw, record.error)
    events: list[Incoming] = []
    for index, item in enumerate(record.items):
        try:
            event = validator.validate(item, record.raw)
        except InvalidEvent as exc:
            if len(record.items) > 1:
                where = f"{where} (event {index + 1})"
            return [], Rejection(source, where, record.raw, exc.reason)
        raw = record.raw if len(record.items) == 1 else orjson.dumps(item).decode()
        events.append(Incoming(event, raw, record.line))
    return events, None


def add_record(batch: Batch, validator: Validator, record: Record) -> None:
    """Validate one record into the batch: its events, or its rejection."""
    if record.error is None and len(record.items) == 1:  # the usual record, made short
        try:
            event = validator.validate(record.items[0], record.raw)
        except InvalidEvent as exc:
            where = position(batch.source, record.line)
            batch.rejections.append(Rejection(batch.source, where, record.raw, exc.reason))
        else:
            batch.events.append(Incoming(event, record.raw, record.line))
        return
    events, rejection = validate_record(validator, record, batch.source)
    if rejection is not None:
        batch.rejections.append(rejection)
    else:
        batch.take(record, events)


def batch_of_events(validator: Validator, source: str, events: list[Any]) -> Batch:
    """A batch of event objects, each its own record numbered by its index."""
    batch = Batch(source)
    for index, event in enumerate(events):
        add_record(batch, validator, Record(index, 0, orjson.dumps(event).decode(), [event]))
    return batch
