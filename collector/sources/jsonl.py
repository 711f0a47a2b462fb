"""JSON Lines of canonical events: one record per non-blank line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson

from collector.sources.lines import Line, read_lines
from collector.sources.record import Record
from collector.sources.sniff import refuse_other_formats


class JsonLinesReader:
    """Reads events written one JSON object per line."""

    header_lines = 0
    key = "jsonl"  # how its checkpoints are kept (collector.sources.record.Reader)
    ledger = False  # ids are the sender's: one id twice is a duplicate or a conflict
    unit = "line"

    def records(
        self, path: Path, offset: int = 0, line: int = 0, *, complete_only: bool = False
    ) -> Iterator[Record]:
        if offset == 0:
            refuse_other_formats(path)
        for item in read_lines(path, offset, line, complete_only=complete_only):
            if not item.text.strip():
                continue
            try:
                value = orjson.loads(item.text)
            except orjson.JSONDecodeError as exc:
                yield _unparsed(item, exc)
                continue
            yield Record(item.number, item.end, item.text, items=[value])


def _unparsed(item: Line, exc: orjson.JSONDecodeError) -> Record:
    """The record of a line that is not JSON, with the first reason it is not.

    A line of invalid UTF-8 or with a NUL byte never parses (its text holds ``\\x..`` or a
    raw control character, both invalid anywhere in JSON), so its reason is looked for only
    here, off the path of the usual line."""
    if item.error is not None:
        return Record(item.number, item.end, item.text, error=item.error)
    if item.number == 1 and item.text.startswith("\ufeff"):  # a BOM, as some editors write
        text = item.text[1:]
        try:
            return Record(item.number, item.end, text, items=[orjson.loads(text)])
        except orjson.JSONDecodeError as again:
            exc = again
    error = f"invalid JSON: {exc.msg} at column {exc.colno}"
    return Record(item.number, item.end, item.text, error=error)
