"""Spill buckets: plain tuples kept in memory while few, then in an anonymous temporary file.

Both ways of reading a whole file by conversation use them: `report` straight from files
(collector.offline) and an import grouped by conversation (collector.grouping). Entries
are tuples of str, int, float, bool, None, lists and dicts, written with marshal in
length-prefixed blobs.
"""

from __future__ import annotations

import marshal
import struct
import tempfile
from dataclasses import dataclass, field
from typing import IO, Any

SPILL_AT = 256  # entries a bucket holds in memory before it writes them out
_LENGTH = struct.Struct("<I")

Entry = tuple[Any, ...]


@dataclass(slots=True)
class Bucket:
    """Entries added: a buffer, then a temporary file."""

    pending: list[Entry] = field(default_factory=list)
    file: IO[bytes] | None = None
    count: int = 0  # entries added

    def add(self, entry: Entry) -> None:
        self.pending.append(entry)
        self.count += 1
        if len(self.pending) >= SPILL_AT:
            self.spill()

    def spill(self) -> None:
        if not self.pending:
            return
        if self.file is None:
            # Open across many calls; close() closes it.
            self.file = tempfile.TemporaryFile(prefix="touchmetrics-")  # noqa: SIM115
        # Length-prefixed: marshal.load on a file reads it in tiny pieces, ten times slower.
        blob = marshal.dumps(self.pending)
        self.file.write(_LENGTH.pack(len(blob)) + blob)
        self.pending = []

    def entries(self) -> list[Entry]:
        """Everything added so far, in the order added."""
        entries: list[Entry] = []
        if self.file is not None:
            self.file.seek(0)
            while header := self.file.read(_LENGTH.size):
                (size,) = _LENGTH.unpack(header)
                entries.extend(marshal.loads(self.file.read(size)))
            self.file.seek(0, 2)  # later spills append
        entries.extend(self.pending)
        return entries

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
