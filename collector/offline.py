"""Reports straight from files, with no database: the same validation, engine and report.

Steps for a file:
1. Validate its records (collector.validating): in a second process when the file is
   large, so that validating, some two thirds of the work, runs beside the rest.
2. Keep each event whose id is new, as the store would: only the ids (with a digest of
   their content) stay in memory. Kept events go, in a compact form, to one of a fixed
   number of buckets chosen by their conversation; a bucket stays in memory while it is
   small and spills to an anonymous temporary file when it grows.
3. Replay each conversation once: as the file moves past it, when the file comes by
   conversation (collector.early), or else one bucket at a time once every file is read.
Peak memory is the ids plus a bucket's worth of events, not every event of the log.
"""

from __future__ import annotations

import marshal
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

from collector import buckets as spilling
from collector.batch import CONFLICT, position
from collector.buckets import Bucket
from collector.collecting import rare_collections
from collector.early import EarlyReplay, Spilled, fact_rows
from collector.engine import replay
from collector.metrics import Aggregate, FactRow, Window, aggregate, counting_open
from collector.offload import cores, offloaded
from collector.schema import Event, Validator
from collector.sources.record import Reader
from collector.summary import Summary
from collector.validating import Item, Reading, packed, validated

IN_MEMORY_BYTES = 32 << 20  # of input read without spilling: some 240 MB in memory
# Of one file, validated in a second process: its start (some 0.2 s) pays off from some
# 50k records.
OFFLOAD_BYTES = 8 << 20
BUCKETS = 64  # 1M events: some 16k events a bucket, a few MiB each when replayed
_CONVERSATION = itemgetter(1)
_ID, _CONVERSATION_ID, _CHANNEL, _KIND, _CONTENT = (
    Event._fields.index(name)
    for name in ("id", "conversation_id", "channel", "kind", "content_hash")
)
_EVENT_WIDTH = len(Event._fields)
_ITEM_WIDTH = _EVENT_WIDTH + 1  # and the line
_SPILLED_WIDTH = len(Spilled._fields)


