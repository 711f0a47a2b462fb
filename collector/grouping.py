"""Importing a file grouped by conversation, so that arrival order costs little.

A batch that touches a conversation already stored replays it from the store, and in a
file read in random order nearly every batch touches stored conversations. Grouped, each
conversation is written once, whole, its events in the order the engine applies them:

1. Spill: read the pass's byte range and validate each record as an ungrouped import
   would, in file order (so the id ledger judges the same records), into one of K
   buckets on disk by a stable hash of its conversation; a rejected or skipped record
   goes by its line, and keeps that line in its rejection.
2. Commit bucket by bucket: sort a bucket by (conversation, applied order, line), cut it
   into batches between conversations, and lay each batch's records out in file order,
   so that within a batch the first record of an id wins as it would in file order.

Checkpoints (collector.batch.GroupedPass): every batch but the pass's last commits the
pass's start offset with its progress (bucket, records done in it); a re-run spills the
same range into the same buckets, sorts them the same way and skips what was committed.
The last batch commits the pass's end, so a file that grows afterwards resumes there.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from operator import itemgetter
from pathlib import Path

from collector.batch import (
    CONFLICT,
    Batch,
    Checkpoint,
    GroupedPass,
    Incoming,
    Rejection,
    add_record,
    position,
)
from collector.buckets import Bucket, Entry
from collector.idcheck import IdCheck
from collector.ledger import IdLedger, add_checked
from collector.schema import TYPE_ORDER, Event, Validator
from collector.sources.lines import fingerprint
from collector.sources.record import Record

# Bytes of the file per bucket: some 60,000 JSON lines, under 100 MB once read back and
# laid out in batches, so that memory does not grow with the file.
BUCKET_BYTES = 8 << 20
RECORD_BYTES = 256  # a typical record: a file of more than a batch of them is grouped
_EVENTS, _REJECTED, _SKIPPED = 0, 1, 2  # what an entry holds
_KIND, _PAYLOAD = 6, 7
_LINE = 4
_ID = Event._fields.index("id")


def bucket_count(size: int) -> int:
    """How many buckets a pass over ``size`` bytes spills into."""
    return max(1, -(-size // BUCKET_BYTES))


def worth_grouping(unread: int, batch_size: int, head: Iterable[Record]) -> bool:
    """Whether a file is worth grouping: it holds more than one batch (``unread`` bytes)
    and its first batch of records (``head``) is not in conversation order, where most
    records follow one of the same conversation (shuffled, or a log in time order).

    A file in conversation order gains nothing from grouping and would pay for it: the
    spill reads and validates the whole range before the first write, where an import
    in file order reads ahead while it writes.
    """
    if unread <= batch_size * RECORD_BYTES:
        return False
    previous: object = None
    follows = count = 0
    for record in islice(head, batch_size):
        item = record.items[0] if record.items else None
        cid = item.get("conversation_id") if isinstance(item, dict) else None
        follows += cid is not None and cid == previous
        previous, count = cid, count + 1
    return follows * 2 < count


@dataclass(slots=True)
class Range:
    """Where a pass reads: from ``offset`` (after ``line``) to the file's end, or to
    ``resumed.end`` when it resumes a pass under way."""

    path: Path
    source: str
    reader: str  # the Reader's key
    offset: int
    line: int
    resumed: GroupedPass | None = None


@dataclass(slots=True)
class Cut:
    """A batch of a pass with its checkpoint set, its record count, the records skipped
    among them, and how far through the range the pass is, in bytes (for progress)."""

    batch: Batch
    records: int
    skipped: Counter[str]
    end: int


@dataclass(slots=True)
class _Spill:
    buckets: list[Bucket]
    end: int = 0
    end_line: int = 0
    records: int = 0
    ids: IdCheck | None = None


def grouped(
    span: Range,
    records: Iterable[Record],
    validator: Validator,
    size: int,
    ledger: IdLedger | None,
) -> Iterator[Cut]:
    """The range's records as batches of about ``size`` records, grouped by conversation."""
    resumed = span.resumed
    count = resumed.buckets if resumed else bucket_count(span.path.stat().st_size - span.offset)
    spill = _Spill([Bucket() for _ in range(count)], span.offset, span.line)
    # A mapping's ledger judges ids in file order as they are read; without one, this does.
    spill.ids = IdCheck(count) if ledger is None else None
    try:
        _fill(spill, records, validator, span.source, ledger, resumed.end if resumed else None)
        conflicts = spill.ids.conflicts() if spill.ids is not None else {}
        yield from _commit(span, spill, size, conflicts)
    finally:
        for bucket in spill.buckets:
            bucket.close()
        if spill.ids is not None:
            spill.ids.close()


