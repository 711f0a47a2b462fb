"""The /metrics exposition of DESIGN section 5, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event

from collector.connect import make_engine
from collector.demo import DemoSpec, generate
from collector.errors import StoreError
from collector.metrics import Query, build_report
from collector.settings import Settings, parse_settings
from collector.store import Store
from exporters.prometheus import (
    CONTENT_TYPE_OPENMETRICS,
    CONTENT_TYPE_TEXT,
    TouchmetricsCollector,
    make_registry,
    render_metrics,
    wants_openmetrics,
)
from tests.conftest import CHANNELS, require

T0 = 1_790_000_000  # 2026-09-21T14:13:20Z
SMALL = {
    "channels": {"bot-chat": {"kind": "ai"}, "chat": {"kind": "human"}, "phone": {"kind": "human"}},
    "response_buckets": [1, 5],
    "resolution_buckets": [60, 600],
}
PROMETHEUS_3_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
    "application/openmetrics-text;version=0.0.1;q=0.5,"
    "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
)


def ev(n: int, cid: str, type_: str, dt: float, **fields: Any) -> dict[str, Any]:
    return {"id": f"e{n}", "conversation_id": cid, "type": type_, "timestamp": T0 + dt, **fields}


# bot-chat: c1 answered in 2 s then 0.5 s and handed off to chat; c3 resolved in 30 s,
# reopened and rated 2/5. chat: first reply 60 s after the handoff, resolved at 100 s, rated
# 5/5. sms (undeclared, human): abandoned. phone: declared, never used. Plus one duplicate
# and one rejected record.
EVENTS = [
    ev(1, "c1", "conversation_started", 0, channel="bot-chat"),
    ev(2, "c1", "message", 1, author="customer"),
    ev(3, "c1", "message", 3, author="agent"),
    ev(4, "c1", "message", 10, author="customer"),
    ev(5, "c1", "message", 10.5, author="agent"),
    ev(6, "c1", "handoff", 20, channel="chat"),
    ev(7, "c1", "message", 80, author="agent"),
    ev(8, "c1", "resolved", 100),
    ev(9, "c1", "csat", 110, score=5),
    ev(10, "c2", "conversation_started", 200, channel="sms", kind="human"),
    ev(11, "c2", "abandoned", 260),
    ev(12, "c3", "conversation_started", 300, channel="bot-chat"),
    ev(13, "c3", "resolved", 330),
    ev(14, "c3", "reopened", 400),
    ev(15, "c3", "csat", 410, score=2),
    ev(1, "c1", "conversation_started", 0, channel="bot-chat"),
    {"conversation_id": "c9", "type": "bogus", "timestamp": T0},
]

EMPTY_PHONE_TEXT = """\
# HELP touchmetrics_conversations_started_total Conversations begun.
# TYPE touchmetrics_conversations_started_total counter
touchmetrics_conversations_started_total{channel="phone",kind="human"} 0.0
# HELP touchmetrics_segments_ended_total Channel segments ended, by outcome: resolved, escalated (handed off) or abandoned.
# TYPE touchmetrics_segments_ended_total counter
touchmetrics_segments_ended_total{channel="phone",kind="human",outcome="resolved"} 0.0
touchmetrics_segments_ended_total{channel="phone",kind="human",outcome="escalated"} 0.0
touchmetrics_segments_ended_total{channel="phone",kind="human",outcome="abandoned"} 0.0
# HELP touchmetrics_first_response_seconds Seconds a customer waited for the first reply of each channel segment.
# TYPE touchmetrics_first_response_seconds histogram
touchmetrics_first_response_seconds_bucket{channel="phone",kind="human",le="1.0"} 0.0
touchmetrics_first_response_seconds_bucket{channel="phone",kind="human",le="5.0"} 0.0
touchmetrics_first_response_seconds_bucket{channel="phone",kind="human",le="+Inf"} 0.0
touchmetrics_first_response_seconds_count{channel="phone",kind="human"} 0.0
touchmetrics_first_response_seconds_sum{channel="phone",kind="human"} 0.0
# HELP touchmetrics_response_seconds Seconds a customer waited for each reply, first replies included.
# TYPE touchmetrics_response_seconds histogram
touchmetrics_response_seconds_bucket{channel="phone",kind="human",le="1.0"} 0.0
touchmetrics_response_seconds_bucket{channel="phone",kind="human",le="5.0"} 0.0
touchmetrics_response_seconds_bucket{channel="phone",kind="human",le="+Inf"} 0.0
touchmetrics_response_seconds_count{channel="phone",kind="human"} 0.0
touchmetrics_response_seconds_sum{channel="phone",kind="human"} 0.0
# HELP touchmetrics_resolution_seconds Seconds from the start or reopen of a conversation to its resolution.
# TYPE touchmetrics_resolution_seconds histogram
touchmetrics_resolution_seconds_bucket{channel="phone",kind="human",le="60.0"} 0.0
touchmetrics_resolution_seconds_bucket{channel="phone",kind="human",le="600.0"} 0.0
touchmetrics_resolution_seconds_bucket{channel="phone",kind="human",le="+Inf"} 0.0
touchmetrics_resolution_seconds_count{channel="phone",kind="human"} 0.0
touchmetrics_resolution_seconds_sum{channel="phone",kind="human"} 0.0
# HELP touchmetrics_csat_responses_total CSAT ratings received.
# TYPE touchmetrics_csat_responses_total counter
touchmetrics_csat_responses_total{channel="phone",kind="human"} 0.0
# HELP touchmetrics_csat_satisfied_total CSAT ratings that count as satisfied.
# TYPE touchmetrics_csat_satisfied_total counter
touchmetrics_csat_satisfied_total{channel="phone",kind="human"} 0.0
# HELP touchmetrics_reopened_total Conversations reopened after ending.
# TYPE touchmetrics_reopened_total counter
touchmetrics_reopened_total{channel="phone",kind="human"} 0.0
# HELP touchmetrics_events_received_total Event records received, by result: accepted, duplicate or rejected (quarantined).
# TYPE touchmetrics_events_received_total counter
touchmetrics_events_received_total{result="accepted"} 0.0
touchmetrics_events_received_total{result="duplicate"} 0.0
touchmetrics_events_received_total{result="rejected"} 0.0
# HELP touchmetrics_last_event_timestamp_seconds Unix time of the latest event in the channel.
# TYPE touchmetrics_last_event_timestamp_seconds gauge
# HELP touchmetrics_build_info The running touchmetrics version; always 1.
# TYPE touchmetrics_build_info gauge
touchmetrics_build_info{version="0.1.0"} 1.0
"""  # noqa: E501

EMPTY_PHONE_OPENMETRICS = (
    EMPTY_PHONE_TEXT.replace("_total Conversations begun", " Conversations begun")
    .replace("_total counter", " counter")
    .replace("_total Channel segments", " Channel segments")
    .replace("_total CSAT", " CSAT")
    .replace("_total Conversations reopened", " Conversations reopened")
    .replace("_total Event records", " Event records")
    + "# EOF\n"
)

FAMILIES = {  # the scenario's sample lines by family (zeros included), after the HELP/TYPE lines
    "conversations_started_total": """\
