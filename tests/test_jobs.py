"""The scheduled jobs, called directly as plain functions."""

from __future__ import annotations

import logging
from collections import Counter

import orjson
import pytest

from collector.connect import make_engine
from collector.demo import LiveFeed
from collector.hourly import hourly_counts
from collector.jobs import feed_demo, import_spool, maintain_rollups
from collector.metrics import Query
from collector.reporting import report_from_store
from collector.rollup import contributions
from collector.scheduler import SchedulerLock, guarded
from collector.schema import Validator
from collector.store import Store
from tests.events import agent, customer, ev, start

EVENTS = [
    start(0, id="s1"),
    customer(1, id="s2"),
    agent(4, id="s3"),
    ev("resolved", 60, id="s4"),
    ev("csat", 90, id="s5", score=5),
]


def line(event: dict) -> bytes:
    return orjson.dumps(event) + b"\n"


@pytest.fixture
def spool(tmp_path):
    folder = tmp_path / "spool"
    folder.mkdir()
    return folder


def test_it_imports_complete_lines_of_new_and_grown_spool_files(store, spool):
    validator = Validator(store.settings)
    log = spool / "a.jsonl"
    log.write_bytes(
        line(EVENTS[0]) + line(EVENTS[1]) + line(EVENTS[2])[:20]
    )  # last line half-written
    assert import_spool(store, validator, spool) is True
    assert store.event_counts()["accepted"] == 2
    assert import_spool(store, validator, spool) is False  # nothing complete is new
    with log.open("ab") as handle:
        handle.write(line(EVENTS[2])[20:] + line(EVENTS[3]))
    (spool / "b.ndjson").write_bytes(line(EVENTS[4]))
    (spool / "notes.txt").write_text("not an event file\n")
    assert import_spool(store, validator, spool) is True
    assert store.event_counts() == {"accepted": 5, "duplicates": 0, "rejected": 0}


def test_it_logs_where_a_grown_spool_file_resumed_and_what_became_of_its_lines(
    store, spool, caplog
):
    log = spool / "a.jsonl"
    log.write_bytes(line(EVENTS[0]) + line(EVENTS[1]))
    validator = Validator(store.settings)
    import_spool(store, validator, spool)
    log.write_bytes(log.read_bytes() + line(EVENTS[2]) + b"{broken\n")
    with caplog.at_level(logging.INFO, logger="touchmetrics.jobs"):
        import_spool(store, validator, spool)
    assert "spool a.jsonl (resumed after line 2): 2 lines: 1 taken as 1 event (1 new, " in (
        caplog.text
    )


def test_a_json_array_in_the_spool_is_logged_and_the_other_files_still_imported(
    store, spool, caplog
):
    (spool / "a.jsonl").write_bytes(orjson.dumps(EVENTS, option=orjson.OPT_INDENT_2))
    (spool / "b.jsonl").write_bytes(b"".join(line(e) for e in EVENTS))
    with caplog.at_level(logging.ERROR, logger="touchmetrics.jobs"):
        assert import_spool(store, Validator(store.settings), spool) is True
    assert "spool a.jsonl: not imported: " in caplog.text and "jq -c '.[]'" in caplog.text
    assert store.event_counts() == {"accepted": 5, "duplicates": 0, "rejected": 0}


def test_it_keeps_spool_offsets_across_a_restart(store, spool):
    (spool / "a.jsonl").write_bytes(b"".join(line(e) for e in EVENTS))
    assert import_spool(store, Validator(store.settings), spool) is True
    restarted = Store(make_engine(store.settings.database_url), store.settings)
    try:
        assert import_spool(restarted, Validator(restarted.settings), spool) is False
        assert restarted.event_counts() == {"accepted": 5, "duplicates": 0, "rejected": 0}
    finally:
        restarted.close()


def test_it_rebuilds_the_totals_when_the_buckets_change(store, write, make_settings):
    write(EVENTS)
    assert maintain_rollups(store) is True  # first run records the layout
    assert maintain_rollups(store) is False
    rebucketed = make_settings(response_buckets=[2, 3, 3.5])
    other = Store(make_engine(rebucketed.database_url), rebucketed)
    try:
        assert maintain_rollups(other) is True
        hours: Counter[tuple[int, str, str, str]] = Counter()
        facts = [(None, *fact[:6]) for fact in other.facts(topics=False)]
        expected = contributions(facts, other.layout, slots=hours)
        assert hourly_counts(other) == +hours
        totals = Counter(
            {cell: value for cell, value in other.totals().items() if cell[1] != "events"}
        )
        assert totals == +expected
        # a 3 s first response lands in le=3.0 (a bound holds values up to and including it)
        assert other.totals()[("bot-chat", "first_response", "3.0")] == 1
        assert other.event_counts()["accepted"] == 5  # intake counts survive a rebuild
    finally:
        other.close()


