"""Reports straight from files, with no database: the same validation, engine and report.

Holds one compact row per accepted event in memory, grouped by conversation, then
replays each conversation once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from collector.batch import CONFLICT, validate_record
from collector.engine import replay
from collector.ingest import Summary
from collector.metrics import FactRow
from collector.reading import rare_collections
from collector.schema import Event, Validator
from collector.sources.record import Reader


@dataclass(slots=True)
class FileLog:
    """Events read from files, deduplicated by id as the store would."""

    validator: Validator
    hashes: dict[str, str] = field(default_factory=dict)
    conversations: dict[str, list[Event]] = field(default_factory=lambda: defaultdict(list))
    kinds: dict[str, str] = field(default_factory=dict)
    summary: Summary = field(default_factory=Summary)

    def read(self, reader: Reader, path: Path) -> None:
        source = str(path)
        for record in reader.records(path):
            self.summary.records += 1
            events, rejection = validate_record(self.validator, record, source)
            if rejection is not None:
                self.summary.rejected += 1
                self.summary.reasons[rejection.reason] += 1
                continue
            for incoming in events:
                self.add(incoming.event)

    def add(self, event: Event) -> None:
        known = self.hashes.get(event.id)
        if known is None:
            self.hashes[event.id] = event.content_hash
            self.conversations[event.conversation_id].append(event)
            self.summary.accepted += 1
            if event.channel is not None and event.kind is not None:
                self.kinds.setdefault(event.channel, event.kind)
        elif known == event.content_hash:
            self.summary.duplicates += 1
        else:
            self.summary.rejected += 1
            self.summary.reasons[CONFLICT] += 1

    def facts(self) -> Iterator[FactRow]:
        for events in self.conversations.values():
            result = replay(events)
            for f in result.facts:
                yield (f.kind, f.channel, f.at, f.value, f.flag, f.label, result.topic)

    def event_counts(self) -> dict[str, int]:
        s = self.summary
        return {"accepted": s.accepted, "duplicates": s.duplicates, "rejected": s.rejected}


def read_files(validator: Validator, inputs: Iterable[tuple[Reader, Path]]) -> FileLog:
    log = FileLog(validator)
    with rare_collections():  # the log only grows: each full collection would walk it all
        for reader, path in inputs:
            log.read(reader, path)
    return log