def _fill(
    spill: _Spill,
    records: Iterable[Record],
    validator: Validator,
    source: str,
    ledger: IdLedger | None,
    stop: int | None,
) -> None:
    """Validate each record in file order into its bucket, up to ``stop`` if given."""
    scratch = Batch(source)
    buckets, count = spill.buckets, len(spill.buckets)
    for record in records:
        if stop is not None and record.end > stop:
            break
        entry = _entry(scratch, validator, record, ledger)
        cid = entry[0]
        if spill.ids is not None and entry[_KIND] == _EVENTS:
            spill.ids.add([event for event, _raw in entry[_PAYLOAD][0]], record.line)
        where = zlib.crc32(cid.encode()) if cid else record.line  # stable across runs
        buckets[where % count].add(entry)
        spill.end, spill.end_line, spill.records = record.end, record.line, spill.records + 1


def _entry(batch: Batch, validator: Validator, record: Record, ledger: IdLedger | None) -> Entry:
    """A record as a bucket keeps it: (conversation, ts, type order, id, line, end, what
    it holds, its payload); a record with no events sorts by its line alone."""
    line = record.line
    if record.skipped is not None:
        return ("", 0, 0, "", line, record.end, _SKIPPED, record.skipped)
    if ledger is None:
        add_record(batch, validator, record)
    else:
        add_checked(batch, validator, record, ledger)
    if batch.rejections:
        r = batch.rejections.pop()
        return ("", 0, 0, "", line, record.end, _REJECTED, (r.position, r.raw, r.reason))
    events, whole = batch.events, batch.records.pop(line, None)
    batch.events = []
    payload = ([(tuple(e.event), e.raw) for e in events], whole)
    if not events:
        return ("", 0, 0, "", line, record.end, _EVENTS, payload)
    first = events[0].event
    key = (first.conversation_id, first.ts, TYPE_ORDER[first.type], first.id)
    return (*key, line, record.end, _EVENTS, payload)


def _commit(span: Range, spill: _Spill, size: int, conflicts: dict[int, int]) -> Iterator[Cut]:
    """Batches bucket by bucket, from where a resumed pass stopped."""
    buckets = spill.buckets
    last = max((i for i, b in enumerate(buckets) if b.count), default=-1)
    mark = fingerprint(span.path, spill.end)
    start = span.resumed.bucket if span.resumed else 0
    done = sum(b.count for b in buckets[:start])
    for index in range(start, last + 1):
        entries = buckets[index].entries()
        buckets[index].close()
        entries.sort()  # each line is read once, so the sort never reaches the payloads
        skip = span.resumed.done if span.resumed and index == start else 0
        done += skip
        for cut in _cuts(entries, skip, size):
            skip += len(cut)
            done += len(cut)
            batch, skipped = _batch(span.source, cut, conflicts)
            if index == last and skip == len(entries):
                batch.checkpoint = Checkpoint(
                    span.source, mark, spill.end, spill.end_line, span.reader
                )
                at = spill.end
            else:
                under_way = GroupedPass(spill.end, spill.end_line, len(buckets), index, skip)
                batch.checkpoint = Checkpoint(
                    span.source, mark, span.offset, span.line, span.reader, grouped=under_way
                )
                at = span.offset + (spill.end - span.offset) * done // max(spill.records, 1)
            yield Cut(batch, len(cut), skipped, at)


def _cuts(entries: list[Entry], start: int, size: int) -> Iterator[list[Entry]]:
    """Runs of about ``size`` entries from ``start``, cut between conversations (a
    conversation of more than ``size`` records is cut at twice that)."""
    cut: list[Entry] = []
    for entry in entries[start:]:
        if len(cut) >= size and (entry[0] != cut[-1][0] or len(cut) >= 2 * size):
            yield cut
            cut = []
        cut.append(entry)
    if cut:
        yield cut


def _batch(source: str, cut: list[Entry], conflicts: dict[int, int]) -> tuple[Batch, Counter[str]]:
    """A batch of a cut's records, in the order the file has them; a record in
    ``conflicts`` (line -> its event whose id an earlier line made) is rejected whole."""
    batch, skipped = Batch(source), Counter[str]()
    cut.sort(key=itemgetter(_LINE))
    for entry in cut:
        line, kind, payload = entry[_LINE], entry[_KIND], entry[_PAYLOAD]
        if kind == _SKIPPED:
            skipped[payload] += 1
        elif kind == _REJECTED:
            batch.rejections.append(Rejection(source, *payload))
        elif line in conflicts:
            events, whole = payload
            event, raw = events[conflicts[line]]
            where = position(source, line)
            batch.rejections.append(Rejection(source, where, whole or raw, CONFLICT, event[_ID]))
        else:
            events, whole = payload
            batch.events.extend(Incoming(Event._make(e), raw, line) for e, raw in events)
            if whole is not None:
                batch.records[line] = whole
    return batch, skipped
