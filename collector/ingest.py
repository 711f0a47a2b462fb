"""Importing files into the store: read, validate, batch, commit with a checkpoint.

Steps for one file:
1. Find where an earlier import of the same file stopped (and that it is the same file).
2. Read records from there, validating each event they hold.
3. Every ``batch_size`` records, commit the batch with the new checkpoint in the same
   transaction, so a crash re-reads at most one uncommitted batch and nothing twice.
"""

from __future__ import annotations

import gc
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from collector.batch import Batch, BatchResult, Checkpoint, Incoming, Rejection
from collector.errors import InvalidEvent
from collector.schema import Validator
from collector.sources.lines import fingerprint
from collector.sources.record import Reader, Record
from collector.store import Store

Progress = Callable[[int], None]  # bytes read since the last call


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


def validate_record(
    validator: Validator, record: Record, source: str
) -> tuple[list[Incoming], Rejection | None]:
    """The events of one record, or its rejection: a record is taken whole or not at all."""
    position = f"{source}:{record.line}"
    if record.error is not None:
        return [], Rejection(source, position, record.raw, record.error)
    events: list[Incoming] = []
    for index, item in enumerate(record.items):
        try:
            event = validator.validate(item)
        except InvalidEvent as exc:
            where = position if len(record.items) == 1 else f"{position} (event {index + 1})"
            return [], Rejection(source, where, record.raw, exc.reason)
        raw = record.raw if len(record.items) == 1 else orjson.dumps(item).decode()
        events.append(Incoming(event, raw, position))
    return events, None


def add_record(batch: Batch, validator: Validator, record: Record) -> None:
    """Validate one record into the batch: its events, or its rejection."""
    events, rejection = validate_record(validator, record, batch.source)
    batch.events.extend(events)
    if rejection is not None:
        batch.rejections.append(rejection)


def batch_of_events(validator: Validator, source: str, events: list[Any]) -> Batch:
    """A batch of event objects, each its own record numbered by its index."""
    batch = Batch(source)
    for index, event in enumerate(events):
        add_record(batch, validator, Record(index, 0, orjson.dumps(event).decode(), [event]))
    return batch


def batches(
    records: Iterable[Record], validator: Validator, source: str, size: int
) -> Iterator[tuple[Batch, Record, int]]:
    """Group validated records into batches of ``size``; yields each with its last record
    and how many records it holds."""
    batch = Batch(source)
    last: Record | None = None
    count = 0
    for record in records:
        add_record(batch, validator, record)
        last, count = record, count + 1
        if count >= size:
            yield batch, last, count
            batch, count = Batch(source), 0
    if last is not None and count:
        yield batch, last, count


def ingest_file(
    store: Store,
    validator: Validator,
    reader: Reader,
    path: Path,
    *,
    progress: Progress | None = None,
    complete_only: bool = False,
) -> Summary:
    """Import one file from where the last import of it stopped."""
    source = str(path.resolve())
    summary = Summary()
    offset, line = _resume_point(store, path, source)
    summary.resumed_at_line = line
    records = reader.records(path, offset, line, complete_only=complete_only)
    with rare_collections():
        size = store.settings.ingest_batch_size
        for batch, last, count in batches(records, validator, source, size):
            batch.checkpoint = Checkpoint(source, fingerprint(path, last.end), last.end, last.line)
            summary.records += count  # not lines: headers, blank lines and wrapped rows differ
            summary.add(store.write_batch(batch))
            if progress is not None:
                progress(last.end - offset)
            offset, line = last.end, last.line
    return summary


_GC_LOCK = threading.Lock()
_GC_USERS: list[tuple[int, int, int]] = []  # the thresholds to restore, while any import runs
GC_THRESHOLD = 50_000


@contextmanager
def rare_collections() -> Iterator[None]:
    """Run the cyclic garbage collector rarely while reading a file.

    Reading allocates millions of short-lived tuples, dicts and lists; reference counting
    frees them, but at the default threshold (700 allocations) the cyclic collector also
    ran some 800 times per 100k events, each pass walking the live objects, for a tenth of
    an import's CPU. The thresholds are process-wide, so concurrent imports share one
    raise and the last one out restores them.
    """
    with _GC_LOCK:
        if not _GC_USERS:
            saved = gc.get_threshold()
            gc.set_threshold(max(saved[0], GC_THRESHOLD), saved[1], saved[2])
        else:
            saved = _GC_USERS[0]
        _GC_USERS.append(saved)
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_USERS.pop()
            if not _GC_USERS:
                gc.set_threshold(*saved)


def _resume_point(store: Store, path: Path, source: str) -> tuple[int, int]:
    saved = store.checkpoint(source)
    if saved is None or path.stat().st_size < saved.offset:
        return 0, 0
    if fingerprint(path, saved.offset) != saved.fingerprint:
        return 0, 0  # another file under the same name: read it all; ids keep it idempotent
    return saved.offset, saved.line
