"""CSV/TSV rows with their byte offsets, so an import can resume in the middle of a file.

A quoted field may hold a line break, so one row can span several physical lines. A row
is reported at its *last* line: the pipeline checkpoints ``(end, line)`` and resumes its
line numbering from there, which stays exact only if ``line`` is the last line consumed.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from collector.sources.lines import Line, read_lines

# A stray quote would otherwise swallow the rest of the file into one row.
MAX_ROW_LINES = 100


@dataclass(frozen=True, slots=True)
class Dialect:
    delimiter: str
    quote: str | None


@dataclass(slots=True)
class Row:
    """One row: ``line`` is its last physical line, ``first`` its first."""

    first: int
    line: int
    end: int
    text: str
    fields: list[str]
    error: str | None = None


def read_rows(
    path: Path, dialect: Dialect, offset: int = 0, line: int = 0, *, complete_only: bool = False
) -> Iterator[Row]:
    """Rows after ``offset``; blank lines are skipped."""
    lines = read_lines(path, offset, line, complete_only=complete_only)
    for group in _groups(lines, dialect.quote, complete_only=complete_only):
        yield _parse(group, dialect)


def read_header(path: Path, dialect: Dialect, *, complete_only: bool = False) -> Row | None:
    """The first row of the file, wherever an import resumes; None while it is incomplete."""
    return next(read_rows(path, dialect, complete_only=complete_only), None)


def _groups(
    lines: Iterator[Line], quote: str | None, *, complete_only: bool
) -> Iterator[list[Line]]:
    backlog: deque[Line] = deque()
    pending: list[Line] = []
    while True:
        item = backlog.popleft() if backlog else next(lines, None)
        if item is None:
            if not pending or complete_only:
                return  # a field still open at the end may be closed by the next write
        elif not pending and not item.text.strip():
            continue  # a blank line between rows
        else:
            pending.append(item)
            if quote is None or not _open(pending, quote):
                yield pending
                pending = []
                continue
            if len(pending) < MAX_ROW_LINES:
                continue
        # An unclosed quote: give up on its first line alone and read the others again.
        yield pending[:1]
        backlog.extendleft(reversed(pending[1:]))
        pending = []


def _open(lines: list[Line], quote: str) -> bool:
    # With doubled quotes as the escape, a field is open exactly when the count is odd.
    return sum(item.text.count(quote) for item in lines) % 2 == 1


def _parse(group: list[Line], dialect: Dialect) -> Row:
    first, last = group[0], group[-1]
    text = "\n".join(item.text for item in group)
    row = Row(first.number, last.number, last.end, text, [])
    for item in group:
        if item.error is not None:  # invalid UTF-8 or a NUL byte
            row.error = item.error if len(group) == 1 else f"line {item.number}: {item.error}"
            return row
    if dialect.quote is not None and _open(group, dialect.quote):
        row.error = f"unbalanced quote: a quoted field opened on line {first.number} never closes"
        if len(group) > 1:
            row.error += f" (read as lines {first.number}-{last.number})"
        return row
    reader = csv.reader(
        [item.text + "\n" for item in group],
        delimiter=dialect.delimiter,
        quotechar=dialect.quote or '"',
        quoting=csv.QUOTE_MINIMAL if dialect.quote else csv.QUOTE_NONE,
        strict=True,
    )
    try:
        row.fields = next(reader)
    except csv.Error as exc:
        row.error = f"malformed {'TSV' if dialect.delimiter == chr(9) else 'CSV'} row: {exc}"
    return row