touchmetrics_conversations_started_total{channel="bot-chat",kind="ai"} 2.0
touchmetrics_conversations_started_total{channel="chat",kind="human"} 0.0
touchmetrics_conversations_started_total{channel="phone",kind="human"} 0.0
touchmetrics_conversations_started_total{channel="sms",kind="human"} 1.0""",
    "segments_ended_total": """\
touchmetrics_segments_ended_total{channel="bot-chat",kind="ai",outcome="resolved"} 1.0
touchmetrics_segments_ended_total{channel="bot-chat",kind="ai",outcome="escalated"} 1.0
touchmetrics_segments_ended_total{channel="bot-chat",kind="ai",outcome="abandoned"} 0.0
touchmetrics_segments_ended_total{channel="chat",kind="human",outcome="resolved"} 1.0
touchmetrics_segments_ended_total{channel="chat",kind="human",outcome="escalated"} 0.0
touchmetrics_segments_ended_total{channel="chat",kind="human",outcome="abandoned"} 0.0
touchmetrics_segments_ended_total{channel="phone",kind="human",outcome="resolved"} 0.0
touchmetrics_segments_ended_total{channel="phone",kind="human",outcome="escalated"} 0.0
touchmetrics_segments_ended_total{channel="phone",kind="human",outcome="abandoned"} 0.0
touchmetrics_segments_ended_total{channel="sms",kind="human",outcome="resolved"} 0.0
touchmetrics_segments_ended_total{channel="sms",kind="human",outcome="escalated"} 0.0
touchmetrics_segments_ended_total{channel="sms",kind="human",outcome="abandoned"} 1.0""",
    "response_seconds": """\
