"""Live traffic of conversations of one chosen length, many open at once, in time order.

The demo generator (collector/demo.py) makes conversations of 3 to about 20 events; an LLM
assistant or an e-mail thread runs to hundreds of turns. Here every conversation is a start,
`length - 2` messages that alternate customer and agent, and a resolution (DESIGN.md
section 2), on a channel of bench/service.py's configuration.

Conversations start one after another at a pace that keeps `open_at_once` of them running,
whatever their length, so a batch of a live stream touches many conversations, as real
traffic does, and streams of different lengths differ by their conversations' length alone.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime

START = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
MEAN_GAP = 30.0  # seconds between two events of one conversation, on average
CHANNELS = ("bot-chat", "chat", "email")  # declared in bench/service.py's configuration


@dataclass(frozen=True, slots=True)
class Event:
    """One NDJSON line, with what a stream needs to order and split it."""

    seconds: float
    conversation: int
    line: bytes


def stream(events: int, length: int, open_at_once: int = 200, seed: int = 13) -> list[Event]:
    """`events` events (rounded down to whole conversations) of `length`-event conversations,
    every conversation's events in order, all of them sorted by time."""
    if length < 3:
        raise ValueError("a conversation needs a start, a message and an end: length >= 3")
    rng = random.Random(seed)
    every = MEAN_GAP * (length - 1) / open_at_once  # seconds between two conversation starts
    made: list[Event] = []
    for number in range(events // length):
        made.extend(_conversation(rng, number, length, START + number * every))
    made.sort(key=lambda e: (e.seconds, e.conversation))
    return made


def _conversation(rng: random.Random, number: int, length: int, t: float) -> list[Event]:
    cid = f"stream-{length}-{number}"
    channel = CHANNELS[number % len(CHANNELS)]
    kinds: list[dict[str, object]] = [
        {"type": "conversation_started", "channel": channel, "attributes": {"topic": "billing"}}
    ]
    kinds += [
        {"type": "message", "author": "customer" if i % 2 == 0 else "agent"}
        for i in range(length - 2)
    ]
    kinds.append({"type": "resolved"})
    made = []
    for seq, fields in enumerate(kinds):
        if seq:
            t += rng.uniform(0.1, 2 * MEAN_GAP)
        t = round(t, 3)  # what the millisecond timestamp keeps, so sorting agrees with it
        event = {"id": f"{cid}-{seq}", "conversation_id": cid, "timestamp": _rfc3339(t)}
        made.append(Event(t, number, json.dumps({**event, **fields}).encode() + b"\n"))
    return made


def _rfc3339(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def bodies(events: list[Event], clients: int, batch: int) -> list[list[bytes]]:
    """Each client's NDJSON bodies: the client owns every `clients`-th conversation and
    posts its own events in time order, `batch` to a body."""
    mine: list[list[bytes]] = [[] for _ in range(clients)]
    for event in events:
        mine[event.conversation % clients].append(event.line)
    return [[b"".join(lines[i : i + batch]) for i in range(0, len(lines), batch)] for lines in mine]
