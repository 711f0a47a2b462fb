"""Where people see the objectives: the overview page, the summary API, `touchmetrics
alerts list|test`, and the scheduler that runs the alert jobs."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from collector.alerts import evaluate_alerts
from collector.batch import batch_of_events
from collector.cli import main
from collector.metrics import wilson
from collector.outbox import send_outbox
from collector.scheduler import alerts_job, build_scheduler
from collector.schema import Validator
from collector.store import Store
from tests.conftest import LiveServer
from tests.events import BASE, minute_us, outcomes

TITLE = "The web assistant resolves most conversations itself"


def add(store: Store, events: list[dict[str, Any]]) -> None:
    store.write_batch(batch_of_events(Validator(store.settings), "test", events))


@pytest.fixture
def served(alert_store: Callable[..., Store]) -> Iterator[Callable[..., LiveServer]]:
    """The app on loopback over an alert store's settings; stopped at the end."""
    started: list[LiveServer] = []

    def start(store: Store) -> LiveServer:
        started.append(LiveServer(store.settings))
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def cli() -> Callable[..., Any]:
    runner = CliRunner()
    return lambda *args: runner.invoke(main, [str(a) for a in args])


def test_the_overview_shows_each_objective_state_and_value_next_to_its_bound(alert_store, served):
    store = alert_store({"for": "0s"}, smtp_host=None)
    live = served(store)
    page = live.http.get("/").text
    assert "Objectives" in page and TITLE in page and "not judged yet" in page
    assert "Alert mail is off: no smtp_host is set" in page
    add(store, outcomes(0, resolved=4, abandoned=6))
    evaluate_alerts(store, minute_us(1))
    page = live.http.get("/").text
    row = page[page.index(TITLE) : page.index("</tr>", page.index(TITLE))]
    assert '<span class="state firing">firing</span>' in row
    assert "<td>40.0%</td>" in row and "<td>min 60.0%</td>" in row and "<td>10</td>" in row
    assert "Web chat assistant" in row and "2026-11-01T10:01:00Z" in row


def test_the_summary_judges_the_objectives_over_its_window(alert_store, served):
    store = alert_store()
    add(store, outcomes(0, resolved=4, abandoned=6))
    add(store, outcomes(90, resolved=10, abandoned=0))  # outside the window asked for
    live = served(store)
    window = {"from": "2026-11-01T09:00:00Z", "to": "2026-11-01T10:30:00Z"}
    summary = live.http.get("/api/v1/summary", params=window).json()
    (judged,) = summary["objectives"]
    assert judged == {
        "objective": "bot-containment", "title": TITLE, "indicator": "resolution_rate",
        "group": {"channel": "bot-chat", "kind": "ai"}, "bound": {"min": 0.6},
        "window": "10m", "value": 0.4, "good": 4, "n": 10, "ci95": wilson(4, 10),
        "state": "breached", "judged": window,
    }  # fmt: skip
    bot = next(g for g in summary["groups"] if g["channel"] == "bot-chat")
    assert bot["resolution_rate"]["n"] == judged["n"]  # the same facts, the same pass


def test_without_a_window_the_summary_judges_each_trailing_window_ending_now(alert_store, served):
    store = alert_store()
    minutes_ago = (time.time() - BASE) / 60
    add(store, outcomes(minutes_ago - 2, resolved=9, abandoned=1))
    add(store, outcomes(minutes_ago - 30, resolved=0, abandoned=10))  # older than 10m
    live = served(store)
    before = time.time()
    (judged,) = live.http.get("/api/v1/summary").json()["objectives"]
    assert (judged["good"], judged["n"], judged["state"]) == (9, 10, "met")
    start, end = (parse(judged["judged"][k]) for k in ("from", "to"))
    assert end - start == 600 and before - 2 <= end <= time.time() + 1