touchmetrics_response_seconds_bucket{channel="bot-chat",kind="ai",le="1.0"} 1.0
touchmetrics_response_seconds_bucket{channel="bot-chat",kind="ai",le="5.0"} 2.0
touchmetrics_response_seconds_bucket{channel="bot-chat",kind="ai",le="+Inf"} 2.0
touchmetrics_response_seconds_count{channel="bot-chat",kind="ai"} 2.0
touchmetrics_response_seconds_sum{channel="bot-chat",kind="ai"} 2.5
touchmetrics_response_seconds_bucket{channel="chat",kind="human",le="1.0"} 0.0
touchmetrics_response_seconds_bucket{channel="chat",kind="human",le="5.0"} 0.0
touchmetrics_response_seconds_bucket{channel="chat",kind="human",le="+Inf"} 1.0
touchmetrics_response_seconds_count{channel="chat",kind="human"} 1.0
touchmetrics_response_seconds_sum{channel="chat",kind="human"} 60.0
touchmetrics_response_seconds_bucket{channel="phone",kind="human",le="1.0"} 0.0
touchmetrics_response_seconds_bucket{channel="phone",kind="human",le="5.0"} 0.0
touchmetrics_response_seconds_bucket{channel="phone",kind="human",le="+Inf"} 0.0
touchmetrics_response_seconds_count{channel="phone",kind="human"} 0.0
touchmetrics_response_seconds_sum{channel="phone",kind="human"} 0.0
touchmetrics_response_seconds_bucket{channel="sms",kind="human",le="1.0"} 0.0
touchmetrics_response_seconds_bucket{channel="sms",kind="human",le="5.0"} 0.0
touchmetrics_response_seconds_bucket{channel="sms",kind="human",le="+Inf"} 0.0
touchmetrics_response_seconds_count{channel="sms",kind="human"} 0.0
touchmetrics_response_seconds_sum{channel="sms",kind="human"} 0.0""",
    "first_response_seconds": """\
touchmetrics_first_response_seconds_bucket{channel="bot-chat",kind="ai",le="1.0"} 0.0
touchmetrics_first_response_seconds_bucket{channel="bot-chat",kind="ai",le="5.0"} 1.0
touchmetrics_first_response_seconds_bucket{channel="bot-chat",kind="ai",le="+Inf"} 1.0
touchmetrics_first_response_seconds_count{channel="bot-chat",kind="ai"} 1.0
touchmetrics_first_response_seconds_sum{channel="bot-chat",kind="ai"} 2.0
touchmetrics_first_response_seconds_bucket{channel="chat",kind="human",le="1.0"} 0.0
touchmetrics_first_response_seconds_bucket{channel="chat",kind="human",le="5.0"} 0.0
touchmetrics_first_response_seconds_bucket{channel="chat",kind="human",le="+Inf"} 1.0
touchmetrics_first_response_seconds_count{channel="chat",kind="human"} 1.0
touchmetrics_first_response_seconds_sum{channel="chat",kind="human"} 60.0
touchmetrics_first_response_seconds_bucket{channel="phone",kind="human",le="1.0"} 0.0
touchmetrics_first_response_seconds_bucket{channel="phone",kind="human",le="5.0"} 0.0
touchmetrics_first_response_seconds_bucket{channel="phone",kind="human",le="+Inf"} 0.0
touchmetrics_first_response_seconds_count{channel="phone",kind="human"} 0.0
touchmetrics_first_response_seconds_sum{channel="phone",kind="human"} 0.0
touchmetrics_first_response_seconds_bucket{channel="sms",kind="human",le="1.0"} 0.0
touchmetrics_first_response_seconds_bucket{channel="sms",kind="human",le="5.0"} 0.0
touchmetrics_first_response_seconds_bucket{channel="sms",kind="human",le="+Inf"} 0.0
touchmetrics_first_response_seconds_count{channel="sms",kind="human"} 0.0
touchmetrics_first_response_seconds_sum{channel="sms",kind="human"} 0.0""",
    "resolution_seconds": """\
