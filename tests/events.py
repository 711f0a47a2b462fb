"""Building canonical events tersely in tests."""

from __future__ import annotations

from typing import Any

import orjson

from collector.demo import DemoSpec, generate
from collector.instants import parse_instant

BASE = 1_793_527_200  # 2026-11-01T10:00:00Z in Unix seconds


def ev(etype: str, t: float, cid: str = "c1", **fields: Any) -> dict[str, Any]:
    """An event of ``etype`` at BASE + t seconds."""
    event: dict[str, Any] = {"conversation_id": cid, "type": etype, "timestamp": BASE + t}
    event.update(fields)
    return event


def start(t: float, channel: str = "bot-chat", **fields: Any) -> dict[str, Any]:
    return ev("conversation_started", t, channel=channel, **fields)


def customer(t: float, **fields: Any) -> dict[str, Any]:
    return ev("message", t, author="customer", **fields)


def agent(t: float, **fields: Any) -> dict[str, Any]:
    return ev("message", t, author="agent", **fields)


# A bot conversation handed to live chat, answered, resolved and rated.
CONVERSATION = [
    start(0, id="e1"),
    customer(1, id="e2"),
    agent(3, id="e3"),
    ev("handoff", 10, channel="chat", id="e4"),
    agent(70, id="e5"),
    ev("resolved", 100, id="e6"),
    ev("csat", 200, score=4, id="e7"),
]


def minute_us(minute: float) -> int:
    """BASE + ``minute`` minutes, in microseconds: the `now` of an alert evaluation."""
    return int((BASE + minute * 60) * 1_000_000)


def outcomes(
    minute: float, resolved: int, abandoned: int, channel: str = "bot-chat", tag: str = ""
) -> list[dict[str, Any]]:
    """Conversations in ``channel`` that end at BASE + ``minute`` minutes: so many resolved,
    so many abandoned (segments ended, the denominator of the resolution rate)."""
    events: list[dict[str, Any]] = []
    for i in range(resolved + abandoned):
        cid = f"{channel}-{minute}-{tag}-{i}"
        events.append(start(minute * 60 - 30, channel=channel, cid=cid))
        events.append(ev("resolved" if i < resolved else "abandoned", minute * 60, cid=cid))
    return events


def demo_events(seed: int, start: str, days: float, conversations: int) -> list[dict[str, Any]]:
    """The demo generator's conversations starting over ``days`` from ``start``, as events."""
    spec = DemoSpec(seed=seed, start_us=parse_instant(start), days=days)
    return [orjson.loads(line) for line in generate(spec, conversations=conversations)]
