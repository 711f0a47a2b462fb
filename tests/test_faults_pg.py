"""Concurrency and outages: concurrent writers, racing duplicates, a black-holed database,
writes held on locks, and probes and scrapes meanwhile. Real `serve` processes, real HTTP on
loopback. The scheduler's lock: tests/test_faults_scheduler.py."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_ONLY, Service, StallingProxy, wait_for
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


@contextmanager
def writes_held(database_url: str) -> Iterator[None]:
    """Hold what every write needs, from outside the service, until the block ends: the
    SQLite write lock, or on PostgreSQL the totals table (reads go on)."""
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("LOCK TABLE rollups IN EXCLUSIVE MODE"))
            yield
    finally:
        engine.dispose()


def batch_of(tag: str, size: int = 20) -> list[dict[str, Any]]:
    return [
        {"id": f"{tag}-{i}", "conversation_id": f"{tag}-{i % 4}", "type": "message",
         "author": "customer", "timestamp": BASE + i}
        for i in range(size)
    ]  # fmt: skip


class Posting(threading.Thread):
    """One request in the background, timed: a POST of ``body``, or a GET of ``path``."""

    def __init__(
        self, service: Service, body: list[dict[str, Any]] | None, path: str = "/api/v1/events"
    ) -> None:
        super().__init__(daemon=True)
        self.service, self.body, self.path = service, body, path
        self.answer: httpx.Response | None = None
        self.seconds = 0.0
        self.start()

    def run(self) -> None:
        began = time.monotonic()
        with httpx.Client(base_url=self.service.url, timeout=30) as client:
            if self.body is None:
                self.answer = client.get(self.path)
            else:
                self.answer = client.post(self.path, json=self.body)
        self.seconds = time.monotonic() - began


def timed_get(service: Service, path: str) -> tuple[int, float]:
    began = time.monotonic()
    with httpx.Client(base_url=service.url, timeout=10) as client:
        status = client.get(path).status_code
    return status, time.monotonic() - began


def test_scrapes_and_probes_answer_while_every_server_thread_waits_to_write(
    launch: Callable[..., Service], database_url: str
):
    service = launch("--no-scheduler", http_threads=WRITERS, database_statement_timeout_seconds=8)
    assert service.http.post("/api/v1/events", json=batch_of("before")).status_code == 200
    with writes_held(database_url):
        posts = [Posting(service, batch_of(f"held-{w}")) for w in range(WRITERS)]
        time.sleep(0.5)  # every server thread is now in a write
        for path in ("/metrics", "/healthz", "/readyz"):
            status, seconds = timed_get(service, path)
            assert (status, seconds < 1) == (200, True), (path, seconds)
        assert all(post.answer is None for post in posts)
    for post in posts:
        post.join(timeout=20)
        assert post.answer is not None and post.answer.status_code == 200
    assert accepted_total(service) == 20 * (WRITERS + 1)


@POSTGRES_ONLY
def test_a_black_holed_database_answers_503_within_seconds_while_healthz_stays_up(
    launch: Callable[..., Service], database_url: str, stalling_proxy: StallingProxy
):
    service = launch(
        "--no-scheduler",
        database_url=stalling_proxy.url(database_url),
        database_connect_timeout_seconds=2,
        database_statement_timeout_seconds=2,
        probe_timeout_seconds=1,
    )
    assert service.http.post("/api/v1/events", json=batch_of("before")).status_code == 200
    with writes_held(database_url):
        in_flight = Posting(service, batch_of("in-flight"))  # waits on the held table
        time.sleep(0.5)
        stalling_proxy.stall()  # the server's own timeout error cannot come back now
        posts = [in_flight, *(Posting(service, batch_of(f"late-{w}")) for w in range(3))]
        status, seconds = timed_get(service, "/healthz")
        assert (status, seconds < 1) == (200, True), seconds
        status, seconds = timed_get(service, "/readyz")
        assert (status, seconds < 2) == (503, True), seconds
        for post in posts:
            post.join(timeout=30)
            assert post.answer is not None and post.answer.status_code == 503
            assert post.answer.headers["Retry-After"] == "5"
            assert post.seconds < 8, post.seconds
        status, seconds = timed_get(service, "/metrics")
        assert (status, seconds < 8) == (503, True), seconds
    stalling_proxy.resume()
    wait_for(lambda: timed_get(service, "/readyz")[0] == 200, seconds=15)
    retried = service.http.post("/api/v1/events", json=batch_of("in-flight"))
    assert retried.json()["accepted"] == 20  # the stalled write left nothing behind


def test_a_write_kept_waiting_past_the_statement_timeout_answers_503_and_writes_nothing(
    launch: Callable[..., Service], database_url: str
):
    service = launch("--no-scheduler", database_statement_timeout_seconds=1)
    with writes_held(database_url):
        posts = [Posting(service, batch_of(f"kept-{w}")) for w in range(2)]
        for post in posts:
            post.join(timeout=30)
            assert post.answer is not None and post.answer.status_code == 503, post.answer
            assert post.answer.headers["Retry-After"] == "5"
            assert post.seconds < 6, post.seconds
    assert service.http.post("/api/v1/events", json=batch_of("kept-0")).json()["accepted"] == 20


@POSTGRES_ONLY
def test_summaries_beyond_the_limit_answer_503_at_once_while_probes_go_on(
    launch: Callable[..., Service], database_url: str
):
    service = launch("--no-scheduler", summary_concurrency=2)
    assert service.http.post("/api/v1/events", json=batch_of("before")).status_code == 200
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            # Summaries by topic read the conversations table, scrapes never: they wait.
            conn.execute(text("LOCK TABLE conversations IN ACCESS EXCLUSIVE MODE"))
            slow = [Posting(service, None, "/api/v1/summary?group_by=topic") for _ in range(2)]
            time.sleep(0.5)
            began = time.monotonic()
            third = service.http.get("/api/v1/summary")
            assert (third.status_code, third.headers.get("Retry-After")) == (503, "5")
            assert time.monotonic() - began < 1
            assert "busy" in third.json()["error"]
            for path in ("/healthz", "/metrics"):
                status, seconds = timed_get(service, path)
                assert (status, seconds < 1) == (200, True), (path, seconds)
    finally:
        engine.dispose()
    for request in slow:
        request.join(timeout=20)
        assert request.answer is not None and request.answer.status_code == 200
