"""Reading a file line by line from a byte offset, so an import can resume where it stopped."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

FINGERPRINT_BYTES = 4096


@dataclass(slots=True)
class Line:
    """One line of a file: its 1-based number, text without the line end, and end offset."""

    number: int
    text: str
    end: int


def fingerprint(path: Path, length: int) -> str:
    """Identify a file by its first bytes (up to what was read), so a replaced file is noticed."""
    length = min(length, FINGERPRINT_BYTES)
    with path.open("rb") as handle:
        head = handle.read(length)
    return f"{len(head)}:{hashlib.blake2b(head, digest_size=16).hexdigest()}"


def read_lines(
    path: Path, offset: int = 0, line: int = 0, *, complete_only: bool = False
) -> Iterator[Line]:
    """Lines after ``offset``; with ``complete_only`` an unfinished last line waits."""
    with path.open("rb") as handle:
        handle.seek(offset)
        position, number = offset, line
        for raw in handle:
            if complete_only and not raw.endswith(b"\n"):
                return
            position += len(raw)
            number += 1
            yield Line(number, raw.rstrip(b"\r\n").decode("utf-8", errors="replace"), position)
