"""Sorting a prepared batch's events against the stored ones: new, duplicate or conflict,
with a record of several events (a CSV row) taken whole or not at all.

A row's `resolved` must not be stored while its reply is turned away: when any event of
such a record conflicts with a stored one (same id, other content), none of its events is
stored, and the record is quarantined once, as it was read, with the conflict's reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from collector.batch import CONFLICT, Rejection, position
from collector.prepare import Prepared, Row
from collector.schema import Event

_HASH = Event._fields.index("content_hash")  # where an events row holds these
_RAW = len(Event._fields)


@dataclass(slots=True)
class SortedOut:
    """What the store does with a batch's events rows."""

    fresh: list[Row] = field(default_factory=list)  # to store
    fresh_lines: list[int] = field(default_factory=list)  # the line each of them was read at
    duplicates: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    # Conversations with an event not stored: their prepared facts count it, so they are
    # replayed from the store instead.
    refused: set[str] = field(default_factory=set)
    dropped: list[str] = field(default_factory=list)  # new ids turned away with their record


def sort_out(p: Prepared, seen: dict[str, str]) -> SortedOut:
    """Sort ``p.rows`` by ``seen`` (the content hash of each of their ids already stored)."""
    out = SortedOut()
    if not seen:
        out.fresh, out.fresh_lines = p.rows, p.lines
        return out
    whole = _conflicting_records(p, seen)
    for row, line in zip(p.rows, p.lines, strict=True):
        known = seen.get(row[0])
        if line in whole:
            out.refused.add(row[1])
            if known is None:
                out.dropped.append(row[0])
        elif known is None:
            out.fresh.append(row)
            out.fresh_lines.append(line)
        else:
            out.refused.add(row[1])
            if known == row[_HASH]:
                out.duplicates += 1
            else:
                where = position(p.source, line)
                out.rejections.append(Rejection(p.source, where, row[_RAW], CONFLICT, row[0]))
    for line, event_id in whole.items():
        where = position(p.source, line)
        out.rejections.append(Rejection(p.source, where, p.records[line], CONFLICT, event_id))
    return out


def _conflicting_records(p: Prepared, seen: dict[str, Any]) -> dict[int, str]:
    """The records of several events with a conflict: line -> the first conflicting id."""
    found: dict[int, str] = {}
    if not p.records:
        return found
    for row, line in zip(p.rows, p.lines, strict=True):
        known = seen.get(row[0])
        if known is not None and known != row[_HASH] and line in p.records:
            found.setdefault(line, row[0])
    return found
