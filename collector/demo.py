"""A realistic synthetic support log: bots that resolve or hand off, people who answer in
minutes (chat, phone) or hours (email), customers who give up, come back and rate late.

Seeded and reproducible: the same spec gives the same bytes.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

DEMO_CHANNELS: dict[str, dict[str, str]] = {
    "bot-chat": {"kind": "ai", "title": "Web chat assistant"},
    "voice-bot": {"kind": "ai", "title": "Voice bot"},
    "chat": {"kind": "human", "title": "Live chat agents"},
    "phone": {"kind": "human", "title": "Phone agents"},
    "email": {"kind": "human", "title": "Email support"},
}
TOPICS = ("billing", "login", "shipping", "refunds", "account")
# channel: (median reply seconds, lognormal sigma)
REPLY = {
    "bot-chat": (1.5, 0.5),
    "voice-bot": (1.0, 0.4),
    "chat": (40, 0.9),
    "phone": (20, 0.7),
    "email": (3 * 3600, 1.0),
}
QUEUE = {"chat": (60, 1.0), "phone": (90, 1.1), "email": (4 * 3600, 1.0)}
HANDOFF = {"bot-chat": "chat", "voice-bot": "phone"}
BOT_ABANDONS = 0.10  # the share of bot conversations the customer gives up on
BOT_ESCALATES_BELOW = 0.45  # rolls in [0.10, 0.45) hand off: the bot resolves the other 55 %


@dataclass(frozen=True, slots=True)
class DemoSpec:
    seed: int = 1
    start_us: int = 1_793_491_200_000_000  # 2026-11-01T00:00:00Z
    days: float = 7.0
    # The share of conversations a bot resolves itself (its containment), at most 0.9;
    # None keeps the usual 55 % and the exact bytes of earlier versions.
    containment: float | None = None


class _Conversation:
    """Builds one conversation's events with a running clock."""

    def __init__(self, rng: random.Random, cid: str, t: float) -> None:
        self.rng, self.cid, self.t = rng, cid, t
        self.events: list[dict[str, Any]] = []

    def emit(self, etype: str, **fields: Any) -> None:
        event: dict[str, Any] = {
            "id": f"{self.cid}-{len(self.events)}",
            "conversation_id": self.cid,
            "type": etype,
        }
        event["timestamp"] = _rfc3339(self.t)
        event.update(fields)
        self.events.append(event)

    def wait(self, median: float, sigma: float) -> None:
        self.t += self.rng.lognormvariate(_ln(median), sigma)

    def exchanges(self, channel: str, count: int) -> None:
        for _ in range(count):
            self.wait(8, 0.8)
            self.emit("message", author="customer")
            self.wait(*REPLY[channel])
            self.emit("message", author="agent")


def _ln(value: float) -> float:
    return math.log(value)