touchmetrics_resolution_seconds_bucket{channel="bot-chat",kind="ai",le="60.0"} 1.0
touchmetrics_resolution_seconds_bucket{channel="bot-chat",kind="ai",le="600.0"} 1.0
touchmetrics_resolution_seconds_bucket{channel="bot-chat",kind="ai",le="+Inf"} 1.0
touchmetrics_resolution_seconds_count{channel="bot-chat",kind="ai"} 1.0
touchmetrics_resolution_seconds_sum{channel="bot-chat",kind="ai"} 30.0
touchmetrics_resolution_seconds_bucket{channel="chat",kind="human",le="60.0"} 0.0
touchmetrics_resolution_seconds_bucket{channel="chat",kind="human",le="600.0"} 1.0
touchmetrics_resolution_seconds_bucket{channel="chat",kind="human",le="+Inf"} 1.0
touchmetrics_resolution_seconds_count{channel="chat",kind="human"} 1.0
touchmetrics_resolution_seconds_sum{channel="chat",kind="human"} 100.0
touchmetrics_resolution_seconds_bucket{channel="phone",kind="human",le="60.0"} 0.0
touchmetrics_resolution_seconds_bucket{channel="phone",kind="human",le="600.0"} 0.0
touchmetrics_resolution_seconds_bucket{channel="phone",kind="human",le="+Inf"} 0.0
touchmetrics_resolution_seconds_count{channel="phone",kind="human"} 0.0
touchmetrics_resolution_seconds_sum{channel="phone",kind="human"} 0.0
touchmetrics_resolution_seconds_bucket{channel="sms",kind="human",le="60.0"} 0.0
touchmetrics_resolution_seconds_bucket{channel="sms",kind="human",le="600.0"} 0.0
touchmetrics_resolution_seconds_bucket{channel="sms",kind="human",le="+Inf"} 0.0
touchmetrics_resolution_seconds_count{channel="sms",kind="human"} 0.0
touchmetrics_resolution_seconds_sum{channel="sms",kind="human"} 0.0""",
    "csat_responses_total": """\
touchmetrics_csat_responses_total{channel="bot-chat",kind="ai"} 1.0
touchmetrics_csat_responses_total{channel="chat",kind="human"} 1.0
touchmetrics_csat_responses_total{channel="phone",kind="human"} 0.0
touchmetrics_csat_responses_total{channel="sms",kind="human"} 0.0""",
    "csat_satisfied_total": """\
touchmetrics_csat_satisfied_total{channel="bot-chat",kind="ai"} 0.0
touchmetrics_csat_satisfied_total{channel="chat",kind="human"} 1.0
touchmetrics_csat_satisfied_total{channel="phone",kind="human"} 0.0
touchmetrics_csat_satisfied_total{channel="sms",kind="human"} 0.0""",
    "reopened_total": """\
touchmetrics_reopened_total{channel="bot-chat",kind="ai"} 1.0
touchmetrics_reopened_total{channel="chat",kind="human"} 0.0
touchmetrics_reopened_total{channel="phone",kind="human"} 0.0
touchmetrics_reopened_total{channel="sms",kind="human"} 0.0""",
    "events_received_total": """\
touchmetrics_events_received_total{result="accepted"} 15.0
touchmetrics_events_received_total{result="duplicate"} 1.0
touchmetrics_events_received_total{result="rejected"} 1.0""",
    # The latest event in each channel, an event that names none counting in its
    # conversation's channel: c3's rating for bot-chat, c1's rating for chat, c2's end for sms.
    "last_event_timestamp_seconds": """\
