"""Conversations replayed while a file is still being read, when it comes by conversation.

A file exported by conversation, or by time with conversations short next to the file,
holds each conversation's events together. The file log hands each event it keeps to an
EarlyReplay too, which holds the conversations met lately and replays one once the file
has moved on from it by ``HELD`` events, adding its facts up at once: the report then needs
no second pass over the buckets, and the replaying is done while a second process
validates the next records. A conversation met again after its replay means the file
comes in no such order: what was replayed early is dropped, and the report replays every
conversation from the buckets, which keep every event all along. Either way the facts
are those of each conversation's whole set of events.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from typing import Any, NamedTuple

from collector.engine import Replay, replay
from collector.metrics import Aggregate, Aggregator, FactRow, Window, counting_open

HELD = 20_000  # events held in conversations not yet replayed: some 5 MB
# Conversations replayed early, remembered to tell a conversation met again: some 60 bytes
# each. Past this many the file is read the usual way.
REMEMBERED = 1_000_000


class Spilled(NamedTuple):
    """An event as the file log keeps it, in a bucket or held here: an Event without its
    content hash."""

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


Entry = tuple[Any, ...]  # Spilled's fields as a plain tuple


def fact_rows(result: Replay) -> list[FactRow]:
    """A replayed conversation's facts as a report reads them, each with its topic."""
    topic = result.topic
    return [(f.kind, f.channel, f.at, f.value, f.flag, f.label, topic) for f in result.facts]


class EarlyReplay:
    """The facts in ``window`` of conversations replayed as soon as the file moves on."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.aggregator = Aggregator(window)
        self.opened: Counter[tuple[str, str | None]] = Counter()
        self.open: OrderedDict[str, list[Entry]] = OrderedDict()  # the least recent first
        self.held = 0
        self.replayed: set[int] = set()  # hash() of each: a false match only costs time
        self.last: str | None = None  # the conversation of the event before
        self.current: list[Entry] = []
        self.given_up = False

    def add(self, entry: Entry) -> None:
        """Hold an event kept by the log; replay the conversation the file left longest ago
        once more than HELD events are held."""
        if self.given_up:
            return
        cid = entry[1]
        if cid != self.last:
            events = self.open.get(cid)
            if events is None:
                if hash(cid) in self.replayed:
                    self._give_up()
                    return
                events = self.open[cid] = []
            else:
                self.open.move_to_end(cid)
            self.last, self.current = cid, events
        self.current.append(entry)
        self.held += 1
        if self.held > HELD:
            self._replay_oldest()

    def finish(self) -> tuple[Aggregate, Counter[tuple[str, str | None]]] | None:
        """The Aggregate and the conversations open at the window's end, once the file is
        read; None when it came in no order that allowed it."""
        if self.given_up:
            return None
        while self.open:
            self._replay_oldest()
        return self.aggregator.result(), self.opened

    def _replay_oldest(self) -> None:
        cid, events = self.open.popitem(last=False)
        if cid == self.last:
            self.last = None
        self.held -= len(events)
        self.replayed.add(hash(cid))
        if len(self.replayed) > REMEMBERED:
            self._give_up()
            return
        rows = fact_rows(replay(list(map(Spilled._make, events))))
        self.aggregator.add(counting_open(rows, self.window.end, self.opened))

    def _give_up(self) -> None:
        self.given_up = True
        self.open.clear()
        self.replayed.clear()
        self.current = []
        self.aggregator = Aggregator(self.window)
        self.opened.clear()
