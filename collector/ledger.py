"""The ids one import has made, so one id made by two records with different content is an
error naming both, never a silent duplicate or a silent "first wins".

A mapping makes event ids from a file's columns; a template that does not tell two rows
apart (two replies of one conversation, both `<conversation>:reply`) would otherwise keep
the first row and count the second as a conflict, or as a duplicate when the contents
happen to agree. The ledger remembers, for every event id of the import, the line of the
record that made it and a digest of the event's content; a later record that makes the
same id with other content is rejected whole, naming its line and the first one's.

Memory: one dict entry of two ints per event id, an 8-byte digest of the id (never the id
itself) -> (line << 64 | 8-byte digest of the content): about 110 MiB per million events
(``bench/mapping.py`` measures it). Two different ids share an 8-byte digest with odds of
about n^2 / 2^65 (3e-8 for a million ids); if they ever do, the later record is rejected
naming the other, never lost.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from collector.batch import Batch, Incoming, Rejection, add_record, position, validate_record
from collector.schema import Validator
from collector.sources.record import Record

_LOW = (1 << 64) - 1


class IdLedger:
    """The event ids made so far by one import of one file."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.made: dict[int, int] = {}

    def conflict(self, events: Sequence[Incoming], line: int) -> str | None:
        """Why one record's events cannot be taken (an id made before with other
        content), or None, and then they are remembered."""
        made = self.made
        mine: dict[int, int] = {}
        for item in events:
            event = item.event
            key, content = digests(event.id, event.content_hash)
            known = made.get(key)
            if known is None:
                known = mine.get(key)
            if known is None:
                mine[key] = line << 64 | content
            elif known & _LOW != content:
                return self._reason(event.id, known >> 64, line)
        made.update(mine)
        return None

    def _reason(self, event_id: str, first: int, line: int) -> str:
        if first == line:
            where = "another event of this row"
        else:
            where = f"an event of {position(self.source, first)}"
        return (
            f"field `id`: {event_id!r} is also the id of {where} with other "
            "content: the mapping makes one id from two rows; give the event an `id` "
            "template that tells them apart"
        )


def digests(event_id: str, content_hash: str) -> tuple[int, int]:
    """An event's id and content as the 8-byte digests a ledger keeps of them."""
    key = int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest())
    return key, int(content_hash[:16], 16)


def add_checked(batch: Batch, validator: Validator, record: Record, ledger: IdLedger) -> None:
    """Validate one record into the batch, refusing it whole when the ledger does."""
    if record.error is not None:
        add_record(batch, validator, record)
        return
    events, rejection = validate_record(validator, record, batch.source)
    if rejection is None:
        why = ledger.conflict(events, record.line)
        if why is not None:
            where = position(batch.source, record.line)
            rejection = Rejection(batch.source, where, record.raw, why)
    if rejection is not None:
        batch.rejections.append(rejection)
    else:
        batch.take(record, events)
