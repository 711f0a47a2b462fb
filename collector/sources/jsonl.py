"""JSON Lines of canonical events: one record per non-blank line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson

from collector.sources.lines import read_lines
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
                yield Record(
                    item.number,
                    item.end,
                    item.text,
                    error=f"invalid JSON: {exc.msg} at column {exc.colno}",
                )
                continue
            yield Record(item.number, item.end, item.text, items=[value])
