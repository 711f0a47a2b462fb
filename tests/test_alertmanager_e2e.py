"""End to end: objectives → `touchmetrics rules` → a real Prometheus and Alertmanager → mail.

Everything runs as a user runs it, on free loopback ports: `touchmetrics serve` with events
posted over HTTP, Prometheus scraping it every second and evaluating the generated rules
every second, Alertmanager with the generated configuration, and aiosmtpd receiving the mail
with a login whose password Alertmanager reads from a file. The objectives use a 10 minute
window, longer than the test, so nothing leaves the window while it runs.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import math
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from collector.connect import make_engine
from collector.evaluation import evaluate_store
from collector.settings import Settings, parse_settings
from collector.store import Store
from tests.conftest import CHANNELS, require
from tests.processes import (
    free_port,
    prometheus_scraping,
    ready_server,
    serving,
    touchmetrics,
    wait_for,
)

SMTP_USER, SMTP_PASSWORD = "alerts", "a-password-only-the-file-holds"
MAIL_SECONDS = 30.0  # from posting a breach to its mail: scrape, rules, `for`, group_wait
QUIET_SECONDS = 4.0  # after a mail, long enough for a duplicate (group_interval is 1 s)
OBJECTIVES: dict[str, dict[str, Any]] = {
    "bot-resolution": {
        "title": "The web assistant resolves conversations",
        "indicator": "resolution_rate",
        "channels": ["bot-chat"],
        "min": 0.6,
        "window": "10m",
        "for": "2s",
        "min_events": 5,
    },
    # 45 s is no default bucket bound: the objective makes it one, so the share is exact.
    "chat-first-response": {
        "indicator": "first_response",
        "kind": "human",
        "by": "kind",
        "within_seconds": 45,
        "min": 0.5,
        "window": "10m",
        "for": "2s",
        "min_events": 3,
    },
    "csat": {"indicator": "csat", "by": "all", "min": 0.5, "window": "10m", "min_events": 2},
}


@dataclass
class Mailbox:
    """Messages an SMTP server on loopback accepted, after a login."""

    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
        return "250 OK"

    def received(self) -> list[EmailMessage]:
        with self.lock:
            return list(self.messages)


def _login(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    good = isinstance(data, LoginPassword) and (data.login, data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=good)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """aiosmtpd on a free loopback port, offering a login without TLS (fine on loopback);
    the mailbox refuses mail sent without it."""
    box = Mailbox(free_port())
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=box.port,
        authenticator=_login,
        auth_require_tls=False,
        # Alertmanager's LOGIN expects the prompt "Username:", aiosmtpd sends "User Name".
        auth_exclude_mechanism=["LOGIN"],
        loop=asyncio.new_event_loop(),
    )
    controller.start()
    yield box
    controller.stop()
    controller.loop.close()


@pytest.fixture
def settings_file(database_url: str, mailbox: Mailbox, tmp_path: Path) -> Path:
    """The deployment's configuration: objectives, SMTP to the mailbox, Alertmanager mails."""
    path = tmp_path / "touchmetrics.yaml"
    data = {
        "channels": CHANNELS,
        "database_url": database_url,
        "objectives": OBJECTIVES,
        "alert_mail": "alertmanager",
        "alert_email_to": ["leads@example.com"],
        "smtp_host": "127.0.0.1",
        "smtp_port": mailbox.port,
        "smtp_security": "none",
        "smtp_username": SMTP_USER,
        "smtp_password": SMTP_PASSWORD,
        "smtp_from": "touchmetrics@example.com",
    }
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def generated(settings_file: Path, tmp_path: Path) -> Path:
    """`touchmetrics rules` run as a user runs it, with Alertmanager's waits cut to 1 s."""
    import subprocess

    password_file = tmp_path / "smtp_password"
    # Alertmanager 0.25 sends the file's bytes as they are: a final newline would be part
    # of the password (hence `printf %s`, not `echo`, in the README).
    password_file.write_text(SMTP_PASSWORD)
    out = tmp_path / "rules"
    command = touchmetrics("rules", "--config", str(settings_file), "-o", str(out))
    command += ["--smtp-password-file", str(password_file)]
    command += ["--group-wait", "1s", "--group-interval", "1s"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    for path in out.iterdir():
        assert SMTP_PASSWORD not in path.read_text(), f"{path.name} holds the password"
    return out


@pytest.fixture
def alertmanager(generated: Path, tmp_path: Path) -> Iterator[str]:
    """Alertmanager (Debian names it prometheus-alertmanager) with the generated config."""
    binary = shutil.which("alertmanager") or shutil.which("prometheus-alertmanager")
    require(binary is not None, "alertmanager not installed (Debian: prometheus-alertmanager)")
    assert binary is not None
    base = f"http://127.0.0.1:{free_port()}"
    command = [
        binary,
        f"--config.file={generated / 'alertmanager.yml'}",
        f"--storage.path={tmp_path / 'alertmanager'}",
        f"--web.listen-address={base.removeprefix('http://')}",
        "--cluster.listen-address=",  # no gossip port: one instance, loopback only
    ]
    with ready_server(command, base, tmp_path / "alertmanager.log", "Alertmanager") as ready:
        yield ready


@pytest.fixture
def service(settings_file: Path, tmp_path: Path) -> Iterator[str]:
    with serving(settings_file, tmp_path / "serve.log") as base:
        yield base


@pytest.fixture
def prometheus(service: str, alertmanager: str, generated: Path, tmp_path: Path) -> Iterator[str]:
    """Prometheus scraping the service and evaluating the generated rules every second."""
    require(shutil.which("prometheus") is not None, "prometheus not installed")
    alerting = {
        "alertmanagers": [{"static_configs": [{"targets": [alertmanager.removeprefix("http://")]}]}]
    }
    rules = [str(generated / "touchmetrics.rules.yml")]
    with prometheus_scraping(service, tmp_path, rule_files=rules, alerting=alerting) as ready:
        yield ready


def conversation(
    cid: str, channel: str, start: float, reply: float, end: str
) -> list[dict[str, Any]]:
    """A conversation answered after ``reply`` seconds and then resolved or abandoned."""
    base = {"conversation_id": cid}
    return [
        {**base, "type": "conversation_started", "timestamp": start, "channel": channel},
        {**base, "type": "message", "timestamp": start + 1, "author": "customer"},
        {**base, "type": "message", "timestamp": start + 1 + reply, "author": "agent"},
        {**base, "type": end, "timestamp": start + 2 + reply},
    ]


def breach(start: float) -> list[dict[str, Any]]:
    """The assistant resolves 3 of 10 (30% < 60%); chat answers 2 of 4 within 45 s (50%,
    just met); 2 of 3 ratings are satisfied (67%, met)."""
    events = []
    for i in range(10):
        end = "resolved" if i < 3 else "abandoned"
        events += conversation(f"bot-{i}", "bot-chat", start + i, 2, end)
    for i, reply in enumerate((10, 20, 50, 100)):
        events += conversation(f"chat-{i}", "chat", start + i, reply, "resolved")
    for i, score in enumerate((5, 5, 2)):
        rating = {"conversation_id": f"bot-{i}", "type": "csat", "score": score}
        events.append({**rating, "timestamp": start + 30})
    return events


def recovery(start: float) -> list[dict[str, Any]]:
    """20 more resolved by the assistant: 23 of 30 (77% ≥ 60%)."""
    return [
        e
        for i in range(20)
        for e in conversation(f"bot-r{i}", "bot-chat", start + i, 2, "resolved")
    ]


def post(service: str, events: list[dict[str, Any]]) -> None:
    response = httpx.post(f"{service}/api/v1/events", json=events, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(events), response.json()


def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=5)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def recorded(prometheus: str, name: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """A recording rule's values by objective and group labels."""
    found = {}
    for sample in query(prometheus, name):
        labels = {k: v for k, v in sample["metric"].items() if k not in ("__name__", "objective")}
        found[sample["metric"]["objective"], frozenset(labels.items())] = float(sample["value"][1])
    return found


def test_a_breach_mails_once_and_its_recovery_mails_once(
    prometheus: str, service: str, mailbox: Mailbox, settings_file: Path, tmp_path: Path
) -> None:
    log = tmp_path / "prometheus.log"
    # Counters are scraped at zero first, so every posted event falls inside the windows.
    scraped = lambda: query(prometheus, 'count_over_time(up{job="touchmetrics"}[1m]) >= 5')  # noqa: E731
    wait_for("five scrapes of the service", scraped, 20, log)
    start = time.time() - 300

    post(service, breach(start))
    wait_for("the firing mail", lambda: mailbox.received(), MAIL_SECONDS, log)
    assert_rules_match_evaluation(prometheus, settings_file, log)
    time.sleep(QUIET_SECONDS)
    (firing,) = mailbox.received()
    assert firing["Subject"] == (
        "[FIRING] The web assistant resolves conversations: "
        "bot-chat resolution rate 30% over 10m, objective ≥ 60% (warning)"
    )
    assert (firing["From"], firing["To"]) == ("touchmetrics@example.com", "leads@example.com")
    text = firing.get_body(("plain",))
    assert text is not None
    assert "FIRING: bot-chat resolution rate 30% over 10m, objective ≥ 60%" in text.get_content()

    post(service, recovery(start + 60))
    wait_for("the resolved mail", lambda: len(mailbox.received()) > 1, MAIL_SECONDS, log)
    assert_rules_match_evaluation(prometheus, settings_file, log)
    time.sleep(QUIET_SECONDS)
    _, resolved = mailbox.received()
    assert resolved["Subject"] == (
        "[RESOLVED] The web assistant resolves conversations: met again, was "
        "bot-chat resolution rate 30% over 10m, objective ≥ 60% (warning)"
    )
    body = resolved.get_body(("plain",))
    assert body is not None
    assert "RESOLVED: met again, was bot-chat resolution rate 30%" in body.get_content()


def assert_rules_match_evaluation(prometheus: str, settings_file: Path, log: Path) -> None:
    """Each recording rule equals the share collector.evaluation gives for the same events.

    The ratio divides two increases over the same range of series scraped together, so
    increase()'s extrapolation cancels and the share is exact (to the last bit for the
    duration objective, 2 of 4; within a rounding for 3 of 10). The count is increase()
    itself: at least the events posted, stretched by at most about one scrape interval
    over the five-plus seconds sampled.
    """
    settings = _settings(settings_file)
    store = Store(make_engine(settings.database_url), settings)
    try:
        now = int(time.time() * 1_000_000)
        results = evaluate_store(store, list(settings.objectives.values()), now)
    finally:
        store.close()
    want = {(r.objective.name, frozenset(r.labels.items())): r.share for r in results}
    assert {key: s.total for key, s in want.items()}[
        "chat-first-response", frozenset({("kind", "human")})
    ] == 4

    def agree() -> bool:
        ratios = recorded(prometheus, "touchmetrics:objective_ratio:10m")
        counts = recorded(prometheus, "touchmetrics:objective_events:10m")
        return all(
            key in ratios
            and math.isclose(ratios[key], share.value or math.nan, rel_tol=1e-12)
            and share.total <= counts[key] <= share.total * 1.3
            for key, share in want.items()
        )

    wait_for("the recording rules to match the evaluation", agree, 10, log)
    exact = recorded(prometheus, "touchmetrics:objective_ratio:10m")
    assert exact["chat-first-response", frozenset({("kind", "human")})] == 0.5


def _settings(path: Path) -> Settings:
    return parse_settings(yaml.safe_load(path.read_text()))
