"""Importing files into the store: read, validate, batch, commit with a checkpoint.

Steps for one file:
1. Find where an earlier import of the same file stopped (and that it is the same file).
2. Read records from there into prepared batches (collector.reading), in a second
   process when the file is big enough to repay starting one.
3. Commit each batch with its checkpoint in the same transaction, so a crash re-reads at
   most the uncommitted batches and nothing twice.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from collector.batch import BatchResult
from collector.reading import Job, chunks, rare_collections
from collector.schema import Validator
from collector.sources.lines import fingerprint
from collector.sources.record import Reader
from collector.store import Store

Progress = Callable[[int], None]  # bytes read since the last call

# Below this many unread bytes (about 30,000 events) starting a second process costs
# more than it saves.
READ_AHEAD_BYTES = 4 << 20


@dataclass(slots=True)
class Summary:
    """What became of every record read."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    records: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    resumed_at_line: int = 0

    def add(self, result: BatchResult) -> None:
        self.accepted += result.accepted
        self.duplicates += result.duplicates
        self.rejected += len(result.rejections)
        for rejection in result.rejections:
            self.reasons[rejection.reason] += 1
            if len(self.examples) < 5:
                self.examples.append(f"{rejection.position}: {rejection.reason}")

    def merge(self, other: Summary) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.records += other.records
        self.reasons.update(other.reasons)
        self.examples.extend(other.examples[: max(0, 5 - len(self.examples))])

    def as_dict(self) -> dict[str, object]:
        return {
            "records": self.records,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "rejected_by_reason": dict(self.reasons.most_common()),
        }


def ingest_file(
    store: Store,
    validator: Validator,
    reader: Reader,
    path: Path,
    *,
    progress: Progress | None = None,
    complete_only: bool = False,
    read_ahead: bool | None = None,
) -> Summary:
    """Import one file from where the last import of it stopped.

    ``read_ahead`` reads and prepares batches in a second process while this one writes;
    None decides by the file's unread size and the number of cores.
    """
    source = str(path.resolve())
    summary = Summary()
    offset, line = _resume_point(store, path, source)
    summary.resumed_at_line = line
    job = Job(
        validator, reader, path, source, offset, line,
        store.settings.ingest_batch_size, complete_only,
    )  # fmt: skip
    if read_ahead is None:
        read_ahead = _worth_reading_ahead(path, offset)
    with rare_collections():
        for chunk in chunks(job, ahead=read_ahead):
            summary.records += chunk.records  # not lines: headers, blank lines and wrapped rows
            summary.add(store.write_batch(chunk.prepared))
            if progress is not None:
                progress(chunk.end - offset)
            offset = chunk.end
    return summary


def _worth_reading_ahead(path: Path, offset: int) -> bool:
    return (os.cpu_count() or 1) > 1 and path.stat().st_size - offset >= READ_AHEAD_BYTES


def _resume_point(store: Store, path: Path, source: str) -> tuple[int, int]:
    saved = store.checkpoint(source)
    if saved is None or path.stat().st_size < saved.offset:
        return 0, 0
    if fingerprint(path, saved.offset) != saved.fingerprint:
        return 0, 0  # another file under the same name: read it all; ids keep it idempotent
    return saved.offset, saved.line
