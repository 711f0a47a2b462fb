"""Open conversations (issue 12, items 9 and 14): the gauge, the report's `open` at the
window's end, and `entered` beside `started`, on SQLite and PostgreSQL and from files.

The reference everywhere is an independent count: replay each conversation's events up
to the instant and see whether its current segment is open, and in which channel.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from collector.batch import batch_of_events
from collector.engine import ENTERED, replay
from collector.instants import parse_instant
from collector.metrics import Query, Window
from collector.reporting import report_from_files, report_from_store
from collector.schema import Validator
from collector.settings import Settings
from collector.sources.jsonl import JsonLinesReader
from collector.store import Store
from exporters.prometheus import make_registry, render_metrics
from exporters.report import render
from tests.events import BASE, customer, ev, start

US = 1_000_000
STORY = [
    # c1: bot -> chat by handoff, resolved, then reopened by the customer: open in chat.
    start(0, id="a1", cid="c1"),
    ev("handoff", 10, cid="c1", channel="chat", id="a2"),
    ev("resolved", 20, cid="c1", id="a3"),
    customer(30, cid="c1", id="a4"),
    # c2: bot, still open there.
    start(5, id="b1", cid="c2"),
    customer(6, cid="c2", id="b2"),
    # c3: email, abandoned: closed.
    start(8, channel="email", id="d1", cid="c3"),
    ev("abandoned", 40, cid="c3", id="d2"),
]
TOPICS = ("billing", "delivery", None)
CHANNEL_NAMES = ("bot-chat", "chat", "email")


def gauge(store: Store) -> list[str]:
    """The open_conversations lines of /metrics, as exposed."""
    body, _ = render_metrics(make_registry(store))
    return [line for line in body.decode().splitlines() if "open_conversations" in line]


def open_by_replay(events: list[dict[str, Any]], settings: Settings, end: float) -> Counter[str]:
    """Conversations whose segment is open at ``end`` (Unix seconds), by channel."""
    validator = Validator(settings)
    by_conversation: dict[str, list[Any]] = {}
    for event in events:
        if event["timestamp"] < end:
            by_conversation.setdefault(event["conversation_id"], []).append(event)
    counts: Counter[str] = Counter()
    for items in by_conversation.values():
        result = replay([validator.validate(e) for e in items])
        if result.active and result.channel is not None:
            counts[result.channel] += 1
    return counts


def random_conversations(seed: int, count: int) -> list[dict[str, Any]]:
    """Conversations of random starts, handoffs, ends and reopens, with ties in time."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    for n in range(count):
        cid, t = f"r{n}", rng.randint(0, 50)
        topic = rng.choice(TOPICS)
        attributes = {"topic": topic} if topic else {}
        events.append(start(t, channel=rng.choice(CHANNEL_NAMES), cid=cid, attributes=attributes))
        for _ in range(rng.randint(0, 6)):
            t += rng.randint(0, 20)
            etype = rng.choice(["message", "handoff", "resolved", "abandoned", "reopened"])
            event = ev(etype, t, cid=cid)
            if etype == "handoff":
                event["channel"] = rng.choice(CHANNEL_NAMES)
            if etype == "message":
                event["author"] = rng.choice(["customer", "agent"])
            events.append(event)
    for index, event in enumerate(events):
        event["id"] = f"e{index}"
    return events