@dataclass(slots=True)
class FileLog:
    """Events read from files, deduplicated by id as the store would."""

    validator: Validator
    # Each id read, with its content's _digest.
    hashes: dict[str, int] = field(default_factory=dict)
    # False for an input small enough to hold whole: its events stay in ``held``, by
    # conversation, as they were read (the fastest way), and no bucket is used.
    spills: bool = True
    buckets: list[Bucket] = field(default_factory=list)
    held: defaultdict[str, list[Spilled]] = field(default_factory=lambda: defaultdict(list))
    kinds: dict[str, str] = field(default_factory=dict)
    summary: Summary = field(default_factory=Summary)
    early: EarlyReplay | None = None  # replaying as the file is read (collector.early)

    def __post_init__(self) -> None:
        self.buckets = [Bucket() for _ in range(BUCKETS)] if self.spills else []

    def read(self, reader: Reader, path: Path) -> None:
        """Take each record of a file whole, as an import would, or count why not."""
        summary = self.summary
        summary.unit = reader.unit if summary.unit in ("", reader.unit) else "record"
        work = Reading(self.validator, reader, path)
        blocks: Iterable[list[Item]]
        if path.stat().st_size > OFFLOAD_BYTES and cores() > 1:
            # Validating is some two thirds of the work: a second process does it while
            # this one keeps what it sent before.
            blocks = map(marshal.loads, offloaded(packed, work, "touchmetrics-reader"))
        else:
            blocks = validated(work)
        source = str(path)
        for block in blocks:
            self._take(block, source)

    def _take(self, items: list[Item], source: str) -> None:
        """Keep or count a block of records as ``validated`` left them."""
        summary = self.summary
        summary.records += len(items)
        for item in items:
            if len(item) == _ITEM_WIDTH:  # the usual record: one event, validated
                if not self._keep(item):
                    self._reject(position(source, item[-1]), CONFLICT)
            elif len(item) == 1:
                summary.skipped[item[0]] += 1
            elif isinstance(item[1], str):
                self._reject(item[0], item[1])
            else:
                self._take_whole(item[0], item[1], source)

    def _take_whole(self, line: int, events: list[tuple[Any, ...]], source: str) -> None:
        """A record of several events (or one a ledger checked): all taken, or none."""
        for event in events:
            known = self.hashes.get(event[_ID])
            if known is not None and known != _digest(event[_CONTENT]):
                self._reject(position(source, line), CONFLICT)
                return
        for event in events:
            self.add(event)

    def add(self, event: tuple[Any, ...]) -> None:
        """Keep an event whose id is new; count one read before as a duplicate, or as a
        conflict when its content differs (a record with a conflict is turned away whole
        before it gets here)."""
        if not self._keep(event):
            self._reject(event[_ID], CONFLICT)

    def _reject(self, where: str, reason: str) -> None:
        self.summary.rejected += 1
        self.summary.by_rule.add(where, reason)

    def _keep(self, event: tuple[Any, ...]) -> bool:
        """Keep an event (an Event's fields) whose id is new, or count one read before as
        a duplicate; False when its id was read before with other content, for the caller
        to count."""
        digest = _digest(event[_CONTENT])
        known = self.hashes.get(event[_ID])
        if known is not None:
            self.summary.duplicates += known == digest
            return known == digest
        self.hashes[event[_ID]] = digest
        entry = event[:_SPILLED_WIDTH]  # a plain tuple, which marshal takes
        if self.spills:
            # hash() differs between processes, but the buckets live and die in this one.
            bucket = self.buckets[hash(event[_CONVERSATION_ID]) % BUCKETS]
            pending = bucket.pending  # Bucket.add inline: once per event of the file
            pending.append(entry)
            if len(pending) >= spilling.SPILL_AT:
                bucket.spill()
        else:
            self.held[event[_CONVERSATION_ID]].append(Spilled._make(entry))
        if self.early is not None:
            self.early.add(entry)
        self.summary.accepted += 1
        channel, kind = event[_CHANNEL], event[_KIND]
        if channel is not None and kind is not None:
            self.kinds.setdefault(channel, kind)
        return True

    def conversations(self) -> Iterator[tuple[str, list[Spilled]]]:
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
            yield from fact_rows(replay(events))

    def aggregate(self, window: Window) -> tuple[Aggregate, Counter[tuple[str, str | None]]]:
        """The Aggregate of the facts in ``window``, and the conversations open at its end
        by (channel, topic): replayed early when the file allowed it, else now."""
        if self.early is not None and self.early.window == window:
            done = self.early.finish()
            if done is not None:
                return done
        opened: Counter[tuple[str, str | None]] = Counter()
        return aggregate(counting_open(self.facts(), window.end, opened), window), opened

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


def _digest(content_hash: str) -> int:
    """The first 60 bits of a content hash: the most an int of 32 bytes holds, where the
    hex text takes 81. Two contents of one id alike in 60 bits are no real risk."""
    return int(content_hash[:15], 16)


def read_files(
    validator: Validator, inputs: Iterable[tuple[Reader, Path]], window: Window | None = None
) -> FileLog:
    """The files read into a log; with ``window``, the facts in it are added up as the
    conversations go by, where the files allow it (collector.early)."""
    inputs = list(inputs)
    # Held whole, events take some six times their bytes in the file.
    log = FileLog(validator, spills=sum(p.stat().st_size for _r, p in inputs) > IN_MEMORY_BYTES)
    if window is not None:
        log.early = EarlyReplay(window)
    with rare_collections():  # the ids only grow: each full collection would walk them all
        for reader, path in inputs:
            log.read(reader, path)
    # Every id is judged: replaying can have their memory.
    log.hashes.clear()
    return log
