"""What became of the records of an import, or of a report straight from files."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from collector.batch import BatchResult
from collector.rejections import ByRule


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
