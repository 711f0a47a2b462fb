"""What a reader yields: one input record and the events it holds, or why it holds none."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(slots=True)
class Record:
    """A record read at ``line``; ``end`` is the byte offset just after it.

    It holds events (``items``), or why it cannot (``error``: it is quarantined), or why
    it is no events at all (``skipped``: a mapping's `skip_when`, counted, not stored).
    """

    line: int
    end: int
    raw: str
    items: list[Any] = field(default_factory=list)
    error: str | None = None
    skipped: str | None = None


class Reader(Protocol):
    """Anything that reads a file into records from a byte offset.

    ``key`` names how the file is read, for its checkpoint: reading it another way (another
    mapping) starts anew. ``ledger`` asks the import to refuse one event id made by two
    records with different content (ids a mapping makes), naming both. ``unit`` is what
    a record is, as summaries count them ("row", "line").
    """

    key: str
    ledger: bool
    unit: str

    def records(
        self, path: Path, offset: int = 0, line: int = 0, *, complete_only: bool = False
    ) -> Iterator[Record]: ...
