"""Platform webhooks: each adapter turns one request body into records of canonical events."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from collector.adapters.chatwoot import ChannelPair, ChatwootOptions, to_events
from collector.errors import MalformedBody
from collector.settings import ChatwootChannels, ChatwootSettings, Settings
from collector.sources.record import Record

Adapter = Callable[[bytes, Settings], list[Record]]


def chatwoot(body: bytes, settings: Settings) -> list[Record]:
    """One record holding the events of one Chatwoot webhook; none when it measures nothing."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise MalformedBody(f"malformed JSON: {exc.msg} at {where}") from exc
    events = to_events(payload, chatwoot_options(settings.chatwoot))
    if not events:
        return []
    return [Record(0, len(body), body.decode("utf-8", errors="replace"), items=list(events))]


def chatwoot_options(config: ChatwootSettings) -> ChatwootOptions:
    """The adapter's options from the `chatwoot` settings."""

    def pairs(table: Mapping[Any, ChatwootChannels]) -> dict[Any, ChannelPair]:
        return {key: ChannelPair(value.ai, value.human) for key, value in table.items()}

    return ChatwootOptions(
        ai_channel=config.ai_channel,
        human_channel=config.human_channel,
        inboxes=pairs(config.inboxes),
        channel_types=pairs(config.channel_types),
        topic_attribute=config.topic_attribute,
        account_id=config.account_id,
    )


ADAPTERS: dict[str, Adapter] = {"chatwoot": chatwoot}
