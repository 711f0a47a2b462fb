"""JSON Lines of canonical events: one record per non-blank line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson

from collector.sources.lines import read_lines
from collector.sources.record import Record


class JsonLinesReader:
    """Reads events written one JSON object per line."""

    header_lines = 0

    def records(
        self, path: Path, offset: int = 0, line: int = 0, *, complete_only: bool = False
    ) -> Iterator[Record]:
        for item in read_lines(path, offset, line, complete_only=complete_only):
            if item.error is not None:
                yield Record(item.number, item.end, item.text, error=item.error)
                continue
            if item.number == 1:  # a byte order mark, as some editors write, is no content
                item.text = item.text.removeprefix("\ufeff")
            if not item.text.strip():
                continue
            try:
                value = orjson.loads(item.text)
            except orjson.JSONDecodeError as exc:
                yield Record(
                    item.number,
                    item.end,
                    item.text,
                    error=f"invalid JSON: {exc.msg} at column {exc.colno}",
                )
                continue
            yield Record(item.number, item.end, item.text, items=[value])