touchmetrics_last_event_timestamp_seconds{channel="bot-chat",kind="ai"} 1.79000041e+09
touchmetrics_last_event_timestamp_seconds{channel="chat",kind="human"} 1.79000011e+09
touchmetrics_last_event_timestamp_seconds{channel="sms",kind="human"} 1.79000026e+09""",
    "build_info": 'touchmetrics_build_info{version="0.1.0"} 1.0',
}


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """Three declared channels and two buckets per histogram, so whole texts stay readable."""
    return make_settings(**SMALL)


def demo_events(conversations: int, seed: int = 1) -> list[dict[str, Any]]:
    """Synthetic events; the demo channels not declared here carry their kind."""
    events = [orjson.loads(line) for line in generate(DemoSpec(seed=seed), conversations)]
    for item in events:
        channel = item.get("channel")
        if channel is not None and channel not in SMALL["channels"]:
            item["kind"] = CHANNELS[channel]["kind"]
    return events


def text_of(store: Store, accept: str | None = None) -> str:
    return render_metrics(make_registry(store), accept)[0].decode()


def families_of(text: str) -> dict[str, str]:
    """The sample lines of each family, keyed by the name after the prefix."""
    found: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            current = line.split()[2].removeprefix("touchmetrics_")
            found[current] = []
        elif not line.startswith("#"):
            found[current].append(line)
    return {name: "\n".join(lines) for name, lines in found.items()}


def sample_values(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_it_exposes_a_declared_channel_with_zeros_before_any_event(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(**{**SMALL, "channels": {"phone": {"kind": "human"}}})
    store = Store(make_engine(settings.database_url), settings)
    try:
        body, content_type = render_metrics(make_registry(store))
    finally:
        store.engine.dispose()
    assert content_type == CONTENT_TYPE_TEXT == "text/plain; version=0.0.4; charset=utf-8"
    assert body.decode() == EMPTY_PHONE_TEXT


def test_it_exposes_known_events_as_exact_series(store: Store, write: Callable[..., Any]) -> None:
    write(EVENTS)
    assert families_of(text_of(store)) == FAMILIES


def test_it_makes_buckets_cumulative_with_inf_equal_to_count(
    store: Store, write: Callable[..., Any]
) -> None:
    write(EVENTS)
    for family in text_string_to_metric_families(text_of(store)):
        if family.type != "histogram":
            continue
        by_channel: dict[str, list[float]] = {}
        counts: dict[str, float] = {}
        for s in family.samples:
            if s.name.endswith("_bucket"):
                by_channel.setdefault(s.labels["channel"], []).append(s.value)
            elif s.name.endswith("_count"):
                counts[s.labels["channel"]] = s.value
        for channel, buckets in by_channel.items():
            assert buckets == sorted(buckets), (family.name, channel)
            assert buckets[-1] == counts[channel], (family.name, channel)


def test_it_serves_openmetrics_when_the_scraper_asks(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(**{**SMALL, "channels": {"phone": {"kind": "human"}}})
    store = Store(make_engine(settings.database_url), settings)
    try:
        body, content_type = render_metrics(make_registry(store), PROMETHEUS_3_ACCEPT)
    finally:
        store.engine.dispose()
    assert content_type == CONTENT_TYPE_OPENMETRICS
    assert content_type.startswith("application/openmetrics-text; version=1.0.0")
    assert body.decode() == EMPTY_PHONE_OPENMETRICS
    assert body.endswith(b"# EOF\n")
    list(parse_openmetrics(body.decode()))  # the strict parser accepts it


def test_it_keeps_counter_samples_named_total_in_openmetrics(
    store: Store, write: Callable[..., Any]
) -> None:
    write(EVENTS)
    text = text_of(store, "application/openmetrics-text")
    assert "# TYPE touchmetrics_reopened counter" in text.splitlines()
    assert families_of(text)["reopened"] == FAMILIES["reopened_total"]
    assert families_of(text)["segments_ended"] == FAMILIES["segments_ended_total"]


@pytest.mark.parametrize(
    ("accept", "openmetrics"),
    [
        (None, False),
        ("", False),
        ("*/*", False),
        ("text/plain;version=0.0.4", False),
        ("application/openmetrics-text", True),
        ("application/openmetrics-text; version=1.0.0; charset=utf-8", True),
        (PROMETHEUS_3_ACCEPT, True),
        ("application/openmetrics-text;version=0.0.1", False),
        ("application/openmetrics-text;q=0", False),
        ("text/plain;q=0.9, application/openmetrics-text;q=0.5", False),
        ("application/openmetrics-text;q=oops, text/plain", False),
    ],
)
def test_it_chooses_the_format_from_the_accept_header(
    accept: str | None, openmetrics: bool
) -> None:
    assert wants_openmetrics(accept) is openmetrics


def test_it_agrees_with_the_all_time_report(
    store: Store, write: Callable[..., Any], settings: Settings
) -> None:
    write(demo_events(300, seed=7))
    values = sample_values(text_of(store))
    report = build_report(
        store.facts(), store.channel_kinds(), settings.channels, Query(), store.event_counts()
    )
    assert {g["channel"] for g in report["groups"]} == {
        dict(labels)["channel"]
        for name, labels in values
        if name == "touchmetrics_conversations_started_total"
    }
    for group in report["groups"]:
        assert_group_matches(values, group)
    events = {r: values[("touchmetrics_events_received_total", frozenset({("result", r)}))]
              for r in ("accepted", "duplicate", "rejected")}  # fmt: skip
    assert events == {
        "accepted": report["events"]["accepted"],
        "duplicate": report["events"]["duplicates"],
        "rejected": report["events"]["rejected"],
    }


def assert_group_matches(
    values: dict[tuple[str, frozenset[tuple[str, str]]], float], group: dict[str, Any]
) -> None:
    labels = {("channel", group["channel"]), ("kind", group["kind"])}

    def value(name: str, **extra: str) -> float:
        return values[("touchmetrics_" + name, frozenset(labels | set(extra.items())))]

    assert value("conversations_started_total") == group["conversations_started"]
    for outcome in ("resolved", "escalated", "abandoned"):
        assert value("segments_ended_total", outcome=outcome) == group["segments"][outcome]
    assert value("csat_responses_total") == group["csat"]["responses"]
    assert value("csat_satisfied_total") == group["csat"]["satisfied"]
    assert value("reopened_total") == group["reopened"]
    for histogram in ("first_response_seconds", "response_seconds", "resolution_seconds"):
        n, mean = group[histogram]["n"], group[histogram]["mean"]
        assert value(histogram + "_count") == n
        assert value(histogram + "_bucket", le="+Inf") == n
        assert math.isclose(value(histogram + "_sum"), n * (mean or 0.0), rel_tol=1e-9)


def test_it_costs_the_same_queries_however_many_events(
    store: Store, write: Callable[..., Any]
) -> None:
    registry = make_registry(store)
    write(EVENTS)
    with counted_statements(store) as few:
        render_metrics(registry)
    write(demo_events(200))
    with counted_statements(store) as many:
        render_metrics(registry)
    assert len(few) == len(many) == 2  # the rollups, and the channels with their latest events


@contextmanager
def counted_statements(store: Store) -> Iterator[list[str]]:
    """The SQL statements run meanwhile, transaction control left out."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        if not args[2].startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            statements.append(args[2])

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(store.engine, "before_cursor_execute", record)


