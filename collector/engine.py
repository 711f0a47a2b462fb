"""The conversation state machine of DESIGN section 3: events in, facts out.

A conversation's facts are a pure function of the set of its events, applied in the
order (timestamp, type rank, id). Replaying the whole conversation whenever an event
arrives is what makes late, shuffled and repeated arrival give the in-order result.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from collector.schema import TYPE_ORDER, rescaled, satisfied

# Fact kinds; each counts in the window of its own instant ``at``.
STARTED = "started"
SEGMENT = "segment"  # label: resolved | escalated | abandoned
FIRST_RESPONSE = "first_response"
RESPONSE = "response"
RESOLUTION = "resolution"
CSAT = "csat"  # value: score on 1..5, flag: 1 when satisfied
REOPEN = "reopen"
ANOMALY = "anomaly"  # label: the reason
# Not an engine fact: the store keeps, per conversation and channel, the latest event
# credited to the channel, under this kind in the facts table (see Replay.latest).
LAST_EVENT = "last_event"


class Fact(NamedTuple):
    """One countable thing a conversation produced."""

    kind: str
    channel: str | None
    at: int
    value: float | None = None
    flag: int | None = None
    label: str | None = None


class Applied(Protocol):
    """What the engine reads from an event (a validated Event or a stored row)."""

    @property
    def id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def ts(self) -> int: ...
    @property
    def channel(self) -> str | None: ...
    @property
    def author(self) -> str | None: ...
    @property
    def public(self) -> bool: ...
    @property
    def score(self) -> int | None: ...
    @property
    def scale(self) -> int: ...
    @property
    def topic(self) -> str | None: ...


@dataclass(slots=True)
class Replay:
    """Facts and the topic of one conversation."""

    facts: list[Fact] = field(default_factory=list)
    topic: str | None = None
    # The latest event per channel, each event in the channel the conversation was in at
    # its instant (after applying it: a handoff is its target's); events before any
    # channel is known count nowhere.
    latest: dict[str, int] = field(default_factory=dict)
    channel: str | None = None  # current segment's channel, or the last one once ended
    active: bool = False
    started_at: int | None = None


@dataclass(slots=True)
class _State:
    channel: str | None = None  # current segment's channel, or the last one once ended
    active: bool = False  # a segment is open
    started: bool = False
    segment_answered: bool = False
    cycle_start: int = 0
    waiting_since: int | None = None


def applied_order(events: Iterable[Applied]) -> list[Applied]:
    """Events sorted as the engine applies them."""
    return sorted(events, key=lambda e: (e.ts, TYPE_ORDER[e.type], e.id))


def replay(events: Iterable[Applied]) -> Replay:
    """Apply one conversation's events in order and return its facts."""
    out = Replay()
    state = _State()
    latest_csat: Fact | None = None
    for event in applied_order(events):
        if event.topic is not None:
            out.topic = event.topic
        if state.started or _start(state, event, out.facts):
            if event.type == "csat":
                assert event.score is not None
                latest_csat = Fact(
                    CSAT, state.channel, event.ts, rescaled(event.score, event.scale),
                    int(satisfied(event.score, event.scale)),
                )  # fmt: skip
            else:
                _apply(state, event, out.facts)
        if state.channel is not None:
            # Applied in time order, so the last event credited to a channel is its latest.
            out.latest[state.channel] = event.ts
    if latest_csat is not None:
        out.facts.append(latest_csat)
    out.channel, out.active = state.channel, state.active
    out.started_at = next((f.at for f in out.facts if f.kind == STARTED), None)
    return out


def _start(state: _State, event: Applied, facts: list[Fact]) -> bool:
    """Open the first segment; False when the event cannot start the conversation."""
    if event.channel is None:
        facts.append(Fact(ANOMALY, None, event.ts, label=f"{event.type} before start, no channel"))
        return False
    state.started = True
    _open_segment(state, event.channel, event.ts)
    state.cycle_start = event.ts
    facts.append(Fact(STARTED, event.channel, event.ts))
    if event.type == "handoff":
        # A log that begins with the handoff into X (the earlier part lost or elsewhere)
        # starts in X with the customer waiting. Read literally, DESIGN section 3 would
        # also end an empty segment in X "escalated" to X, a handoff that never happened.
        state.waiting_since = event.ts
        return False
    return event.type != "conversation_started"  # a start is fully applied by now


def _open_segment(state: _State, channel: str, ts: int) -> None:
    state.channel = channel
    state.active = True
    state.segment_answered = False


def _end_segment(state: _State, outcome: str, ts: int, facts: list[Fact]) -> None:
    facts.append(Fact(SEGMENT, state.channel, ts, label=outcome))
    state.active = False
    state.waiting_since = None


def _apply(state: _State, event: Applied, facts: list[Fact]) -> None:
    etype, ts = event.type, event.ts
    if etype == "message":
        _message(state, event, facts)
    elif not state.active:
        if etype == "reopened":
            _reopen(state, ts, facts)
        else:
            facts.append(Fact(ANOMALY, state.channel, ts, label=f"{etype} after end"))
    elif etype == "conversation_started":
        facts.append(Fact(ANOMALY, state.channel, ts, label="duplicate start"))
    elif etype == "reopened":
        facts.append(Fact(ANOMALY, state.channel, ts, label="reopened while active"))
    elif etype == "handoff":
        assert event.channel is not None
        _end_segment(state, "escalated", ts, facts)
        _open_segment(state, event.channel, ts)
        state.waiting_since = ts
    elif etype == "resolved":
        facts.append(Fact(RESOLUTION, state.channel, ts, (ts - state.cycle_start) / 1e6))
        _end_segment(state, "resolved", ts, facts)
    else:  # abandoned
        _end_segment(state, "abandoned", ts, facts)


def _message(state: _State, event: Applied, facts: list[Fact]) -> None:
    ts = event.ts
    if event.author == "customer" and event.public:
        if not state.active:
            _reopen(state, ts, facts)
        elif state.waiting_since is None:
            state.waiting_since = ts
    elif (
        event.author == "agent"
        and event.public
        and state.active
        and state.waiting_since is not None
    ):
        interval = (ts - state.waiting_since) / 1e6
        if not state.segment_answered:
            facts.append(Fact(FIRST_RESPONSE, state.channel, ts, interval))
            state.segment_answered = True
        facts.append(Fact(RESPONSE, state.channel, ts, interval))
        state.waiting_since = None


def _reopen(state: _State, ts: int, facts: list[Fact]) -> None:
    assert state.channel is not None
    facts.append(Fact(REOPEN, state.channel, ts))
    _open_segment(state, state.channel, ts)
    state.cycle_start = ts
    state.waiting_since = ts
