"""Counters on /metrics never go down, over real HTTP, on SQLite and PostgreSQL (issue 7, 4-5).

Late events move conversations between channels, so a true total can fall; Prometheus reads
any drop as a counter reset. What /metrics promises, and these tests check at every scrape:
each counter series (histogram buckets, counts and sums included) shows the highest true
total it ever had. It holds while the true total is lower, and is the exact total again as
soon as the true total passes it. A true total that fell and never recovers stays held.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from typing import Any

import orjson
from prometheus_client.parser import text_string_to_metric_families

from collector.demo import DemoSpec, generate
from collector.engine import (
    CSAT,
    FIRST_RESPONSE,
    REOPEN,
    RESOLUTION,
    RESPONSE,
    SEGMENT,
    STARTED,
    replay,
)
from collector.schema import TYPE_ORDER, Validator
from tests.conftest import CHANNELS
from tests.events import BASE, agent, customer, ev, start

Series = tuple[str, frozenset[tuple[str, str]]]  # sample name, labels
PREFIX = "touchmetrics_"
HISTOGRAM_NAMES = {FIRST_RESPONSE: "first_response", RESPONSE: "response", RESOLUTION: "resolution"}
OUTCOMES = ("resolved", "escalated", "abandoned")


def scrape(live: Any) -> dict[Series, float]:
    """Every counter sample on /metrics (histograms' too), by name and labels."""
    response = live.http.get("/metrics")
    assert response.status_code == 200
    found: dict[Series, float] = {}
    for family in text_string_to_metric_families(response.text):
        if family.type in ("counter", "histogram"):
            for sample in family.samples:
                if not sample.name.endswith("_created"):
                    found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def true_totals(
    validator: Validator, bounds: dict[str, tuple[float, ...]], delivered: list[dict[str, Any]]
) -> dict[Series, float]:
    """The exact all-time totals of the events delivered so far, from an in-order replay,
    counted here the way section 5 defines each series."""
    kinds = {name: spec["kind"] for name, spec in CHANNELS.items()}
    by_conversation: dict[str, dict[str, Any]] = defaultdict(dict)
    for record in delivered:
        by_conversation[record["conversation_id"]].setdefault(record["id"], record)
    totals: dict[Series, float] = defaultdict(float)

    def add(name: str, channel: str, amount: float, **labels: str) -> None:
        key = frozenset({"channel": channel, "kind": kinds[channel], **labels}.items())
        totals[(PREFIX + name, key)] += amount

    for channel in kinds:  # declared channels show zeros before their first event
        for name in ("conversations_started", "csat_responses", "csat_satisfied", "reopened"):
            add(name + "_total", channel, 0)
        for outcome in OUTCOMES:
            add("segments_ended_total", channel, 0, outcome=outcome)
        for kind, name in HISTOGRAM_NAMES.items():
            for le in [*bounds[kind], math.inf]:
                add(f"{name}_seconds_bucket", channel, 0, le=_le(le))
            add(f"{name}_seconds_count", channel, 0)
            add(f"{name}_seconds_sum", channel, 0)
    for records in by_conversation.values():
        for fact in replay([validator.validate(r) for r in records.values()]).facts:
            channel = fact.channel
            if channel is None:
                continue
            if fact.kind in (STARTED, REOPEN):
                name = "conversations_started" if fact.kind == STARTED else "reopened"
                add(name + "_total", channel, 1)
            elif fact.kind == SEGMENT:
                add("segments_ended_total", channel, 1, outcome=fact.label or "")
            elif fact.kind == CSAT:
                add("csat_responses_total", channel, 1)
                add("csat_satisfied_total", channel, fact.flag or 0)
            elif fact.kind in HISTOGRAM_NAMES:
                name = HISTOGRAM_NAMES[fact.kind] + "_seconds"
                assert fact.value is not None
                for le in [*bounds[fact.kind], math.inf]:
                    add(name + "_bucket", channel, int(fact.value <= le), le=_le(le))
                add(name + "_count", channel, 1)
                add(name + "_sum", channel, fact.value)
    return dict(totals)


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


class Watch:
    """Scrapes after every post, checking each scrape against the truth so far."""

    def __init__(self, live: Any) -> None:
        self.live = live
        self.validator = Validator(live.settings)
        self.bounds = {kind: live.store.layout.bounds[kind] for kind in HISTOGRAM_NAMES}
        self.delivered: list[dict[str, Any]] = []
        self.highest: dict[Series, float] = {}  # the highest true total so far
        self.last: dict[Series, float] = {}
        self.scrapes = self.drops = 0

    def post(self, events: list[dict[str, Any]]) -> tuple[dict[Series, float], dict[Series, float]]:
        answer = self.live.http.post("/api/v1/events", json=events)
        assert answer.status_code == 200 and not answer.json()["rejected"], answer.text
        self.delivered += events
        truth = true_totals(self.validator, self.bounds, self.delivered)
        for series, value in truth.items():
            if value < self.highest.get(series, 0.0) - 1e-9:
                self.drops += 1  # a true total fell: the exposed one must hold
            self.highest[series] = max(value, self.highest.get(series, value))
        shown = scrape(self.live)
        self.scrapes += 1
        for series, value in shown.items():
            assert value >= self.last.get(series, 0.0), (series, self.last[series], value)
            if series[0].endswith("_received_total"):
                continue  # counted at intake: not derived from the events' content
            assert math.isclose(value, self.highest[series], abs_tol=1e-6), (
                series, value, self.highest[series], truth[series]
            )  # fmt: skip
        assert shown.keys() - truth.keys() <= {s for s in shown if s[0].endswith("_received_total")}
        consistent_histograms(shown)
        self.last = shown
        return shown, truth


def consistent_histograms(shown: dict[Series, float]) -> None:
    """Each histogram's buckets grow with the bound, and its +Inf bucket is its _count."""
    buckets: dict[tuple[str, frozenset[tuple[str, str]]], list[tuple[float, float]]]
    buckets = defaultdict(list)
    for (name, labels), value in shown.items():
        if name.endswith("_bucket"):
            rest = frozenset((k, v) for k, v in labels if k != "le")
            buckets[(name.removesuffix("_bucket"), rest)].append((float(dict(labels)["le"]), value))
    assert buckets
    for (name, labels), counts in buckets.items():
        ordered = [value for _, value in sorted(counts)]
        assert ordered == sorted(ordered), (name, labels, ordered)
        assert ordered[-1] == shown[(name + "_count", labels)], (name, labels)


def shuffled_log(seed: int) -> list[list[dict[str, Any]]]:
    """A demo log shuffled and cut into small posts: many late events, handoffs included."""
    events = [orjson.loads(line) for line in generate(DemoSpec(seed=seed), conversations=25)]
    rng = random.Random(seed)
    rng.shuffle(events)
    posts: list[list[dict[str, Any]]] = []
    while events:
        size = rng.randint(1, 6)
        posts.append(events[:size])
        events = events[size:]
    return posts


def again_in_order(posted: list[dict[str, Any]], copy: int) -> list[dict[str, Any]]:
    """The same conversations once more under new ids, in the order the engine applies them."""
    renamed = [
        {**e, "id": f"{e['id']}~{copy}", "conversation_id": f"{e['conversation_id']}~{copy}"}
        for e in posted
    ]
    return sorted(renamed, key=lambda e: (e["timestamp"], TYPE_ORDER[e["type"]], e["id"]))


def test_no_counter_goes_down_between_shuffled_posts_and_each_catches_up(live):
    watch = Watch(live)
    posts = shuffled_log(seed=21)
    for events in posts:
        shown, truth = watch.post(events)
    assert watch.drops > 0, "the shuffled log must make some true total fall"
    held = {s for s, v in truth.items() if shown[s] > v + 1e-6}
    assert held, "some series must be holding a value above its true total"
    # No more late data: the same traffic twice more, in order, lifts the true totals past
    # every mark they can pass; those series show their exact totals again.
    log = [e for events in posts for e in events]
    for copy in (1, 2):
        events = again_in_order(log, copy)
        for start_at in range(0, len(events), 50):
            shown, truth = watch.post(events[start_at : start_at + 50])
    caught_up = {s for s in held if truth[s] >= watch.highest[s] - 1e-6}
    assert caught_up, "tripled traffic must carry some held series past its mark"
    for series in caught_up:
        assert math.isclose(shown[series], truth[series], abs_tol=1e-6), series
    assert watch.scrapes == len(posts) + 2 * math.ceil(len(log) / 50)


def test_a_late_start_never_lowers_a_counter_and_the_total_passes_the_held_value(live, serve_app):
    watch = Watch(live)
    chat = ("touchmetrics_conversations_started_total",
            frozenset({"channel": "chat", "kind": "human"}.items()))  # fmt: skip
    # The two posts: a handoff to chat, then the earlier start in bot-chat.
    shown, truth = watch.post([ev("handoff", 60, "late", channel="chat", id="h")])
    assert shown[chat] == truth[chat] == 1
    shown, truth = watch.post([start(0, "bot-chat", cid="late", id="s")])
    assert (shown[chat], truth[chat]) == (1, 0)  # held: the true total fell to 0
    assert scrape(serve_app())[chat] == 1  # in another process, or after a restart, too
    shown, truth = watch.post([start(100, "chat", cid="next", id="n")])
    assert (shown[chat], truth[chat]) == (1, 1)  # the true total caught up
    shown, truth = watch.post([start(200, "chat", cid="more", id="m")])
    assert (shown[chat], truth[chat]) == (2, 2)  # and the series moves with it again


def test_the_last_event_of_a_channel_is_credited_at_the_events_instant(live):
    # A message at 2 h is the bot's until a late handoff at 1 h shows it was chat's.
    live.http.post(
        "/api/v1/events",
        json=[start(0, "bot-chat", id="a"), customer(7200, id="b"), agent(7260, id="c")],
    )
    assert last_events(live) == {"bot-chat": BASE + 7260}
    live.http.post("/api/v1/events", json=[ev("handoff", 3600, channel="chat", id="d")])
    assert last_events(live) == {"bot-chat": BASE, "chat": BASE + 7260}


def last_events(live: Any) -> dict[str, float]:
    found = {}
    for family in text_string_to_metric_families(live.http.get("/metrics").text):
        if family.name == "touchmetrics_last_event_timestamp_seconds":
            found = {s.labels["channel"]: s.value for s in family.samples}
    return found
