"""Reports straight from files, with no database: the same validation, engine and report.

Reading keeps only what deduplication needs in memory (each id with its content hash);
accepted events go, in a compact form, to one of a fixed number of buckets chosen by
their conversation. A bucket stays in memory while it is small and spills to an anonymous
temporary file when it grows, so a conversation's events all land in one bucket and the
facts come from replaying one bucket at a time: peak memory is the ids plus one bucket,
not every event of the log.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from collector import buckets as spilling
from collector.batch import CONFLICT, Incoming, position, validate_record
from collector.buckets import Bucket
from collector.collecting import rare_collections
from collector.engine import replay
from collector.errors import InvalidEvent
from collector.ledger import IdLedger
from collector.metrics import FactRow
from collector.schema import Event, Validator
from collector.sources.record import Reader, Record
from collector.summary import Summary

IN_MEMORY_BYTES = 32 << 20  # of input read without spilling: some 240 MB in memory
BUCKETS = 64  # 1M events: some 16k events a bucket, a few MiB each when replayed
_CONVERSATION = itemgetter(1)


class Spilled(NamedTuple):
    """An event as a bucket keeps it: an Event without its content hash."""

    id: str
    conversation_id: str
    type: str
    ts: int
    channel: str | None
    kind: str | None
    author: str | None
    public: bool
    score: int | None
    scale: int
    topic: str | None


@dataclass(slots=True)
class FileLog:
    """Events read from files, deduplicated by id as the store would."""

    validator: Validator
    # The content hash as a 128-bit int: a third of the memory of its hex text.
    hashes: dict[str, int] = field(default_factory=dict)
    # False for an input small enough to hold whole: its events stay in ``held``, by
    # conversation, as they were read (the fastest way), and no bucket is used.
    spills: bool = True
    buckets: list[Bucket] = field(default_factory=list)
    held: defaultdict[str, list[Event]] = field(default_factory=lambda: defaultdict(list))
    kinds: dict[str, str] = field(default_factory=dict)
    summary: Summary = field(default_factory=Summary)

    def __post_init__(self) -> None:
        self.buckets = [Bucket() for _ in range(BUCKETS)] if self.spills else []

    def read(self, reader: Reader, path: Path) -> None:
        """Take each record of a file whole, as an import would, or count why not."""
        source = str(path)
        summary = self.summary
        summary.unit = reader.unit if summary.unit in ("", reader.unit) else "record"
        ledger = IdLedger(source) if reader.ledger else None
        validate = self.validator.validate
        for record in reader.records(path):
            summary.records += 1
            if record.skipped is not None:
                summary.skipped[record.skipped] += 1
            elif ledger is None and record.error is None and len(record.items) == 1:
                # The usual record, made short: one event, no list of them to build.
                try:
                    event = validate(record.items[0], record.raw)
                except InvalidEvent as exc:
                    self._reject(source, record, exc.reason)
                    continue
                if not self._keep(event):
                    self._reject(source, record, CONFLICT)
            else:
                self._read_whole(record, source, ledger)

    def _read_whole(self, record: Record, source: str, ledger: IdLedger | None) -> None:
        """A record of several events (or none, or an error): all taken, or none."""
        events, rejection = validate_record(self.validator, record, source)
        why = None if rejection is not None else self._conflict(events, record, ledger)
        if rejection is not None or why is not None:
            self._reject(source, record, why or (rejection.reason if rejection else ""))
            return
        for incoming in events:
            self.add(incoming.event)

    def _reject(self, source: str, record: Record, reason: str) -> None:
        self.summary.rejected += 1
        self.summary.by_rule.add(position(source, record.line), reason)

    def _conflict(
        self, events: list[Incoming], record: Record, ledger: IdLedger | None
    ) -> str | None:
        """Why a record's events cannot be taken: an id read before with other content."""
        if ledger is not None:
            why = ledger.conflict(events, record.line)
            if why is not None:
                return why
        for incoming in events:
            known = self.hashes.get(incoming.event.id)
            if known is not None and known != int(incoming.event.content_hash, 16):
                return CONFLICT
        return None

    def add(self, event: Event) -> None:
        """Keep an event whose id is new; count one read before as a duplicate, or as a
        conflict when its content differs (``read`` turns a record with a conflict away
        whole before it gets here)."""
        if not self._keep(event):
            self.summary.rejected += 1
            self.summary.by_rule.add(event.id, CONFLICT)

    def _keep(self, event: Event) -> bool:
        """Keep an event whose id is new, or count one read before as a duplicate; False
        when its id was read before with other content, for the caller to count."""
        digest = int(event.content_hash, 16)
        known = self.hashes.get(event.id)
        if known is not None:
            self.summary.duplicates += known == digest
            return known == digest
        self.hashes[event.id] = digest
        if self.spills:
            # hash() differs between processes, but the buckets live and die in this one.
            bucket = self.buckets[hash(event.conversation_id) % BUCKETS]
            pending = bucket.pending  # Bucket.add inline: once per event of the file
            pending.append(event[:11])  # Spilled's fields as a plain tuple, which marshal takes
            if len(pending) >= spilling.SPILL_AT:
                bucket.spill()
        else:
            self.held[event.conversation_id].append(event)
        self.summary.accepted += 1
        if event.channel is not None and event.kind is not None:
            self.kinds.setdefault(event.channel, event.kind)
        return True

    def conversations(self) -> Iterator[tuple[str, list[Spilled] | list[Event]]]:
        """Each conversation with its accepted events, one bucket in memory at a time."""
        if not self.spills:
            yield from self.held.items()
            return
        with rare_collections():
            for bucket in self.buckets:
                entries = bucket.entries()
                # A stable sort in C groups them far faster than appending each to a dict's list.
                entries.sort(key=_CONVERSATION)
                for cid, group in groupby(entries, _CONVERSATION):
                    yield cid, list(map(Spilled._make, group))

    def facts(self) -> Iterator[FactRow]:
        """The facts of every conversation, each replayed once."""
        for _cid, events in self.conversations():
            result = replay(events)
            for f in result.facts:
                yield (f.kind, f.channel, f.at, f.value, f.flag, f.label, result.topic)

    def event_counts(self) -> dict[str, int]:
        s = self.summary
        return {"accepted": s.accepted, "duplicates": s.duplicates, "rejected": s.rejected}

    def close(self) -> None:
        """Drop the temporary files now rather than when the log is collected."""
        for bucket in self.buckets:
            bucket.close()

    def __enter__(self) -> FileLog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def read_files(validator: Validator, inputs: Iterable[tuple[Reader, Path]]) -> FileLog:
    inputs = list(inputs)
    # Held whole, events take some six times their bytes in the file.
    log = FileLog(validator, spills=sum(p.stat().st_size for _r, p in inputs) > IN_MEMORY_BYTES)
    with rare_collections():  # the ids only grow: each full collection would walk them all
        for reader, path in inputs:
            log.read(reader, path)
    return log
