"""The state machine of DESIGN section 3, one rule per test."""

from __future__ import annotations

from typing import Any

import pytest

from collector.engine import Fact, replay
from collector.schema import Validator
from tests.events import BASE, agent, customer, ev, start

US = 1_000_000


@pytest.fixture
def run(offline_settings):
    validator = Validator(offline_settings)

    def facts_of(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        result = replay([validator.validate(e) for e in events])
        return [_short(f) for f in result.facts]

    return facts_of


def _short(f: Fact) -> tuple[Any, ...]:
    """A fact with its instant in seconds after BASE, and only the fields that are set."""
    fields = [f.kind, f.channel, f.at / US - BASE]
    fields += [x for x in (f.value, f.flag, f.label) if x is not None]
    return tuple(fields)


def test_it_measures_a_first_response_and_a_resolution(run):
    facts = run([start(0), customer(1), agent(3), ev("resolved", 60)])
    assert facts == [
        ("started", "bot-chat", 0),
        ("first_response", "bot-chat", 3, 2.0),
        ("response", "bot-chat", 3, 2.0),
        ("resolution", "bot-chat", 60, 60.0),
        ("segment", "bot-chat", 60, "resolved"),
    ]


def test_it_counts_only_the_first_interval_of_a_segment_as_first_response(run):
    facts = run([start(0), customer(1), agent(2), customer(10), customer(11), agent(15)])
    assert [f for f in facts if f[0] == "first_response"] == [
        ("first_response", "bot-chat", 2, 1.0)
    ]
    # the wait runs from the first unanswered customer message
    assert [f for f in facts if f[0] == "response"] == [
        ("response", "bot-chat", 2, 1.0),
        ("response", "bot-chat", 15, 5.0),
    ]


def test_it_starts_the_wait_for_a_human_at_the_handoff(run):
    facts = run(
        [
            start(0),
            customer(1),
            agent(2),
            ev("handoff", 10, channel="chat"),
            agent(70),
            ev("resolved", 100),
        ]
    )
    assert ("segment", "bot-chat", 10, "escalated") in facts
    assert ("first_response", "chat", 70, 60.0) in facts
    # the resolution interval runs from the start of the cycle, in the resolving channel
    assert ("resolution", "chat", 100, 100.0) in facts
    assert ("segment", "chat", 100, "resolved") in facts


def test_it_ignores_system_messages_and_internal_notes(run):
    facts = run(
        [
            start(0, channel="email"),
            customer(1),
            ev("message", 2, author="system"),
            agent(3, public=False),
            agent(50),
        ]
    )
    assert [f for f in facts if f[0] == "response"] == [("response", "email", 50, 49.0)]


def test_it_ignores_an_agent_message_when_nobody_waits(run):
    assert run([start(0), agent(5)]) == [("started", "bot-chat", 0)]


def test_it_reopens_implicitly_when_the_customer_writes_after_the_end(run):
    facts = run(
        [
            start(0),
            customer(1),
            agent(2),
            ev("resolved", 10),
            customer(100),
            agent(130),
            ev("resolved", 200),
        ]
    )
    assert ("reopen", "bot-chat", 100) in facts
    assert ("first_response", "bot-chat", 130, 30.0) in facts
    # a reopen starts a new cycle: the second resolution counts from the reopen
    assert ("resolution", "bot-chat", 200, 100.0) in facts
    assert [f for f in facts if f[0] == "segment"] == [
        ("segment", "bot-chat", 10, "resolved"),
        ("segment", "bot-chat", 200, "resolved"),
    ]


def test_it_reopens_explicitly_into_the_last_channel_with_the_customer_waiting(run):
    facts = run(
        [
            start(0),
            ev("handoff", 5, channel="chat"),
            ev("abandoned", 50),
            ev("reopened", 100),
            agent(110),
        ]
    )
    assert ("reopen", "chat", 100) in facts
    assert ("first_response", "chat", 110, 10.0) in facts


def test_it_records_anomalies_without_changing_any_metric(run):
    facts = run(
        [
            start(0),
            start(1),
            ev("reopened", 2),
            ev("resolved", 10),
            ev("resolved", 11),
            ev("abandoned", 12),
            ev("handoff", 13, channel="chat"),
        ]
    )
    assert [f for f in facts if f[0] == "anomaly"] == [
        ("anomaly", "bot-chat", 1, "duplicate start"),
        ("anomaly", "bot-chat", 2, "reopened while active"),
        ("anomaly", "bot-chat", 11, "resolved after end"),
        ("anomaly", "bot-chat", 12, "abandoned after end"),
        ("anomaly", "bot-chat", 13, "handoff after end"),
    ]
    assert [f for f in facts if f[0] == "segment"] == [("segment", "bot-chat", 10, "resolved")]


def test_it_starts_implicitly_in_the_channel_of_a_first_event_that_is_not_a_start(run):
    facts = run([customer(0, channel="chat"), agent(4)])
    assert facts[:2] == [("started", "chat", 0), ("first_response", "chat", 4, 4.0)]


def test_it_starts_a_log_that_begins_with_a_handoff_in_its_target_with_the_customer_waiting(run):
    facts = run([ev("handoff", 0, channel="chat"), agent(4), ev("resolved", 10)])
    assert facts == [
        ("started", "chat", 0),
        ("first_response", "chat", 4, 4.0),
        ("response", "chat", 4, 4.0),
        ("resolution", "chat", 10, 10.0),
        ("segment", "chat", 10, "resolved"),  # and no escalation of chat into itself
    ]


def test_it_records_an_anomaly_when_a_first_event_has_no_channel(run):
    facts = run([customer(0), start(5)])
    assert facts == [
        ("anomaly", None, 0, "message before start, no channel"),
        ("started", "bot-chat", 5),
    ]


def test_it_counts_only_the_latest_csat_in_the_channel_it_was_given_in(run):
    facts = run(
        [
            start(0),
            ev("csat", 20, score=2),
            ev("handoff", 30, channel="chat"),
            ev("resolved", 40),
            ev("csat", 500, score=5),
        ]
    )
    assert [f for f in facts if f[0] == "csat"] == [("csat", "chat", 500, 5.0, 1)]


@pytest.mark.parametrize(
    ("score", "scale", "satisfied", "mean"),
    [
        (4, 5, 1, 4.0),
        (3, 5, 0, 3.0),
        (2, 2, 1, 5.0),
        (1, 2, 0, 1.0),
        (8, 10, 1, 1 + 4 * 7 / 9),
        (7, 10, 0, 1 + 4 * 6 / 9),
        (3, 3, 1, 5.0),
        (2, 3, 0, 3.0),
        (6, 7, 1, 1 + 4 * 5 / 6),
        (5, 7, 0, 1 + 4 * 4 / 6),
    ],
)
def test_it_judges_satisfaction_at_eighty_percent_of_the_scale_rounded_up(
    run, score, scale, satisfied, mean
):
    facts = run([start(0), ev("resolved", 1), ev("csat", 2, score=score, scale=scale)])
    assert facts[-1] == ("csat", "bot-chat", 2, pytest.approx(mean), satisfied)


def test_it_breaks_timestamp_ties_by_type_rank_then_id(run):
    # resolved and a customer message at one instant: the message applies first,
    # so the conversation resolves rather than reopening after the end.
    facts = run([start(0), ev("resolved", 10), customer(10), agent(10.5)])
    assert not any(f[0] == "reopen" for f in facts)
    assert ("segment", "bot-chat", 10, "resolved") in facts


def test_it_takes_the_topic_from_the_last_event_that_names_one(offline_settings):
    validator = Validator(offline_settings)
    events = [
        start(0, attributes={"topic": "billing"}),
        customer(1, attributes={"topic": "refunds"}),
        agent(2, attributes={"agent_id": "a7"}),
    ]
    assert replay([validator.validate(e) for e in events]).topic == "refunds"


def test_a_wilson_bound_at_none_or_all_is_exactly_zero_or_one():
    from collector.metrics import wilson

    assert wilson(0, 1000)[0] == 0.0
    assert wilson(1000, 1000)[1] == 1.0
    low, high = wilson(0, 7)
    assert (low, round(high, 4)) == (0.0, 0.3543)
