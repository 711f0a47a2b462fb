"""Concurrency and outages: concurrent writers, racing duplicates, a black-holed database,
a lost scheduler lock, and probes under load. Real `serve` processes, real HTTP on loopback."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import Service
from tests.events import BASE

WRITERS = 4
CHANNELS = 24
SHARED = 100
PER_BATCH = CHANNELS + SHARED


def post_at_once(service: Service, bodies: list[list[dict[str, Any]]]) -> list[httpx.Response]:
    """POST each body from its own client, all released at the same instant."""
    gate = threading.Barrier(len(bodies))
    answers: list[Any] = [None] * len(bodies)

    def post(index: int) -> None:
        with httpx.Client(base_url=service.url, timeout=30) as client:
            client.get("/healthz")  # connected before the gate opens
            gate.wait(timeout=30)
            answers[index] = client.post("/api/v1/events", json=bodies[index])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def crossing_batches(rounds: int, rng: random.Random) -> list[list[list[dict[str, Any]]]]:
    """Per round, one batch per writer: distinct events that start conversations of the
    writer's own in each of CHANNELS channels and add a message to SHARED conversations
    that all writers share; ids drawn at random, so each batch meets conversations and
    channels in another order."""
    per_round = []
    for r in range(rounds):
        batches = []
        for w in range(WRITERS):
            own = [(f"r{r}-w{w}-c{k}", k, "conversation_started") for k in range(CHANNELS)]
            shared = [(f"r{r}-shared-{j}", j % CHANNELS, "message") for j in range(SHARED)]
            batch = []
            for cid, k, kind in rng.sample(own + shared, len(own) + len(shared)):
                batch.append(
                    {"id": uuid.UUID(int=rng.getrandbits(128)).hex, "conversation_id": cid,
                     "type": kind, "author": "customer", "channel": f"ch-{k:02}", "kind": "ai",
                     "timestamp": BASE + 60 * r + w}
                )  # fmt: skip
            batches.append(batch)
        per_round.append(batches)
    return per_round


def accepted_total(service: Service) -> float:
    for line in service.http.get("/metrics").text.splitlines():
        if line.startswith('touchmetrics_events_received_total{result="accepted"}'):
            return float(line.split()[-1])
    raise AssertionError("no accepted counter on /metrics")


def test_concurrent_writers_of_distinct_events_never_deadlock(launch: Callable[..., Service]):
    service = launch("--no-scheduler", http_threads=WRITERS)
    rounds = crossing_batches(10, random.Random(7))
    answers = [answer for batches in rounds for answer in post_at_once(service, batches)]
    assert [a.text for a in answers if a.status_code != 200] == []
    assert sum(a.json()["accepted"] for a in answers) == PER_BATCH * WRITERS * len(rounds)
    assert accepted_total(service) == PER_BATCH * WRITERS * len(rounds)


def test_the_same_events_posted_by_several_clients_at_once_count_as_duplicates(
    launch: Callable[..., Service],
):
    service = launch("--no-scheduler", http_threads=WRITERS)
    rng = random.Random(8)
    for r in range(8):
        events = [
            {"id": f"same-{r}-{i}", "conversation_id": f"same-{r}-{i % 5}",
             "type": "message", "author": "customer", "timestamp": BASE + i}
            for i in range(60)
        ]  # fmt: skip
        bodies = [rng.sample(events, len(events)) for _ in range(WRITERS)]
        answers = post_at_once(service, bodies)
        assert [a.status_code for a in answers] == [200] * WRITERS, answers[0].text
        got = [a.json() for a in answers]
        assert sum(g["accepted"] for g in got) == len(events)
        assert sum(g["duplicates"] for g in got) == (WRITERS - 1) * len(events)
        assert [g["rejected"] for g in got] == [[]] * WRITERS
    assert accepted_total(service) == 8 * 60
