"""The Chatwoot webhook adapter: payloads in, canonical events out, facts after replay.

The payloads in tests/fixtures/chatwoot/ were written from Chatwoot's documentation (the
webhook events page) and the field names of its Message#webhook_data and
Conversations::EventDataPresenter#push_data; they were not captured from a Chatwoot server.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from collector.adapters.chatwoot import ChannelPair, ChatwootOptions, InvalidPayload, to_events
from collector.engine import ENTERED, Fact, replay
from collector.errors import ConfigError, InvalidEvent
from collector.schema import Validator
from collector.settings import Settings, parse_settings

FIXTURES = Path(__file__).parent / "fixtures" / "chatwoot"
STORY = sorted(FIXTURES.glob("[0-9][0-9]_*.json"))  # one conversation, webhook by webhook
T0 = 1_793_527_200  # the story's conversation_created, 2026-11-01T10:00:00Z
US = 1_000_000
BOT, AGENTS = "chatwoot-bot", "chatwoot-agents"


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return payload


@pytest.fixture
def settings() -> Settings:
    return parse_settings({"channels": {BOT: {"kind": "ai"}, AGENTS: {"kind": "human"}}})


def facts_of(events: list[dict[str, Any]], settings: Settings) -> list[tuple[Any, ...]]:
    validator = Validator(settings)
    facts = replay([validator.validate(e) for e in events]).facts
    # Segment entries have tests of their own (test_open_conversations.py).
    return [_short(f) for f in facts if f.kind != ENTERED]


def _short(f: Fact) -> tuple[Any, ...]:
    """A fact with its instant in seconds after T0, and only the fields that are set."""
    fields = [f.kind, f.channel, f.at / US - T0]
    return (*fields, *(x for x in (f.value, f.flag, f.label) if x is not None))


def story_events(options: ChatwootOptions | None = None) -> list[dict[str, Any]]:
    return [e for path in STORY for e in to_events(load(path.name), options)]


def test_it_turns_a_bot_then_human_conversation_into_the_facts_of_both_channels(
    settings: Settings,
) -> None:
    assert facts_of(story_events(), settings) == [
        ("started", BOT, 0),
        ("first_response", BOT, 4.75, 2.5),
        ("response", BOT, 4.75, 2.5),
        ("response", BOT, 31, 1.0),
        ("segment", BOT, 32.5, "escalated"),
        ("first_response", AGENTS, 92.5, 60.0),
        ("response", AGENTS, 92.5, 60.0),
        ("resolution", AGENTS, 300.25, 300.25),
        ("segment", AGENTS, 300.25, "resolved"),
        ("csat", AGENTS, 345.5, 5.0, 1),
    ]


def test_it_gives_every_event_a_type_the_story_calls_for() -> None:
    kinds = [(e["type"], e.get("author"), e.get("channel")) for e in story_events()]
    assert kinds == [
        ("conversation_started", None, BOT),
        ("message", "customer", BOT),
        ("message", "agent", BOT),
        ("message", "customer", BOT),
        ("message", "agent", BOT),
        ("handoff", None, AGENTS),
        ("message", "agent", AGENTS),  # the private note, not public
        ("message", "agent", AGENTS),
        ("resolved", None, None),
        ("message", "system", None),  # the CSAT survey itself
        ("csat", None, None),
    ]


def test_it_derives_event_ids_from_chatwoot_ids() -> None:
    ids = [e["id"] for e in story_events()]
    assert ids[:3] == [
        "chatwoot:7:conversation:42:started",
        "chatwoot:7:message:1001",
        "chatwoot:7:message:1002",
    ]
    assert ids[5] == "chatwoot:7:conversation:42:status:open:2026-11-01T10:00:32.500000Z"
    assert ids[-1] == "chatwoot:7:message:1007:csat:5:2026-11-01T10:05:45.500000Z"
    assert {e["conversation_id"] for e in story_events()} == {"chatwoot:7:42"}


def test_it_gives_identical_events_when_chatwoot_retries_a_webhook(settings: Settings) -> None:
    validator = Validator(settings)
    for path in STORY:
        first, retry = to_events(load(path.name)), to_events(load(path.name))
        assert first == retry, path.name
        assert [validator.validate(e) for e in first] == [validator.validate(e) for e in retry]


def test_it_does_not_count_a_private_note_as_a_response(settings: Settings) -> None:
    note = to_events(load("07_message_created_private_note.json"))
    assert note[0]["author"] == "agent" and note[0]["public"] is False
    # Without the agent's public reply the customer is still waiting after the note.
    story = [e for e in story_events() if e["id"] != "chatwoot:7:message:1006"]
    human = [f for f in facts_of(story, settings) if f[1] == AGENTS]
    assert not [f for f in human if f[0] in ("first_response", "response")]


def test_it_opens_a_conversation_created_open_in_the_human_channel() -> None:
    payload = load("01_conversation_created.json") | {"status": "open"}
    (event,) = to_events(payload)
    assert (event["type"], event["channel"], event["kind"]) == (
        "conversation_started",
        AGENTS,
        "human",
    )
    assert event["timestamp"] == "2026-11-01T10:00:00Z"


def test_it_takes_channel_names_from_the_inbox_before_the_channel_type() -> None:
    by_type = {"Channel::WebWidget": ChannelPair(ai="web-bot", human="web-chat")}
    options = ChatwootOptions(channel_types=by_type)
    assert to_events(load("01_conversation_created.json"), options)[0]["channel"] == "web-bot"
    options = ChatwootOptions(channel_types=by_type, inboxes={3: ChannelPair(ai="billing-bot")})
    moves = [
        e["channel"]
        for e in story_events(options)
        if e["type"] in ("conversation_started", "handoff")
    ]
    assert moves == ["billing-bot", "web-chat"]


def test_it_reads_unix_seconds_iso_text_and_rails_utc_text_alike() -> None:
    payload = load("02_message_created_customer.json")
    stamps = []
    for created_at in (T0 + 2, "2026-11-01T10:00:02.000Z", "2026-11-01 10:00:02 UTC"):
        stamps.append(to_events(payload | {"created_at": created_at})[0]["timestamp"])
    assert stamps == ["2026-11-01T10:00:02Z"] * 3


def test_it_reads_a_reopen_and_a_handback_to_the_bot() -> None:
    payload = load("06_conversation_status_changed_handoff.json")

    def moved(previous: str, current: str) -> list[tuple[Any, ...]]:
        change = [{"status": {"previous_value": previous, "current_value": current}}]
        events = to_events(payload | {"status": current, "changed_attributes": change})
        return [(e["type"], e.get("channel")) for e in events]

    assert moved("resolved", "open") == [("reopened", None)]
    assert moved("resolved", "pending") == [("reopened", None)]
    assert moved("open", "pending") == [("handoff", BOT)]
    assert moved("pending", "resolved") == [("resolved", None)]
    assert moved("snoozed", "open") == []


def test_it_counts_a_human_reply_in_a_pending_conversation_to_the_bot_channel(
    settings: Settings,
) -> None:
    # Chatwoot still holds the conversation as the bot's: the engine's rule (the current
    # channel's handler answers) applies, and the sender stays visible in the attributes.
    reply = load("08_message_created_agent_reply.json")
    reply["conversation"]["status"] = "pending"
    (event,) = to_events(reply)
    assert (event["author"], event["channel"]) == ("agent", BOT)
    assert event["attributes"]["sender_type"] == "user"
    start, ask = (
        to_events(load("01_conversation_created.json")),
        to_events(load("02_message_created_customer.json")),
    )
    assert ("first_response", BOT, 92.5, 90.25) in facts_of(start + ask + [event], settings)


def test_it_starts_the_conversation_from_a_message_when_the_creation_was_missed(
    settings: Settings,
) -> None:
    facts = facts_of(story_events()[1:], settings)
    assert facts[0] == ("started", BOT, 2.25)


def test_it_takes_the_topic_from_a_configured_custom_attribute_before_the_labels() -> None:
    payload = load("08_message_created_agent_reply.json")
    assert to_events(payload)[0]["attributes"]["topic"] == "billing"
    payload["conversation"]["custom_attributes"] = {"reason": "refund"}
    (event,) = to_events(payload, ChatwootOptions(topic_attribute="reason"))
    assert event["attributes"] == {
        "inbox_id": "3", "topic": "refund", "agent_id": "5", "sender_type": "user",
    }  # fmt: skip


def test_it_takes_the_account_from_the_options_when_the_payload_names_none() -> None:
    payload = load("09_conversation_status_changed_resolved.json")
    del payload["account"]
    payload["messages"] = []
    with pytest.raises(InvalidPayload) as caught:
        to_events(payload)
    assert caught.value.field == "account.id"
    assert (
        to_events(payload, ChatwootOptions(account_id=7))[0]["conversation_id"] == "chatwoot:7:42"
    )


@pytest.mark.parametrize(
    ("fixture", "change", "field"),
    [
        ("02_message_created_customer.json", {"event": None}, "event"),
        ("02_message_created_customer.json", {"conversation": None}, "conversation"),
        ("02_message_created_customer.json", {"id": "one"}, "id"),
        ("02_message_created_customer.json", {"created_at": "yesterday"}, "created_at"),
        ("02_message_created_customer.json", {"created_at": "2026-11-01T10:00:02"}, "created_at"),
        ("02_message_created_customer.json", {"message_type": "inbound"}, "message_type"),
        ("02_message_created_customer.json", {"private": "no"}, "private"),
        ("02_message_created_customer.json", {"sender": "Jane"}, "sender"),
        ("01_conversation_created.json", {"status": None}, "status"),
        ("01_conversation_created.json", {"created_at": None, "timestamp": None}, "created_at"),
        ("06_conversation_status_changed_handoff.json", {"changed_attributes": None},
         "changed_attributes"),
        ("06_conversation_status_changed_handoff.json", {"updated_at": -1}, "updated_at"),
    ],
)  # fmt: skip
def test_it_names_the_field_when_a_payload_is_malformed(
    fixture: str, change: dict[str, Any], field: str
) -> None:
    payload = load(fixture) | change
    with pytest.raises(InvalidPayload) as caught:
        to_events(payload)
    assert caught.value.field == field
    assert isinstance(caught.value, InvalidEvent)
    assert str(caught.value).startswith(f"field `{field}`: ")


def test_it_names_the_nested_field_of_a_malformed_csat_rating() -> None:
    payload = load("11_message_updated_csat_submitted.json")
    response = payload["content_attributes"]["submitted_values"]["csat_survey_response"]
    response["rating"] = 7
    with pytest.raises(InvalidPayload, match="rating") as caught:
        to_events(payload)
    assert caught.value.field == "content_attributes.submitted_values.csat_survey_response.rating"
    with pytest.raises(InvalidPayload, match=r"conversation\.id"):
        to_events(load("02_message_created_customer.json") | {"conversation": {"status": "open"}})


def test_it_rejects_a_payload_that_is_not_an_object() -> None:
    with pytest.raises(InvalidPayload, match="JSON object"):
        to_events([load("02_message_created_customer.json")])


def unanswered_survey() -> dict[str, Any]:
    payload = load("11_message_updated_csat_submitted.json")
    payload["content_attributes"] = {}
    return payload


def edited_text_message() -> dict[str, Any]:
    return load("02_message_created_customer.json") | {"event": "message_updated"}


@pytest.mark.parametrize(
    "payload",
    [
        load("contact_created.json"),
        load("webwidget_triggered.json"),
        load("conversation_updated_assignee.json"),
        load("conversation_status_changed_snoozed.json"),
        unanswered_survey(),
        edited_text_message(),
        load("01_conversation_created.json") | {"status": "resolved"},
        load("01_conversation_created.json") | {"event": "conversation_typing_on"},
    ],
    ids=lambda p: str(p["event"]),
)
def test_it_returns_nothing_for_webhooks_that_carry_nothing_to_measure(
    payload: dict[str, Any],
) -> None:
    assert to_events(copy.deepcopy(payload)) == []


def test_it_refuses_channel_names_the_schema_would_reject() -> None:
    with pytest.raises(ConfigError, match=r"chatwoot\.inboxes\.3\.human"):
        ChatwootOptions(inboxes={3: ChannelPair(human="Live Chat")})
