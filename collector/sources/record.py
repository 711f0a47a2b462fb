"""What a reader yields: one input record and the events it holds, or why it holds none."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(slots=True)
class Record:
    """A record read at ``line``; ``end`` is the byte offset just after it."""

    line: int
    end: int
    raw: str
    items: list[Any] = field(default_factory=list)
    error: str | None = None


class Reader(Protocol):
    """Anything that reads a file into records from a byte offset."""

    def records(
        self, path: Path, offset: int = 0, line: int = 0, *, complete_only: bool = False
    ) -> Iterator[Record]: ...
