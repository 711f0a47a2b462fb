"""Hostile input that used to make the numbers wrong, over real HTTP and the CLI, on both stores.

Issue 7, items 0 and 2: a record the store rejects must not count, and a conversation's
topic is stored once, however many facts the conversation has.
"""

from __future__ import annotations

import json

import orjson

from tests.events import BASE

FIRST = [
    {"id": "e1", "conversation_id": "zz", "type": "conversation_started", "channel": "chat",
     "timestamp": "2026-11-01T10:00:00Z"},
]  # fmt: skip
CONFLICTING = [
    {"id": "e1", "conversation_id": "new", "type": "conversation_started", "channel": "bot-chat",
     "timestamp": "2026-11-01T11:00:00Z"},
    {"id": "e2", "conversation_id": "new", "type": "message", "author": "customer",
     "timestamp": "2026-11-01T11:00:01Z"},
]  # fmt: skip
STARTED = "touchmetrics_conversations_started_total"


def started_series(metrics: str) -> dict[str, float]:
    """conversations_started_total by channel, from an exposition."""
    found = {}
    for line in metrics.splitlines():
        if line.startswith(STARTED + "{"):
            labels, value = line.rsplit(" ", 1)
            channel = labels.split('channel="', 1)[1].split('"', 1)[0]
            found[channel] = float(value)
    return found


def test_a_record_rejected_as_a_conflict_counts_nowhere_over_http(live):
    assert live.http.post("/api/v1/events", json=FIRST).json()["accepted"] == 1
    answer = live.http.post("/api/v1/events", json=CONFLICTING).json()
    assert answer["accepted"] == 1
    assert [r["index"] for r in answer["rejected"]] == [0]
    # "new" has only an accepted message without a channel: it never started anywhere.
    started = started_series(live.http.get("/metrics").text)
    assert started["chat"] == 1.0
    assert started["bot-chat"] == 0.0
    summary = live.http.get("/api/v1/summary").json()
    by_channel = {g["channel"]: g["conversations_started"] for g in summary["groups"]}
    assert by_channel["bot-chat"] == 0
    assert by_channel["chat"] == 1
    assert summary["anomalies"] == {"message before start, no channel": 1}


def test_the_report_from_the_database_equals_the_report_from_a_file_with_conflicts(
    cli, config_file, tmp_path
):
    # In batches of two: a conflict across batches whose record names a conversation of its
    # own, one inside a batch, and one across batches naming a stored conversation.
    records = [
        *FIRST,
        {"id": "x1", "conversation_id": "k", "type": "conversation_started", "channel": "phone",
         "timestamp": BASE + 5},
        *CONFLICTING,
        {"id": "x2", "conversation_id": "k", "type": "message", "author": "customer",
         "timestamp": BASE + 6},
        {"id": "x2", "conversation_id": "k", "type": "message", "author": "customer",
         "timestamp": BASE + 7},
        {**FIRST[0], "conversation_id": "k", "type": "resolved", "timestamp": BASE + 9},
    ]  # fmt: skip
    log = tmp_path / "conflicts.jsonl"
    log.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    config = tmp_path / "small-batches.yaml"
    config.write_text(config_file.read_text() + "ingest_batch_size: 2\n")
    imported = json.loads(cli("ingest", "--config", config, "--json", log).stdout)
    assert (imported["accepted"], imported["rejected"]) == (4, 3)
    from_db = json.loads(cli("report", "--config", config, "--format", "json").stdout)
    from_file = json.loads(cli("report", "--config", config, "--format", "json", log).stdout)
    assert from_db == from_file
    assert sum(g["conversations_started"] for g in from_db["groups"]) == 2


def test_a_channel_named_only_by_a_refused_record_gets_no_kind(write, store):
    write(FIRST)
    refused = {**CONFLICTING[0], "channel": "sms", "kind": "ai"}
    summary = write([refused, CONFLICTING[1], {**CONFLICTING[1], "id": "e3", "channel": "fax",
                                                "kind": "human"}])  # fmt: skip
    assert (summary.accepted, summary.rejected) == (2, 1)
    kinds = store.channel_kinds()
    assert "sms" not in kinds
    assert kinds["fax"] == "human"


def test_a_long_topic_is_stored_once_however_many_facts_its_conversation_has(live):
    topic = "refund dispute " + "x" * 1000  # the longest attribute value section 2 allows
    events = [
        {"id": "m0", "conversation_id": "long", "type": "conversation_started",
         "channel": "chat", "timestamp": BASE, "attributes": {"topic": topic}},
    ]  # fmt: skip
    for n in range(1, 201):
        author = "customer" if n % 2 else "agent"
        events.append(
            {"id": f"m{n}", "conversation_id": "long", "type": "message", "author": author,
             "timestamp": BASE + n}
        )  # fmt: skip
    body = orjson.dumps(events)
    answer = live.http.post(
        "/api/v1/events", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.json()["accepted"] == 201
    copies, stored = text_stored(live.store, topic)
    # The event that carried it (as received, and parsed) and its conversation: 3 copies,
    # not one more per fact (this conversation has 200 reply facts).
    assert copies == 3
    assert stored < 3 * len(body)


def text_stored(store, needle: str) -> tuple[int, int]:
    """How many text values in the whole database contain ``needle``, and how many
    characters of text the database holds."""
    from sqlalchemy import String, func, select

    from collector.tables import metadata

    copies = characters = 0
    with store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for column in table.columns:
                if isinstance(column.type, String):  # Text is a String too
                    count = select(func.count()).where(column.contains(needle))
                    copies += conn.execute(count).scalar_one()
                    length = select(func.coalesce(func.sum(func.length(column)), 0))
                    characters += conn.execute(length).scalar_one()
    return copies, characters