def _rfc3339(seconds: float) -> str:
    moment = datetime.fromtimestamp(round(seconds, 3), tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def conversation(
    rng: random.Random, cid: str, t: float, containment: float | None = None
) -> list[dict[str, Any]]:
    """One conversation: an AI or email entry, maybe a handoff, an outcome, maybe more."""
    escalates_below = BOT_ESCALATES_BELOW if containment is None else 1.0 - containment
    c = _Conversation(rng, cid, t)
    entry = rng.choices(["bot-chat", "voice-bot", "email"], weights=[60, 25, 15])[0]
    c.emit("conversation_started", channel=entry, attributes={"topic": rng.choice(TOPICS)})
    channel = entry
    if entry in HANDOFF:
        c.exchanges(entry, rng.randint(1, 3))
        roll = rng.random()
        if roll < BOT_ABANDONS:
            c.wait(30, 1.0)
            c.emit("abandoned")
            return c.events
        if roll < escalates_below:
            channel = HANDOFF[entry]
            c.wait(5, 0.5)
            c.emit("handoff", channel=channel)
    if channel != entry or entry == "email":
        if entry == "email":
            c.emit("message", author="customer")
            c.emit("message", author="system", attributes={"note": "auto-acknowledgement"})
        if rng.random() < 0.12:
            c.wait(*QUEUE[channel])
            c.emit("abandoned")
            return c.events
        c.wait(*QUEUE[channel])
        c.emit("message", author="agent")
        if rng.random() < 0.3:
            c.emit("message", author="agent", public=False)
        c.exchanges(channel, rng.randint(0, 3))
    c.wait(20, 0.8)
    c.emit("resolved")
    _aftermath(c, channel)
    return c.events


def _aftermath(c: _Conversation, channel: str) -> None:
    """Late ratings and reopens after a resolution."""
    rng = c.rng
    if rng.random() < 0.05:
        c.wait(6 * 3600, 1.0)
        if rng.random() < 0.5:
            c.emit("message", author="customer")  # an implicit reopen
        else:
            c.emit("reopened")
        c.wait(*REPLY[channel])
        c.emit("message", author="agent")
        c.wait(60, 0.5)
        c.emit("resolved")
    if rng.random() < 0.35:
        c.wait(1800, 1.2)
        scale = 2 if channel == "voice-bot" else 5
        good = {"bot-chat": 0.7, "voice-bot": 0.6}.get(channel, 0.85)
        score = scale if rng.random() < good else rng.randint(1, max(1, scale - 2))
        c.emit("csat", score=score, scale=scale)


def generate(
    spec: DemoSpec, conversations: int = 2000, min_events: int | None = None
) -> Iterator[str]:
    """JSON lines, conversation after conversation, starts spread evenly over the span."""
    if spec.containment is not None and not 0 <= spec.containment <= 1 - BOT_ABANDONS:
        raise ValueError(f"containment must be in [0, {1 - BOT_ABANDONS}]")
    rng = random.Random(spec.seed)
    start = spec.start_us / 1e6
    span = spec.days * 86400
    count = emitted = 0
    while (count < conversations) if min_events is None else (emitted < min_events):
        t = start + span * count / (
            conversations if min_events is None else max(1, min_events // 8)
        )
        cid = f"demo-{spec.seed}-{count}"
        for event in conversation(rng, cid, t + rng.random() * 60, spec.containment):
            yield orjson.dumps(event).decode() + "\n"
            emitted += 1
        count += 1


MAX_CATCH_UP = 10.0


class LiveFeed:
    """A live stream for `serve --demo`: conversations start now and their events come due
    in real time, so every page shows moving numbers within seconds."""

    def __init__(self, seed: int = 1, per_second: float = 2.0) -> None:
        self.rng = random.Random(seed)
        self.per_second = per_second
        self.pending: list[tuple[float, int, dict[str, Any]]] = []
        self.pushed = 0  # breaks ties in the heap, which cannot compare events
        self.started = 0
        self.owed = 0.0
        self.last: float | None = None
        # Ids are new on every run, whatever the seed: a restarted `make run` writes into the
        # same store, where reused ids would all be conflicts and the numbers would freeze.
        self.prefix = f"live-{uuid.uuid4().hex[:12]}"

    def due(self, now: float) -> list[dict[str, Any]]:
        """Start the conversations owed since the last call; return the events now due."""
        import heapq

        elapsed = now - self.last if self.last is not None else 1.0
        # After a stall (a suspended laptop, a slow database) catch up ten seconds at most.
        self.owed += self.per_second * min(elapsed, MAX_CATCH_UP)
        self.last = now
        now_ms = math.floor(now * 1000) / 1000  # events carry milliseconds; none in the future
        while self.owed >= 1:
            self.owed -= 1
            cid = f"{self.prefix}-{self.started}"
            for event in conversation(self.rng, cid, now_ms):
                heapq.heappush(self.pending, (_seconds(event["timestamp"]), self.pushed, event))
                self.pushed += 1
            self.started += 1
        ready: list[dict[str, Any]] = []
        while self.pending and self.pending[0][0] <= now:
            ready.append(heapq.heappop(self.pending)[2])
        return ready


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
