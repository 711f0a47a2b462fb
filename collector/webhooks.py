"""Platform webhooks: each adapter turns one request body into records of canonical events."""

from __future__ import annotations

from collections.abc import Callable

import orjson

from collector.adapters.chatwoot import ChannelPair, ChatwootOptions, to_events
from collector.settings import ChatwootSettings, Settings
from collector.sources.body import MalformedBody
from collector.sources.record import Record

Adapter = Callable[[bytes, Settings], list[Record]]


def chatwoot(body: bytes, settings: Settings) -> list[Record]:
    """One record holding the events of one Chatwoot webhook; none when it measures nothing."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(
            f"malformed JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from exc
    events = to_events(payload, chatwoot_options(settings.chatwoot))
    return (
        [Record(0, len(body), body.decode("utf-8", errors="replace"), items=list(events))]
        if events
        else []
    )


def chatwoot_options(config: ChatwootSettings) -> ChatwootOptions:
    def pairs(table: dict[int, object] | dict[str, object]) -> dict[object, ChannelPair]:
        return {k: ChannelPair(getattr(v, "ai"), getattr(v, "human")) for k, v in table.items()}

    return ChatwootOptions(
        ai_channel=config.ai_channel,
        human_channel=config.human_channel,
        inboxes=pairs(config.inboxes),  # type: ignore[arg-type]
        channel_types=pairs(config.channel_types),  # type: ignore[arg-type]
        topic_attribute=config.topic_attribute,
        account_id=config.account_id,
    )


ADAPTERS: dict[str, Adapter] = {"chatwoot": chatwoot}
