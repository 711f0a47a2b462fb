"""What goes into the store and what comes out of a write: batches, rejections, checkpoints."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import NamedTuple

from collector.schema import Event


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass(slots=True)
class Rejection:
    """A record that was not accepted, with where it came from and why."""

    source: str
    position: str
    raw: str
    reason: str
    event_id: str | None = None


@dataclass(slots=True)
class Checkpoint:
    """How far a file has been read, committed with the batch that read it."""

    source: str
    fingerprint: str
    offset: int
    line: int


class Incoming(NamedTuple):
    """A validated event with its record as received and where it was read."""

    event: Event
    raw: str
    position: str


@dataclass(slots=True)
class Batch:
    """Validated events with their raw text, and the records that failed validation."""

    source: str
    events: list[Incoming] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    checkpoint: Checkpoint | None = None


@dataclass(slots=True)
class BatchResult:
    accepted: int = 0
    duplicates: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    accepted_ids: list[str] = field(default_factory=list)
