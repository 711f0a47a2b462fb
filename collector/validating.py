"""A file's records validated in blocks, as an import would validate them, for a report
straight from files (collector.offline) to keep: here, or in a second process.

It imports only what validating needs, so that the second process starts small.
"""

from __future__ import annotations

import marshal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collector.batch import position, validate_record
from collector.errors import InvalidEvent
from collector.ledger import IdLedger
from collector.schema import Validator
from collector.sources.record import Reader, Record


@dataclass(slots=True)
class Reading:
    """One file to validate; crosses to the reading process pickled."""

    validator: Validator
    reader: Reader
    path: Path


# What ``validated`` makes of a record, by its length: 13, a record of one event taken (the
# Event's fields, then the line); 1, (reason,) skipped; 2, (position, reason) rejected or
# (line, [Event fields, ...]) a record of several events, or of one a ledger checked.
Item = tuple[Any, ...]
BLOCK = 4096  # records in one block


def validated(work: Reading) -> Iterator[list[Item]]:
    """The file's records in blocks, each validated as an import would, and checked
    against the file's id ledger when its reader keeps one."""
    source = str(work.path)
    validate = work.validator.validate
    ledger = IdLedger(source) if work.reader.ledger else None
    block: list[Item] = []
    for record in work.reader.records(work.path):
        if record.skipped is not None:
            block.append((record.skipped,))
        elif ledger is None and record.error is None and len(record.items) == 1:
            try:  # the usual record, made short: one event, no list of them to build
                block.append((*validate(record.items[0], record.raw), record.line))
            except InvalidEvent as exc:
                block.append((position(source, record.line), exc.reason))
        else:
            block.append(_whole(work.validator, record, source, ledger))
        if len(block) >= BLOCK:
            yield block
            block = []
    if block:
        yield block


def packed(work: Reading) -> Iterator[bytes]:
    """``validated``'s blocks as marshal bytes, the cheapest way across a pipe."""
    return map(marshal.dumps, validated(work))


def _whole(validator: Validator, record: Record, source: str, ledger: IdLedger | None) -> Item:
    """A record of several events (or none, or an error): its events, or why not."""
    events, rejection = validate_record(validator, record, source)
    if rejection is not None:
        return (rejection.position, rejection.reason)
    why = None if ledger is None else ledger.conflict(events, record.line)
    if why is not None:
        return (position(source, record.line), why)
    return (record.line, [tuple(incoming.event) for incoming in events])
