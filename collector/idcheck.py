"""Ids made twice with other content in a grouped pass, judged in file order.

Grouped by conversation (collector.grouping), two records making one id with different
content (another conversation, say) can land in different buckets, and the store judges a
conflict by commit order: the later line could be kept and the earlier one quarantined.
So while the pass spills, each event's id digest, line and content digest also go to
buckets of their own, by the id. Before the first commit each of those is read alone, and
every record making an id that an earlier line made with other content is marked, to be
rejected as a conflict, as an import in file order rejects it.

A mapping's id ledger (collector.ledger) already judges its records this way as they are
read, with the same digests; this is for the readers without one. Memory: one bucket of
digests at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from collector.buckets import Bucket
from collector.ledger import digests
from collector.schema import Event

_ID = Event._fields.index("id")
_CONTENT = Event._fields.index("content_hash")


class IdCheck:
    """The ids of one pass's events, spilled by id."""

    def __init__(self, count: int) -> None:
        self.buckets = [Bucket() for _ in range(max(1, count))]

    def add(self, events: Sequence[Sequence[Any]], line: int) -> None:
        """Remember the events (Event tuples) of the record at ``line``."""
        buckets = self.buckets
        for index, event in enumerate(events):
            key, content = digests(event[_ID], event[_CONTENT])
            buckets[key % len(buckets)].add((key, line, index, content))

    def conflicts(self) -> dict[int, int]:
        """Line -> the index of the record's first event whose id an earlier line made
        with other content. Repeats inside one record are left to the store, as before."""
        found: dict[int, int] = {}
        for bucket in self.buckets:
            entries = bucket.entries()
            bucket.close()
            entries.sort()  # by id, then line: each id's first maker comes first
            first_key = first_line = first_content = -1
            for key, line, index, content in entries:
                if key != first_key:
                    first_key, first_line, first_content = key, line, content
                elif content != first_content and line != first_line:
                    found.setdefault(line, index)
        return found

    def close(self) -> None:
        for bucket in self.buckets:
            bucket.close()
