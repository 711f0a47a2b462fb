"""Events stored in bulk (COPY on PostgreSQL, collector.bulk), on both stores: text comes
back byte for byte, and every repeat of an id counts exactly once, as a duplicate or a
conflict, also when two writers import overlapping files at the same time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import yaml
from sqlalchemy import select

from collector import tables as t
from collector.batch import CONFLICT
from tests.conftest import CHANNELS
from tests.events import BASE

AWKWARD = [  # what COPY's text format escapes or quotes, and more than one byte a character
    "tab\there",
    "new\nline",
    "carriage\rreturn",
    "back\\slash\\N",
    "\\.",
    "quotes ' \" ` and , ; |",
    "été 😀 中文 \u2028 \x7f",
    "trailing space ",
]


def message(event_id: str, conversation: str, at: int, **extra: Any) -> dict[str, Any]:
    return {"id": event_id, "conversation_id": conversation, "type": "message",
            "author": "customer", "timestamp": BASE + at, **extra}  # fmt: skip


def test_ids_and_raw_text_that_copy_escapes_come_back_byte_for_byte(store, write):
    events = [message(i, f"conv {i}", n, note=i) for n, i in enumerate(AWKWARD)]
    assert write(events).accepted == len(AWKWARD)
    with store.reading() as conn:
        stored = dict(conn.execute(select(t.events.c.id, t.events.c.raw)).all())
        conversations = set(conn.execute(select(t.conversations.c.id)).scalars())
        facts = set(conn.execute(select(t.facts.c.conversation_id)).scalars())
    assert stored == {e["id"]: orjson.dumps(e).decode() for e in events}
    assert conversations == facts == {f"conv {i}" for i in AWKWARD}
    again = write(events)
    assert (again.accepted, again.duplicates, again.rejected) == (0, len(AWKWARD), 0)


def test_repeats_within_a_batch_and_of_stored_ids_count_once_each(store, write):
    first = [message(f"e{i}", "c1", i) for i in range(5)]
    assert write(first).accepted == 5
    second = [
        message("e1", "c1", 1),  # as stored: a duplicate
        message("e2", "c1", 99),  # other content than stored: a conflict
        message("e6", "c2", 6),
        message("e6", "c2", 6),  # the batch's own first: a duplicate
        message("e7", "c2", 7),
        message("e7", "c2", 70),  # other content than the batch's first: a conflict
        message("e8", "c1", 8),
    ]
    summary = write(second)
    assert (summary.accepted, summary.duplicates, summary.rejected) == (3, 2, 2)
    assert store.event_counts() == {"accepted": 8, "duplicates": 2, "rejected": 2}
    with store.reading() as conn:
        ids = sorted(conn.execute(select(t.events.c.id)).scalars())
        ts = dict(conn.execute(select(t.events.c.id, t.events.c.ts)).all())
    assert ids == ["e0", "e1", "e2", "e3", "e4", "e6", "e7", "e8"]
    assert ts["e2"] == ts["e1"] + 1_000_000  # the stored content stays
    assert [(q.reason, q.position) for q in store.quarantined()] == [
        (CONFLICT, "test:1"),
        (CONFLICT, "test:5"),
    ]


def test_two_writers_importing_overlapping_files_store_each_id_once(store, tmp_path: Path):
    # Ids 0-2999 in one file, 1500-4499 in the other; 100 of the shared ids with other
    # content. Conversations span both files, and small batches interleave the writers.
    def lines(numbers: range, changed: range = range(0)) -> str:
        events = [
            message(f"id-{n:05}", f"c{n // 10}", n + (7 if n in changed else 0)) for n in numbers
        ]
        return "".join(orjson.dumps(e).decode() + "\n" for e in events)

    files = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    files[0].write_text(lines(range(0, 3000)))
    files[1].write_text(lines(range(1500, 4500), changed=range(1500, 1600)))
    config = tmp_path / "touchmetrics.yaml"
    settings = {"channels": CHANNELS, "database_url": store.settings.database_url}
    config.write_text(yaml.safe_dump({**settings, "ingest_batch_size": 50}))
    command = [sys.executable, "-m", "collector.cli", "ingest", "--config", str(config), "--json"]
    running = [subprocess.Popen([*command, str(f)], stdout=subprocess.PIPE) for f in files]
    outputs = [json.loads(p.communicate(timeout=300)[0]) for p in running]
    assert [p.returncode for p in running] == [0, 0]
    assert sum(o["accepted"] for o in outputs) == 4500
    assert sum(o["duplicates"] for o in outputs) == 1400
    assert sum(o["rejected"] for o in outputs) == 100
    assert store.event_counts() == {"accepted": 4500, "duplicates": 1400, "rejected": 100}
    with store.reading() as conn:
        ids = list(conn.execute(select(t.events.c.id)).scalars())
        conversations = list(conn.execute(select(t.conversations.c.events)).scalars())
    assert sorted(ids) == [f"id-{n:05}" for n in range(4500)]
    assert conversations == [10] * 450
