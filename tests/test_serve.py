"""`touchmetrics serve` as a user runs it: a real process, real HTTP, real signals."""

from __future__ import annotations

import re
import signal
import subprocess

import orjson
import yaml

from collector.connect import make_engine
from collector.settings import parse_settings
from collector.store import Store
from tests.conftest import CHANNELS, TOUCHMETRICS, Service, wait_for
from tests.events import agent, customer, ev, start

CONVERSATION = [
    start(0, id="p1"),
    customer(1, id="p2"),
    agent(3, id="p3"),
    ev("resolved", 50, id="p4"),
]


def started_so_far(service: Service) -> int:
    report = service.http.get("/api/v1/summary").json()
    return sum(g["conversations_started"] for g in report["groups"])


def test_it_serves_a_live_demo_whose_numbers_move_and_stops_cleanly_on_sigterm(launch):
    service = launch("--demo")
    wait_for(lambda: started_so_far(service) > 0)
    before = started_so_far(service)
    wait_for(lambda: started_so_far(service) > before)
    metrics = service.http.get("/metrics").text
    assert re.search(
        r'touchmetrics_conversations_started_total\{channel="bot-chat",kind="ai"\} [1-9]', metrics
    )
    assert service.http.get("/").status_code == 200
    code, err = service.stop()
    assert code == 0
    assert "touchmetrics stopped" in err
    assert "Traceback" not in err


def test_it_shows_the_same_numbers_from_two_processes_and_after_a_restart(launch):
    first = launch("--no-scheduler")
    second = launch("--no-scheduler")
    assert first.http.post("/api/v1/events", json=CONVERSATION).json()["accepted"] == 4
    exposition = first.http.get("/metrics").text
    assert (
        'touchmetrics_segments_ended_total{channel="bot-chat",kind="ai",outcome="resolved"} 1.0'
        in exposition
    )
    assert second.http.get("/metrics").text == exposition
    assert second.http.get("/api/v1/summary").json() == first.http.get("/api/v1/summary").json()
    first.stop()
    restarted = launch("--no-scheduler")
    assert restarted.http.get("/metrics").text == exposition


def test_it_refuses_to_serve_writes_on_a_public_address_without_a_token(tmp_path):
    env = {"TOUCHMETRICS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "PATH": ""}
    command = [*TOUCHMETRICS, "serve", "--host", "0.0.0.0", "--port", "0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, env=env)
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0 without a token" in result.stderr


def test_it_runs_the_scheduler_alone_importing_a_spool_folder_until_sigterm(tmp_path, database_url):
    spool = tmp_path / "spool"
    spool.mkdir()
    config = tmp_path / "scheduler.yaml"
    settings = {"channels": CHANNELS, "database_url": database_url, "spool_dir": str(spool)}
    config.write_text(yaml.safe_dump({**settings, "spool_interval_seconds": 0.2}))
    process = subprocess.Popen(
        [*TOUCHMETRICS, "scheduler", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        (spool / "batch.jsonl").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in CONVERSATION))
        store = Store(make_engine(database_url), parse_settings(settings))
        try:
            wait_for(lambda: store.event_counts()["accepted"] == len(CONVERSATION))
        finally:
            store.close()
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "the lock is held by this process" in err
    assert "touchmetrics scheduler stopped" in err


def recorded_layout(database_url: str) -> str | None:
    from collector.totals import totals_layout

    store = Store(make_engine(database_url), parse_settings({"database_url": database_url}))
    try:
        return totals_layout(store)
    finally:
        store.close()


def test_switching_between_serve_and_ingest_never_recounts_the_totals(
    launch, cli, config_file, database_url, tmp_path
):
    log = tmp_path / "log.jsonl"
    log.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in CONVERSATION[:2]))
    assert cli("ingest", "--config", config_file, log).exit_code == 0
    counted_in = recorded_layout(database_url)
    service = launch("--no-scheduler", "--host", "127.0.0.1")
    assert service.http.get("/readyz").status_code == 200
    code, err = service.stop()
    assert code == 0, err
    assert "recounted" not in err
    assert recorded_layout(database_url) == counted_in
    log.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in CONVERSATION[2:]))
    assert cli("ingest", "--config", config_file, log).exit_code == 0
    restarted = launch("--no-scheduler", "--port", "0")
    assert restarted.http.get("/readyz").status_code == 200
    code, err = restarted.stop()
    assert "recounted" not in err
    assert recorded_layout(database_url) == counted_in