def write_shuffled(store: Store, events: list[dict[str, Any]], seed: int) -> None:
    """Deliver the events shuffled, in random batches, some twice."""
    rng = random.Random(seed)
    order = events + rng.sample(events, len(events) // 10)
    rng.shuffle(order)
    validator = Validator(store.settings)
    while order:
        size = rng.randint(1, 40)
        store.write_batch(batch_of_events(validator, "shuffled", order[:size]))
        order = order[size:]


def counted(groups: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Each group's key with its open, entered and started figures."""
    return [
        (*list(g.values())[:1], g["open"], g["entered"], g["conversations_started"]) for g in groups
    ]


def write_file(path: Path, events: list[dict[str, Any]]) -> list[tuple[Any, Path]]:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return [(JsonLinesReader(), path)]


def test_the_engine_records_how_each_segment_began(settings: Settings) -> None:
    validator = Validator(settings)
    result = replay([validator.validate(e) for e in STORY if e["conversation_id"] == "c1"])
    entered = [(f.channel, (f.at // US) - BASE, f.label) for f in result.facts if f.kind == ENTERED]
    assert entered == [
        ("bot-chat", 0, "started"),
        ("chat", 10, "handoff"),
        ("chat", 30, "reopened"),
    ]


def test_the_gauge_shows_open_conversations_per_channel_and_declared_ones_at_zero(
    store: Store, write: Callable[..., Any]
) -> None:
    write(STORY)
    assert gauge(store) == [
        "# HELP touchmetrics_open_conversations Conversations whose current segment is in the"
        " channel and has not ended.",
        "# TYPE touchmetrics_open_conversations gauge",
        'touchmetrics_open_conversations{channel="bot-chat",kind="ai"} 1.0',
        'touchmetrics_open_conversations{channel="chat",kind="human"} 1.0',
        'touchmetrics_open_conversations{channel="email",kind="human"} 0.0',
        'touchmetrics_open_conversations{channel="phone",kind="human"} 0.0',
        'touchmetrics_open_conversations{channel="voice-bot",kind="ai"} 0.0',
    ]
    # A gauge goes down: both open conversations end.
    write([ev("resolved", 50, cid="c1", id="a5"), ev("abandoned", 50, cid="c2", id="b3")])
    assert 'touchmetrics_open_conversations{channel="chat",kind="human"} 0.0' in gauge(store)
    assert 'touchmetrics_open_conversations{channel="bot-chat",kind="ai"} 0.0' in gauge(store)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_gauge_equals_the_open_conversations_however_events_arrive(
    store: Store, seed: int
) -> None:
    events = random_conversations(seed, 80)
    write_shuffled(store, events, seed)
    expected = open_by_replay(events, store.settings, float("inf"))
    assert sum(expected.values()) > 0  # the draw leaves some conversations open
    kinds = store.channel_kinds()
    assert gauge(store)[2:] == [
        f'touchmetrics_open_conversations{{channel="{ch}",kind="{kinds[ch]}"}}'
        f" {float(expected[ch])}"
        for ch in sorted(kinds)
    ]


@pytest.mark.parametrize("seed", [4, 5])
def test_the_report_counts_open_at_the_window_end_from_the_store_and_files_alike(
    store: Store, tmp_path: Path, seed: int
) -> None:
    events = random_conversations(seed, 80)
    write_shuffled(store, events, seed)
    inputs = write_file(tmp_path / "events.jsonl", events)
    for end in (BASE + 3, BASE + 30, BASE + 60, None):
        window = Window(None, None if end is None else end * US)
        expected = open_by_replay(events, store.settings, float("inf") if end is None else end)
        for group_by in ("channel", "kind", "topic"):
            query = Query(window, group_by)
            from_store = report_from_store(store, query)["groups"]
            from_files = report_from_files(store.settings, query, inputs)["groups"]
            assert counted(from_store) == counted(from_files)
            assert sum(g["open"] for g in from_store) == sum(expected.values())
            if group_by == "channel":
                assert {g["channel"]: g["open"] for g in from_store if g["open"]} == +expected
            if group_by == "kind":
                kinds = store.channel_kinds()
                pooled = Counter()
                for ch, n in expected.items():
                    pooled[kinds[ch]] += n
                assert {g["kind"]: g["open"] for g in from_store if g["open"]} == +pooled


def test_the_report_says_a_handoff_only_channel_entered_what_it_did_not_start(
    store: Store, write: Callable[..., Any]
) -> None:
    write(STORY)
    groups = {g["channel"]: g for g in report_from_store(store, Query())["groups"]}
    chat = groups["chat"]
    assert chat["conversations_started"] == 0
    assert chat["entered"] == {"total": 2, "started": 0, "handoff": 1, "reopened": 1}
    assert groups["bot-chat"]["entered"] == {
        "total": 2, "started": 2, "handoff": 0, "reopened": 0
    }  # fmt: skip
    # In a window holding only the reopen, the handoff is not counted, the reopen is.
    after = Query(Window(parse_instant("2026-11-01T10:00:25Z"), None))
    late = {g["channel"]: g for g in report_from_store(store, after)["groups"]}
    assert late["chat"]["entered"] == {"total": 1, "started": 0, "handoff": 0, "reopened": 1}
    assert late["chat"]["open"] == 1


def test_the_table_and_markdown_show_entered_handed_in_and_open_beside_started(
    store: Store, write: Callable[..., Any]
) -> None:
    write(STORY)
    report = report_from_store(store, Query())
    markdown = render(report, "markdown").splitlines()
    header = [cell.strip() for cell in markdown[0].strip("|").split("|")]
    rows = {
        cells[0]: dict(zip(header[1:], cells[1:], strict=True))
        for cells in ([c.strip() for c in line.strip("|").split("|")] for line in markdown[2:])
        if len(cells) == len(header)
    }
    chat = next(h for h in header if h.startswith("chat"))
    assert rows["conversations started"][chat] == "0"
    assert rows["segments entered"][chat] == "2"
    assert rows["of which handed in"][chat] == "1"
    assert rows["open at the end"][chat] == "1"
    # Too narrow for groups side by side: one row per channel, still saying it.
    table = render(report, "table", width=100)
    line = next(text for text in table.splitlines() if text.lstrip("│ ").startswith("chat "))
    cells = [c.strip() for c in line.strip("│").split("│")]
    assert cells[1:3] == ["0 (+1)", "1"]  # started (+ handed in), ended
