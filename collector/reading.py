"""Reading a file into prepared batches, here or in a second process.

An import is two jobs of about the same size: reading, validating and preparing records
(collector.prepare), and writing them. Both are Python, so threads would take turns on
the interpreter lock; with ``ahead`` a second process prepares batches while this one
writes, on two cores (collector.offload). It runs at most a few batches ahead, so memory
stays bounded, and each batch still commits with its own checkpoint.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path

from collector.batch import Batch, Checkpoint, GroupedPass, add_record
from collector.grouping import Range, grouped, worth_grouping
from collector.ledger import IdLedger, add_checked
from collector.offload import offloaded
from collector.prepare import Prepared, prepare
from collector.schema import Validator
from collector.sources.lines import fingerprint
from collector.sources.record import Reader, Record


@dataclass(slots=True)
class Job:
    """One file to read from a point; crosses to the reading process pickled."""

    validator: Validator
    reader: Reader
    path: Path
    source: str
    offset: int
    line: int
    batch_size: int
    complete_only: bool = False
    grouped: bool | None = None  # by conversation (collector.grouping); None: if worth it
    resumed: GroupedPass | None = None  # the grouped pass under way to go on with


@dataclass(slots=True)
class Chunk:
    """A prepared batch with its checkpoint, the records it holds and where it ended, and
    how many of those records were skipped, by reason."""

    prepared: Prepared
    records: int
    end: int
    skipped: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class Filled:
    """A batch as records filled it: the last record, how many, how many skipped."""

    batch: Batch
    last: Record
    count: int
    skipped: Counter[str]


def chunks(job: Job, *, ahead: bool = False) -> Iterator[Chunk]:
    """The file's prepared batches in order; ``ahead`` prepares them in a second process."""
    return offloaded(_prepared, job, "touchmetrics-reader") if ahead else _prepared(job)


def batches(
    records: Iterable[Record],
    validator: Validator,
    source: str,
    size: int,
    ledger: IdLedger | None = None,
) -> Iterator[Filled]:
    """Group validated records into batches of ``size`` records (skipped ones included);
    with a ledger, a record that makes an id made before with other content is refused."""
    batch, skipped = Batch(source), Counter[str]()
    last: Record | None = None
    count = 0
    for record in records:
        if record.skipped is not None:
            skipped[record.skipped] += 1
        elif ledger is None:
            add_record(batch, validator, record)
        else:
            add_checked(batch, validator, record, ledger)
        last, count = record, count + 1
        if count >= size:
            yield Filled(batch, last, count, skipped)
            batch, skipped, count = Batch(source), Counter(), 0
    if last is not None and count:
        yield Filled(batch, last, count, skipped)


def _prepared(job: Job) -> Iterator[Chunk]:
    records: Iterable[Record] = job.reader.records(
        job.path, job.offset, job.line, complete_only=job.complete_only
    )
    if job.grouped is None and job.resumed is None:
        # Decided on the first batch of records, read once: no reader is opened twice.
        head = list(islice(records, job.batch_size))
        unread = job.path.stat().st_size - job.offset
        job.grouped = worth_grouping(unread, job.batch_size, head)
        records = chain(head, records)
    ledger = IdLedger(job.source) if job.reader.ledger else None
    if job.grouped or job.resumed is not None:
        span = Range(job.path, job.source, job.reader.key, job.offset, job.line, job.resumed)
        for cut in grouped(span, records, job.validator, job.batch_size, ledger):
            yield Chunk(prepare(cut.batch), cut.records, cut.end, cut.skipped)
        return
    for filled in batches(records, job.validator, job.source, job.batch_size, ledger):
        last, batch = filled.last, filled.batch
        mark = fingerprint(job.path, last.end)
        batch.checkpoint = Checkpoint(job.source, mark, last.end, last.line, job.reader.key)
        yield Chunk(prepare(batch), filled.count, last.end, filled.skipped)