UNREACHABLE = [
    "postgresql+psycopg://touchmetrics@127.0.0.1:1/touchmetrics",
    "sqlite:////nonexistent-directory/touchmetrics.db",
]


@pytest.fixture(params=UNREACHABLE, ids=["postgresql", "sqlite"])
def dead_store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """A store whose database cannot be reached."""
    settings = parse_settings({**SMALL, "database_url": request.param})
    store = Store(make_engine(request.param), settings)
    yield store
    store.engine.dispose()


def test_it_describes_the_families_without_touching_the_database(dead_store: Store) -> None:
    registry = make_registry(dead_store)  # registering calls describe()
    names = {family.name for family in TouchmetricsCollector(dead_store).describe()}
    assert names == {
        "touchmetrics_conversations_started", "touchmetrics_segments_ended",
        "touchmetrics_first_response_seconds", "touchmetrics_response_seconds",
        "touchmetrics_resolution_seconds", "touchmetrics_csat_responses",
        "touchmetrics_csat_satisfied", "touchmetrics_reopened", "touchmetrics_events_received",
        "touchmetrics_last_event_timestamp_seconds", "touchmetrics_build_info",
    }  # fmt: skip
    assert registry is not REGISTRY


def test_it_raises_store_error_when_the_database_is_down(dead_store: Store) -> None:
    registry = make_registry(dead_store)
    with pytest.raises(StoreError, match="database unavailable") as raised:
        render_metrics(registry)
    assert raised.value.__cause__ is not None


def test_it_leaves_the_global_registry_alone(store: Store, write: Callable[..., Any]) -> None:
    make_registry(store)
    make_registry(store)  # a second app on the same store must not collide
    assert REGISTRY.get_sample_value("touchmetrics_build_info", {"version": "0.1.0"}) is None


def test_it_passes_promtool_lint(store: Store, write: Callable[..., Any]) -> None:
    require(shutil.which("promtool") is not None, "promtool not installed")
    write(EVENTS)
    result = subprocess.run(
        ["promtool", "check", "metrics"],
        input=text_of(store).encode(),
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
