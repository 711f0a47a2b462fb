"""Chatwoot webhook payloads to canonical events: a pure function, no I/O, no state.

``to_events(payload, options)`` maps one webhook body, as Chatwoot POSTs it, to a list of
canonical event dicts for ``collector.schema.Validator``. An empty list means the webhook
carries nothing to measure (answer 200 and drop it); a malformed payload raises
``InvalidPayload`` naming the field (answer 422).

Every event id derives from Chatwoot ids and the payload's own timestamps, so a webhook
delivered twice gives the same events, which the store counts as duplicates.
Field names follow Chatwoot's ``Message#webhook_data`` and
``Conversations::EventDataPresenter#push_data`` (the conversation's ``id`` is its display id).

Mapping (webhook event: canonical events):
- conversation_created: conversation_started, in the ai channel when Chatwoot holds it as
  `pending` (an agent bot has it), in the human channel when `open`.
- message_created: message; incoming = customer; outgoing with a sender (user or agent_bot)
  = agent; activity, template and sender-less outgoing = system; private = not public.
- conversation_status_changed: pending to open = handoff to human; open to pending = handoff
  to ai; to resolved = resolved; resolved to open or pending = reopened; snoozed = nothing.
- message_updated of an input_csat message with a submitted rating: csat on scale 5.
- anything else, conversation_updated included: nothing.

conversation_updated also fires on a status change, but only conversation_status_changed is
read: Chatwoot builds the two payloads in separate jobs, so their timestamps may differ and
reading both could count one handoff twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from collector.adapters.fields import InvalidPayload, dig, mapping, number, text, timestamp
from collector.errors import ConfigError
from collector.schema import CHANNEL_NAME

__all__ = ["ChannelPair", "ChatwootOptions", "InvalidPayload", "to_events"]

Event = dict[str, Any]
MESSAGE_TYPES = ("incoming", "outgoing", "activity", "template")  # Chatwoot's enum order
CSAT_SCALE = 5  # Chatwoot's survey offers five ratings


@dataclass(frozen=True, slots=True)
class ChannelPair:
    """Channel names that replace the defaults for one inbox or channel type; None keeps them."""

    ai: str | None = None
    human: str | None = None


@dataclass(frozen=True, slots=True)
class ChatwootOptions:
    """How Chatwoot conversations map to touchmetrics channels."""

    ai_channel: str = "chatwoot-bot"  # conversations Chatwoot holds as `pending` (an agent bot)
    human_channel: str = "chatwoot-agents"  # conversations Chatwoot holds as `open`
    inboxes: Mapping[int, ChannelPair] = field(default_factory=dict)  # by inbox id, wins
    channel_types: Mapping[str, ChannelPair] = field(default_factory=dict)  # "Channel::Email"
    topic_attribute: str | None = None  # a conversation custom attribute; else the first label
    account_id: int | None = None  # for payloads that do not name their account

    def __post_init__(self) -> None:
        named: list[tuple[str, str | None]] = [
            ("ai_channel", self.ai_channel),
            ("human_channel", self.human_channel),
        ]
        for group, table in (("inboxes", self.inboxes), ("channel_types", self.channel_types)):
            for key, pair in table.items():
                named += [(f"{group}.{key}.ai", pair.ai), (f"{group}.{key}.human", pair.human)]
        for key, name in named:
            if name is not None and not CHANNEL_NAME.fullmatch(name):
                raise ConfigError(f"chatwoot.{key}: {name!r} must match {CHANNEL_NAME.pattern}")

    def channels(self, inbox_id: int | None, channel_type: Any) -> tuple[str, str]:
        """The (ai, human) channel names for a conversation in this inbox."""
        ai, human = self.ai_channel, self.human_channel
        for pair in (self.channel_types.get(str(channel_type)), self.inboxes.get(inbox_id or -1)):
            if pair is not None:
                ai, human = pair.ai or ai, pair.human or human
        return ai, human


def to_events(payload: Any, options: ChatwootOptions | None = None) -> list[Event]:
    """The canonical events one Chatwoot webhook stands for; [] when it measures nothing."""
    if not isinstance(payload, Mapping):
        raise InvalidPayload("(payload)", "must be a JSON object")
    name = payload.get("event")
    if not isinstance(name, str) or not name:
        raise InvalidPayload("event", "required: the name of the webhook event")
    handler = _HANDLERS.get(name)
    return handler(payload, options or ChatwootOptions()) if handler else []


def _conversation_created(p: Mapping[str, Any], options: ChatwootOptions) -> list[Event]:
    status = text(p, "status", "")
    if status == "resolved":
        return []  # created resolved only for a blocked contact: no one was served
    ts = timestamp(p, ("created_at", "timestamp"), "")
    kind = "ai" if status == "pending" else "human"
    account, display_id = _ids(p, p, "", options)
    return [
        {
            "id": f"chatwoot:{account}:conversation:{display_id}:started",
            "conversation_id": f"chatwoot:{account}:{display_id}",
            "type": "conversation_started",
            "timestamp": ts,
            **_channel_fields(p, kind, options),
            "attributes": _attributes(p, options, _assignee(p)),
        }
    ]


def _status_changed(p: Mapping[str, Any], options: ChatwootOptions) -> list[Event]:
    current = text(p, "status", "")
    previous = _previous_status(p.get("changed_attributes"))
    if previous is None and current in ("open", "pending"):
        raise InvalidPayload(
            "changed_attributes",
            "needs the status change {previous_value, current_value} to tell a handoff "
            "from a reopen",
        )
    move = _transition(previous, current)
    if move is None:
        return []
    etype, target = move
    # The presenter's updated_at is the moment of the save that changed the status;
    # `timestamp` (the last activity) is only a fallback for payloads from older Chatwoot.
    ts = timestamp(p, ("updated_at", "timestamp"), "")
    account, display_id = _ids(p, p, "", options)
    event: Event = {
        "id": f"chatwoot:{account}:conversation:{display_id}:status:{current}:{ts}",
        "conversation_id": f"chatwoot:{account}:{display_id}",
        "type": etype,
        "timestamp": ts,
        "attributes": _attributes(p, options, _assignee(p)),
    }
    if target is not None:
        event.update(_channel_fields(p, target, options))
    return [event]


def _transition(previous: str | None, current: str) -> tuple[str, str | None] | None:
    """(event type, target kind) for a status change; None when nothing measurable moved."""
    if current == "resolved":
        return None if previous == "resolved" else ("resolved", None)
    if previous == "resolved" and current in ("open", "pending"):
        return ("reopened", None)
    if (previous, current) == ("pending", "open"):
        return ("handoff", "human")  # the bot hands the conversation to the agents
    if (previous, current) == ("open", "pending"):
        return ("handoff", "ai")  # an agent hands it back to the bot
    return None  # snoozed and back: a pause, not a change of handler


def _message_created(p: Mapping[str, Any], options: ChatwootOptions) -> list[Event]:
    conv = mapping(p, "conversation", "")
    account, display_id = _ids(p, conv, "conversation.", options)
    private = p.get("private", False)
    if not isinstance(private, bool):
        raise InvalidPayload("private", "must be true or false")
    author, sender = _author(p)
    event: Event = {
        "id": f"chatwoot:{account}:message:{number(p, 'id', '')}",
        "conversation_id": f"chatwoot:{account}:{display_id}",
        "type": "message",
        "timestamp": timestamp(p, ("created_at",), ""),
        "author": author,
        "public": not private,
    }
    status = conv.get("status")
    if status in ("pending", "open"):
        # Lets the first event start the conversation when conversation_created was missed.
        event.update(_channel_fields(conv, "ai" if status == "pending" else "human", options))
    event["attributes"] = _attributes(conv, options, sender)
    return [event]


def _author(p: Mapping[str, Any]) -> tuple[str, Mapping[str, Any] | None]:
    """Who wrote the message, and the support-side sender when there is one."""
    message_type = p.get("message_type")
    if isinstance(message_type, int) and not isinstance(message_type, bool):
        message_type = MESSAGE_TYPES[message_type] if 0 <= message_type < 4 else message_type
    if message_type not in MESSAGE_TYPES:
        raise InvalidPayload("message_type", f"must be one of {', '.join(MESSAGE_TYPES)}")
    sender = p.get("sender")
    if sender is not None and not isinstance(sender, Mapping):
        raise InvalidPayload("sender", "must be an object or null")
    if message_type == "incoming":
        return "customer", None
    if message_type == "outgoing" and sender is not None:
        # A person (`user`) or a bot (`agent_bot`): whoever holds the current channel answers.
        return "agent", sender
    return "system", None  # activity, templates (greeting, CSAT survey), sender-less automation


def _message_updated(p: Mapping[str, Any], options: ChatwootOptions) -> list[Event]:
    if p.get("content_type") != "input_csat":
        return []
    path = "content_attributes.submitted_values.csat_survey_response."
    response = dig(p, path.rstrip(".").split("."))
    rating = response.get("rating") if isinstance(response, Mapping) else None
    if rating is None:
        return []  # the survey was sent or delivered, not answered yet
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= CSAT_SCALE:
        raise InvalidPayload(path + "rating", f"must be an integer from 1 to {CSAT_SCALE}")
    conv = mapping(p, "conversation", "")
    account, display_id = _ids(p, conv, "conversation.", options)
    # Answering updates the survey message, which touches its conversation: updated_at is the
    # answer's time. Each answer is its own event; the engine keeps the latest.
    ts = (
        timestamp(conv, ("updated_at",), "conversation.")
        if "updated_at" in conv
        else timestamp(p, ("created_at",), "")
    )
    return [
        {
            "id": f"chatwoot:{account}:message:{number(p, 'id', '')}:csat:{rating}:{ts}",
            "conversation_id": f"chatwoot:{account}:{display_id}",
            "type": "csat",
            "timestamp": ts,
            "score": rating,
            "scale": CSAT_SCALE,
            "attributes": _attributes(conv, options, _assignee(conv)),
        }
    ]


_HANDLERS: dict[str, Callable[[Mapping[str, Any], ChatwootOptions], list[Event]]] = {
    "conversation_created": _conversation_created,
    "conversation_status_changed": _status_changed,
    "message_created": _message_created,
    "message_updated": _message_updated,
}


def _ids(
    p: Mapping[str, Any], conv: Mapping[str, Any], path: str, options: ChatwootOptions
) -> tuple[int, int]:
    """The account id and the conversation's display id, which is unique within its account."""
    return _account(p, conv, options), number(conv, "id", path)


