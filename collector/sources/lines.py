"""Reading a file line by line from a byte offset, so an import can resume where it stopped."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from collector.sources.text import invalid_utf8, nul_byte

FINGERPRINT_BYTES = 4096


@dataclass(slots=True)
class Line:
    """One line of a file: its 1-based number, text without the line end, and end offset;
    ``error`` says why it cannot be a record (invalid UTF-8 or a NUL byte)."""

    number: int
    text: str
    end: int
    error: str | None = None


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
            data = raw.rstrip(b"\r\n")
            # Inline rather than collector.sources.text.decode_line: once per line of a file.
            try:
                text = data.decode()
            except UnicodeDecodeError as exc:
                text = data.decode("utf-8", "backslashreplace")
                yield Line(number, text, position, invalid_utf8(data, exc.start))
                continue
            if "\x00" in text:
                yield Line(number, text, position, nul_byte(text.index("\x00") + 1))
                continue
            yield Line(number, text, position)