def test_a_recount_into_new_buckets_keeps_what_every_series_showed(store, write, make_settings):
    # Late events take a first response from bot-chat and a start from chat: both held.
    write([start(0, id="a1"), customer(1, id="a2"), agent(4, id="a3")])
    write([ev("handoff", 62, "late", channel="chat", id="b1")])
    write([ev("handoff", 2, channel="chat", id="a4"), start(60, cid="late", id="b2")])
    assert maintain_rollups(store) is True
    rebucketed = make_settings(response_buckets=[2, 3, 3.5])
    other = Store(make_engine(rebucketed.database_url), rebucketed)
    try:
        assert maintain_rollups(other) is True
        exposed, _, _ = other.exposed()
        totals = other.totals()
        assert (exposed[("chat", "started", "")], totals[("chat", "started", "")]) == (1, 0)
        held = {label: exposed.get(("bot-chat", "first_response", label), 0) for label in
                ("2.0", "3.0", "3.5", "+Inf", "count")}  # fmt: skip
        assert held == {"2.0": 0, "3.0": 0, "3.5": 0, "+Inf": 1, "count": 1}
        assert totals[("bot-chat", "first_response", "+Inf")] == 0
        assert ("bot-chat", "first_response", "5.0") not in exposed  # a bound no longer used
        assert exposed[("chat", "first_response", "2.0")] == 1  # 4 s - 2 s, in chat now
    finally:
        other.close()


def test_it_lets_only_one_scheduler_hold_the_lock(store):
    second = Store(make_engine(store.settings.database_url), store.settings)
    first_lock, second_lock = SchedulerLock(store), SchedulerLock(second)
    try:
        assert first_lock.acquire() is True
        assert second_lock.acquire() is False
        first_lock.release()
        assert second_lock.acquire() is True
    finally:
        first_lock.release()
        second_lock.release()
        second.close()


def test_it_runs_a_guarded_job_only_under_the_lock_and_logs_its_failure(store, caplog):
    runs: list[str] = []
    holder, other = (
        SchedulerLock(store),
        Store(make_engine(store.settings.database_url), store.settings),
    )
    standby = SchedulerLock(other)
    try:
        assert holder.acquire()
        guarded(standby, lambda: bool(runs.append("standby")), "job")()
        guarded(holder, lambda: bool(runs.append("holder")), "job")()
        assert runs == ["holder"]

        def broken() -> bool:
            raise RuntimeError("boom")

        with caplog.at_level(logging.ERROR, logger="touchmetrics.scheduler"):
            guarded(holder, broken, "broken")()
        assert "job broken failed" in caplog.text
    finally:
        holder.release()
        standby.release()
        other.close()


def test_it_feeds_live_demo_conversations_as_their_events_come_due():
    feed = LiveFeed(seed=3, per_second=2.0)
    now = 1_800_000_000.0
    first = feed.due(now)
    assert [e["type"] for e in first] == ["conversation_started"] * 2
    seen = list(first)
    for step in range(1, 121):
        seen += feed.due(now + step)
    assert feed.started == 2 + 2 * 120
    assert {"message", "handoff", "resolved"} <= {e["type"] for e in seen}
    stamps = [e["timestamp"] for e in seen]
    assert stamps == sorted(stamps)  # written in the order they happen


def test_it_catches_up_at_most_ten_seconds_after_a_stall():
    feed = LiveFeed(seed=3, per_second=2.0)
    feed.due(1_800_000_000.0)
    feed.due(1_800_000_000.0 + 3600)
    assert feed.started == 2 + 20


def test_it_writes_the_due_demo_events_to_the_store(store):
    feed = LiveFeed(seed=5, per_second=3.0)
    assert feed_demo(feed, store, Validator(store.settings)) is True
    report = report_from_store(store, Query())
    assert sum(g["conversations_started"] for g in report["groups"]) == 3
    assert report["events"]["rejected"] == 0
    assert report["events"]["accepted"] >= 3  # an email also brings its first message at once


def test_a_restarted_demo_writes_new_conversations_not_conflicts(store):
    validator = Validator(store.settings)
    for _run in range(2):  # two runs of `make run` on one store, each with the default seed
        feed = LiveFeed(per_second=3.0)
        feed_demo(feed, store, validator)
    report = report_from_store(store, Query())
    assert sum(g["conversations_started"] for g in report["groups"]) == 6
    assert report["events"]["rejected"] == 0
