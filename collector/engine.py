"""The conversation state machine of DESIGN section 3: events in, facts out.

A conversation's facts are a pure function of the set of its events, applied in the
order (timestamp, type rank, id). ``Machine`` holds where a conversation stands after the
events applied so far; an event sorting after them continues from there, and any other
(late) event means replaying the conversation, which is what makes late, shuffled and
repeated arrival give the in-order result. ``replay`` is a fresh machine fed in order:
the rules exist once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from collector.schema import TYPE_ORDER, rescaled, satisfied

# Fact kinds; each counts in the window of its own instant ``at``.
STARTED = "started"
# A segment began in ``channel``; label: how (started, handoff, reopened). With the
# segment's end (SEGMENT) it makes the open count at any instant: entered - ended before it.
ENTERED = "entered"
SEGMENT = "segment"  # label: resolved | escalated | abandoned
FIRST_RESPONSE = "first_response"
RESPONSE = "response"
RESOLUTION = "resolution"
CSAT = "csat"  # value: score on 1..5, flag: 1 when satisfied
REOPEN = "reopen"
ANOMALY = "anomaly"  # label: the reason
# Not an engine fact: the store keeps, per conversation and channel, the latest event
# credited to the channel (see Replay.latest), in the table last_events. The facts table
# held these under this kind until migration 0007.
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
    """Facts and the topic of one conversation, and the machine that produced them."""

    facts: list[Fact] = field(default_factory=list)
    topic: str | None = None
    # The latest event per channel, each event in the channel the conversation was in at
    # its instant (after applying it: a handoff is its target's); events before any
    # channel is known count nowhere.
    latest: dict[str, int] = field(default_factory=dict)
    channel: str | None = None  # current segment's channel, or the last one once ended
    active: bool = False
    started_at: int | None = None
    machine: Machine | None = None


@dataclass(slots=True)
class _State:
    channel: str | None = None  # current segment's channel, or the last one once ended
    active: bool = False  # a segment is open
    started: bool = False
    segment_answered: bool = False
    cycle_start: int = 0
    waiting_since: int | None = None


Key = tuple[int, int, str]  # the order events are applied in: (ts, TYPE_ORDER rank, id)


def sort_key(event: Applied) -> Key:
    return (event.ts, TYPE_ORDER[event.type], event.id)


def applied_order(events: Iterable[Applied]) -> list[Applied]:
    """Events sorted as the engine applies them."""
    return sorted(events, key=sort_key)


@dataclass(slots=True)
class Machine:
    """One conversation's place in the state machine, resumable: applying the events that
    sort after ``last`` continues exactly where a replay of the earlier ones stopped."""

    state: _State = field(default_factory=_State)
    topic: str | None = None
    csat: Fact | None = None  # the latest rating's fact: a conversation counts one
    started_at: int | None = None
    last: Key | None = None  # the key of the last event applied
    # The latest event per channel among those this machine applied (not persisted: the
    # store keeps each channel's latest and raises it with these).
    latest: dict[str, int] = field(default_factory=dict)

    def apply(self, event: Applied) -> list[Fact]:
        """Apply one event that sorts after every one applied so far; return its new facts
        (a rating only replaces ``csat``)."""
        key = sort_key(event)
        assert self.last is None or key > self.last, (key, self.last)
        self.last = key
        facts: list[Fact] = []
        self.step(event, facts)
        return facts

    def step(self, event: Applied, facts: list[Fact]) -> None:
        """``apply`` without the order check, adding the new facts to ``facts``: for a
        replay, which has sorted its events (and sets ``last`` once at the end)."""
        state = self.state
        if event.topic is not None:
            self.topic = event.topic
        if not state.started:
            go_on = _start(state, event, facts)
            if state.started:
                self.started_at = event.ts
        else:
            go_on = True
        if go_on:
            if event.type == "csat":
                assert event.score is not None
                self.csat = Fact(
                    CSAT, state.channel, event.ts, rescaled(event.score, event.scale),
                    int(satisfied(event.score, event.scale)),
                )  # fmt: skip
            else:
                _apply(state, event, facts)
        if state.channel is not None:
            # Applied in time order, so the last event credited to a channel is its latest.
            self.latest[state.channel] = event.ts

    def dump(self) -> str:
        """The machine as text to store with the conversation, without ``latest`` and the
        topic (the conversations row holds it once; a topic may be long)."""
        s = self.state
        csat = None if self.csat is None else list(self.csat[1:5])
        return json.dumps(
            [_FORMAT, s.channel, s.active, s.started, s.segment_answered, s.cycle_start,
             s.waiting_since, csat, self.started_at,
             None if self.last is None else list(self.last)],
            separators=(",", ":"),
        )  # fmt: skip

    @classmethod
    def load(cls, text: str | None, topic: str | None) -> Machine | None:
        """A machine from ``dump``'s text and the topic; None when there is no text or it is
        of another format."""
        if text is None:
            return None
        fields = json.loads(text)
        if fields[0] != _FORMAT:
            return None
        _, channel, active, started, answered, cycle_start, waiting, csat, at, last = fields
        return cls(
            _State(channel, active, started, answered, cycle_start, waiting),
            topic,
            None if csat is None else Fact(CSAT, *csat),
            at,
            None if last is None else (last[0], last[1], last[2]),
        )


# Stored machines of another format are replayed (and rewritten) on their next event.
_FORMAT = 1


def replay(events: Iterable[Applied]) -> Replay:
    """Apply one conversation's events in order and return its facts."""
    machine = Machine()
    facts: list[Fact] = []
    ordered = applied_order(events)
    step = machine.step
    for event in ordered:
        step(event, facts)
    if ordered:
        machine.last = sort_key(ordered[-1])
    if machine.csat is not None:
        facts.append(machine.csat)
    s = machine.state
    return Replay(
        facts, machine.topic, machine.latest, s.channel, s.active, machine.started_at, machine
    )


def _start(state: _State, event: Applied, facts: list[Fact]) -> bool:
    """Open the first segment; False when the event cannot start the conversation."""
    if event.channel is None:
        facts.append(Fact(ANOMALY, None, event.ts, label=f"{event.type} before start, no channel"))
        return False
    state.started = True
    _open_segment(state, event.channel, event.ts)
    state.cycle_start = event.ts
    facts.append(Fact(STARTED, event.channel, event.ts))
    facts.append(Fact(ENTERED, event.channel, event.ts, label=STARTED))
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
        facts.append(Fact(ENTERED, event.channel, ts, label="handoff"))
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
    facts.append(Fact(ENTERED, state.channel, ts, label="reopened"))
    state.cycle_start = ts
    state.waiting_since = ts
