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

from collector.batch import BatchResult, Checkpoint
from collector.collecting import rare_collections
from collector.reading import Job, chunks
from collector.rejections import ByRule
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
    """What became of every record read (a row of a CSV file, a line of JSON Lines).

    Records add up: each is taken (its events accepted, or duplicates of stored ones),
    skipped (a mapping's `skip_when`) or rejected (quarantined whole, by rule).
    """

    accepted: int = 0  # events new to the store
    duplicates: int = 0  # events stored before with the same content
    rejected: int = 0  # records quarantined
    records: int = 0  # records read: not a header, not a blank line
    skipped: Counter[str] = field(default_factory=Counter)  # records, by reason
    by_rule: ByRule = field(default_factory=ByRule)
    unit: str = ""  # what a record is: a "row" of CSV, a "line" of JSON Lines; "" not known
    resumed_after_line: int = 0
    earlier_rejected: int = 0  # records that earlier runs of this import rejected

    def count(self, number: int, noun: str | None = None) -> str:
        """``number`` of records (or of ``noun``), in words: "1 row", "33,344 rows"."""
        noun = noun or self.unit or "record"
        return f"{number:,} {noun}{'' if number == 1 else 's'}"

    @property
    def taken(self) -> int:
        return self.records - self.rejected - sum(self.skipped.values())

    @property
    def events(self) -> int:
        return self.accepted + self.duplicates

    def add(self, result: BatchResult) -> None:
        self.accepted += result.accepted
        self.duplicates += result.duplicates
        self.rejected += len(result.rejections)
        for rejection in result.rejections:
            self.by_rule.add(rejection.position, rejection.reason)

    def merge(self, other: Summary) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.records += other.records
        self.skipped.update(other.skipped)
        self.by_rule.merge(other.by_rule)
        self.earlier_rejected += other.earlier_rejected
        self.unit = other.unit if self.unit in ("", other.unit) else "record"

    def describe(self, path: Path | str) -> str:
        """One file's import in a line whose counts add up: "export.csv: 7 rows: 4 taken
        as 5 events (5 new, 0 duplicates), 1 skipped, 2 rejected"."""
        resumed = f" (resumed after line {self.resumed_after_line:,})"
        skipped = sum(self.skipped.values())
        parts = [
            f"{self.taken:,} taken as {self.count(self.events, 'event')} "
            f"({self.accepted:,} new, {self.count(self.duplicates, 'duplicate')})",
            *([f"{skipped:,} skipped"] if skipped else []),
            f"{self.rejected:,} rejected",
        ]
        earlier = self.earlier_rejected
        return (
            f"{path}{resumed if self.resumed_after_line else ''}: {self.count(self.records)}: "
            + ", ".join(parts)
            + (f"; earlier runs rejected {earlier:,}" if earlier else "")
        )

    def reasons(self) -> list[tuple[str, int]]:
        """(an example reason, count) per rule, the most broken first."""
        return [(g.reason, g.count) for _rule, g in self.by_rule.most_common()]

    def as_dict(self, *, one_file: bool = True) -> dict[str, object]:
        """The summary as `ingest --json` prints it; where a file resumed is said per file."""
        where = {"resumed_after_line": self.resumed_after_line} if one_file else {}
        return {
            "records": self.records,
            "taken": self.taken,
            "skipped": sum(self.skipped.values()),
            "rejected": self.rejected,
            "events": self.events,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "skipped_by_reason": dict(self.skipped.most_common()),
            "rejected_by_rule": self.by_rule.as_list(),
            **where,
            "earlier_rejected": self.earlier_rejected,
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
    restart: bool = False,
    grouped: bool | None = None,
) -> Summary:
    """Import one file from where the last import of it, read the same way, stopped.

    ``restart`` forgets that checkpoint and reads the file from its start (ids keep what
    was stored from being stored twice). ``read_ahead`` reads and prepares batches in a
    second process while this one writes; None decides by the file's unread size and the
    number of cores. ``grouped`` commits the records grouped by conversation
    (collector.grouping), so that a file in random order costs little more than one in
    conversation order; None groups a file holding more than one batch.
    """
    source = str(path.resolve())
    summary = Summary(unit=reader.unit)
    saved = _resume_point(store, path, source, reader.key, restart=restart)
    offset, line = saved.offset, saved.line
    summary.resumed_after_line, summary.earlier_rejected = line, saved.rejected
    size = _batch_size(store)
    job = Job(
        validator, reader, path, source, offset, line, size, complete_only,
        grouped=grouped,
        resumed=saved.grouped,
    )  # fmt: skip
    if read_ahead is None:
        read_ahead = _worth_reading_ahead(path, offset)
    with rare_collections():
        for chunk in chunks(job, ahead=read_ahead):
            summary.records += chunk.records  # not lines: headers, blank lines and wrapped rows
            summary.skipped.update(chunk.skipped)
            summary.add(store.write_batch(chunk.prepared))
            if progress is not None:
                progress(chunk.end - offset)
            offset = chunk.end
    return summary


def _batch_size(store: Store) -> int:
    """The setting, else what measured best per backend. On PostgreSQL each batch pays
    round trips and replays the conversations it shares with the batch before: 300k
    events took 36 s in batches of 5,000, 25 s in batches of 20,000; at a million, 10,000
    was as fast as 20,000 and peaked at 282 MiB instead of 372."""
    chosen = store.settings.ingest_batch_size
    return chosen if chosen is not None else (5_000 if store.sqlite else 10_000)


def _worth_reading_ahead(path: Path, offset: int) -> bool:
    return (os.cpu_count() or 1) > 1 and path.stat().st_size - offset >= READ_AHEAD_BYTES


def _resume_point(store: Store, path: Path, source: str, key: str, *, restart: bool) -> Checkpoint:
    """Where to read from (offset, line, a grouped pass under way) and how many records
    earlier runs rejected."""
    saved = store.checkpoint(source, key)
    if saved is None:
        return Checkpoint(source, "", 0, 0, key)
    # A grouped pass under way read its range to the end before committing anything.
    read = saved.grouped.end if saved.grouped else saved.offset
    grown = path.stat().st_size >= read
    if restart or not grown or fingerprint(path, read) != saved.fingerprint:
        # Asked to, or another file under the same name: read it all; ids keep it
        # idempotent, and the count of rejections starts again with it.
        store.forget_checkpoint(source, key)
        return Checkpoint(source, "", 0, 0, key)
    return saved