def parse(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_alerts_list_shows_the_states_and_the_outbox(alert_store, cli, config_of):
    store = alert_store({"for": "0s"})
    add(store, outcomes(0, resolved=4, abandoned=6))
    evaluate_alerts(store, minute_us(1))
    config = config_of(store.settings)
    listing = orjson.loads(cli("alerts", "list", "--json", "--config", config).output)
    assert listing["mail"] == "alert mail goes out through 127.0.0.1:587"
    (state,) = listing["states"]
    assert (state["objective"], state["group"], state["state"], state["verdict"]) == (
        "bot-containment", {"channel": "bot-chat", "kind": "ai"}, "firing", "breached",
    )  # fmt: skip
    assert (state["value"], state["n"], state["since"]) == (0.4, 10, "2026-11-01T10:01:00Z")
    (mail,) = listing["outbox"]
    assert mail["subject"] == f"[FIRING] {TITLE}: bot-chat resolution_rate 40.0% (min 60.0%)"
    assert (mail["status"], mail["recipients"], mail["attempts"]) == (
        "queued", ["ops@example.org"], 0,
    )  # fmt: skip
    text = cli("alerts", "list", "--config", config)
    assert text.exit_code == 0
    assert "firing bot-containment channel=bot-chat,kind=ai: 40.0% of 10 (min 60.0%)" in text.output
    assert f"#1 queued [FIRING] {TITLE}" in text.output


def test_alerts_list_shows_a_failed_attempt_with_its_error(alert_store, cli, config_of):
    from tests.mailserver import free_port

    store = alert_store({"for": "0s"}, smtp_port=free_port(), smtp_timeout_seconds=5)
    add(store, outcomes(0, resolved=4, abandoned=6))
    evaluate_alerts(store, minute_us(1))
    send_outbox(store, minute_us(1))
    text = cli("alerts", "list", "--config", config_of(store.settings)).output
    assert "1 failed attempt(s), next at 2026-11-01T10:01:30Z: cannot talk to SMTP" in text


def test_alerts_test_sends_a_test_mail_through_the_configured_server(
    mail_settings, mail_server, cli, config_of
):
    result = cli("alerts", "test", "--to", "me@x.org", "--config", config_of(mail_settings()))
    assert result.exit_code == 0, result.output
    assert "test mail sent to me@x.org" in result.output
    (mail,) = mail_server.wait_for(1)
    assert (mail.message["Subject"], mail.rcpt_tos) == (
        "[TEST] touchmetrics alert mail",
        ["me@x.org"],
    )
    assert "alert mail reaches you through 127.0.0.1" in mail.part("plain")
    assert mail.part("html").startswith("<!doctype html>")


@pytest.mark.parametrize(
    ("smtp", "says"),
    [
        ({"smtp_host": None}, "SMTP is not configured: set smtp_host"),
        ({"smtp_port": "closed"}, "test mail not sent: cannot talk to SMTP server"),
    ],
)
def test_alerts_test_exits_2_with_a_clear_error(mail_settings, cli, config_of, smtp, says):
    from tests.mailserver import free_port

    if smtp.get("smtp_port") == "closed":
        smtp = {"smtp_port": free_port()}
    result = cli("alerts", "test", "--to", "me@x.org", "--config", config_of(mail_settings(**smtp)))
    assert result.exit_code == 2
    assert says in result.output


def test_the_scheduler_runs_the_alert_jobs_the_settings_ask_for(alert_store, make_settings):
    cases = [
        (alert_store(), {"rollups", "alerts", "mail"}),
        (alert_store(alert_mail="alertmanager"), {"rollups", "alerts"}),
        (alert_store(smtp_host=None), {"rollups", "alerts"}),
        (Store(alert_store().engine, make_settings()), {"rollups"}),
    ]
    for store, jobs in cases:
        scheduler, lock = build_scheduler(store)
        try:
            assert {job.id for job in scheduler.get_jobs()} == jobs
        finally:
            lock.release()


def test_the_alert_job_says_once_that_mail_is_off(alert_store, caplog):
    store = alert_store({"for": "0s"}, smtp_host=None)
    add(store, outcomes(0, resolved=4, abandoned=6))
    caplog.set_level(logging.INFO, logger="touchmetrics")
    job = alerts_job(store)
    job()
    job()
    said = [r.getMessage() for r in caplog.records if "alert mail is off" in r.getMessage()]
    assert said == [
        "alert mail is off: no smtp_host is set; alert states are recorded and shown, "
        "and no mail is queued"
    ]
