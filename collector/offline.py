"""Reports straight from files, with no database: the same validation, engine and report.

Holds one compact row per accepted event in memory, grouped by conversation, then
replays each conversation once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from collector.batch import CONFLICT, Incoming, position, validate_record
from collector.engine import replay
from collector.ingest import Summary
from collector.ledger import IdLedger
from collector.metrics import FactRow
from collector.reading import rare_collections
from collector.schema import Event, Validator
from collector.sources.record import Reader, Record


@dataclass(slots=True)
class FileLog:
    """Events read from files, deduplicated by id as the store would."""

    validator: Validator
    hashes: dict[str, str] = field(default_factory=dict)
    conversations: dict[str, list[Event]] = field(default_factory=lambda: defaultdict(list))
    kinds: dict[str, str] = field(default_factory=dict)
    summary: Summary = field(default_factory=Summary)

    def read(self, reader: Reader, path: Path) -> None:
        """Take each record of a file whole, as an import would, or count why not."""
        source = str(path)
        summary = self.summary
        summary.unit = reader.unit if summary.unit in ("", reader.unit) else "record"
        ledger = IdLedger(source) if reader.ledger else None
        for record in reader.records(path):
            summary.records += 1
            if record.skipped is not None:
                summary.skipped[record.skipped] += 1
                continue
            events, rejection = validate_record(self.validator, record, source)
            why = None if rejection is not None else self._conflict(events, record, ledger)
            if rejection is not None or why is not None:
                where = position(source, record.line)
                summary.rejected += 1
                summary.by_rule.add(where, why or (rejection.reason if rejection else ""))
                continue
            for incoming in events:
                self.add(incoming.event)

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
            if known is not None and known != incoming.event.content_hash:
                return CONFLICT
        return None

    def add(self, event: Event) -> None:
        """Keep an event whose id is new; count one read before as a duplicate, or as a
        conflict when its content differs (``read`` turns a record with a conflict away
        whole before it gets here)."""
        known = self.hashes.get(event.id)
        if known is not None:
            if known == event.content_hash:
                self.summary.duplicates += 1
            else:
                self.summary.rejected += 1
                self.summary.by_rule.add(event.id, CONFLICT)
            return
        self.hashes[event.id] = event.content_hash
        self.conversations[event.conversation_id].append(event)
        self.summary.accepted += 1
        if event.channel is not None and event.kind is not None:
            self.kinds.setdefault(event.channel, event.kind)

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