def _account(p: Mapping[str, Any], conv: Mapping[str, Any], options: ChatwootOptions) -> int:
    if isinstance(p.get("account"), Mapping):
        return number(p["account"], "id", "account.")
    for holder, path in ((p, ""), (conv, "conversation.")):
        if "account_id" in holder:
            return number(holder, "account_id", path)
    first = dig(conv, ["messages"])
    first = first[0] if isinstance(first, list) and first else None
    if isinstance(first, Mapping) and "account_id" in first:
        return number(first, "account_id", "messages.0.")
    if options.account_id is not None:
        return options.account_id
    raise InvalidPayload("account.id", "required: the Chatwoot account of the payload")


def _channel_fields(conv: Mapping[str, Any], kind: str, options: ChatwootOptions) -> Event:
    inbox = conv.get("inbox_id")
    ai, human = options.channels(inbox if isinstance(inbox, int) else None, conv.get("channel"))
    return {"channel": ai if kind == "ai" else human, "kind": kind}


def _attributes(
    conv: Mapping[str, Any], options: ChatwootOptions, agent: Mapping[str, Any] | None
) -> dict[str, str]:
    found: dict[str, Any] = {"inbox_id": conv.get("inbox_id"), "topic": _topic(conv, options)}
    if agent is not None:
        found["agent_id"] = agent.get("id")
        found["sender_type"] = agent.get("type")
    return {key: str(value) for key, value in found.items() if value not in (None, "")}


def _topic(conv: Mapping[str, Any], options: ChatwootOptions) -> Any:
    if options.topic_attribute:
        custom = conv.get("custom_attributes")
        if isinstance(custom, Mapping) and custom.get(options.topic_attribute) not in (None, ""):
            return custom[options.topic_attribute]
    labels = conv.get("labels")
    return labels[0] if isinstance(labels, list) and labels else None


def _assignee(conv: Mapping[str, Any]) -> Mapping[str, Any] | None:
    meta = conv.get("meta")
    assignee = meta.get("assignee") if isinstance(meta, Mapping) else None
    return assignee if isinstance(assignee, Mapping) else None


def _previous_status(changes: Any) -> str | None:
    """previous_value of `status` in changed_attributes: [{"status": {...}}, ...] or a dict."""
    items = changes if isinstance(changes, list) else [changes]
    for item in items:
        change = item.get("status") if isinstance(item, Mapping) else None
        if isinstance(change, Mapping) and isinstance(change.get("previous_value"), str):
            return str(change["previous_value"])
    return None
