"""Alert mail through a real SMTP server (aiosmtpd on loopback): content, threading,
outages, TLS and login, and a sender or scheduler that dies halfway."""

from __future__ import annotations

import html
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from collector.alerts import evaluate_alerts
from collector.batch import batch_of_events
from collector.metrics import wilson
from collector.objectives import Objective
from collector.outbox import backoff, lease, outbox_rows, send_outbox
from collector.schema import Validator
from collector.store import Store
from exporters.email import Notice, subject
from exporters.email.notice import Kind
from tests.conftest import CONTAINMENT, REPO
from tests.events import minute_us, outcomes

SECOND = 1_000_000
TITLE = "The web assistant resolves most conversations itself"
FIRING_SUBJECT = f"[FIRING] {TITLE}: bot-chat resolution_rate 40.0% (min 60.0%)"
RESOLVED_SUBJECT = f"[RESOLVED] {TITLE}: bot-chat resolution_rate 80.0% (min 60.0%)"


def add(store: Store, events: list[dict[str, Any]]) -> None:
    store.write_batch(batch_of_events(Validator(store.settings), "test", events))


@pytest.fixture
def mailing(alert_store: Callable[..., Store], mail_server: Any) -> Callable[..., Store]:
    """A store whose containment objective fires at once, mailing ``mail_server``."""

    def build(**overrides: Any) -> Store:
        options: dict[str, Any] = {
            "smtp_port": mail_server.port, "public_url": "https://metrics.example.org",
            "smtp_timeout_seconds": 5,
        }  # fmt: skip
        return alert_store({"for": "0s"}, **{**options, **overrides})

    return build


def fire(store: Store, minute: float = 1) -> None:
    """4 of 10 bot conversations resolved (40 % < 60 %), judged at ``minute``: a flip."""
    add(store, outcomes(0, resolved=4, abandoned=6))
    assert evaluate_alerts(store, minute_us(minute)) is True


def resolve(store: Store, minute: float = 3) -> None:
    """20 more resolved: 24 of 30 (80 %), judged at ``minute``: the flip back."""
    add(store, outcomes(minute - 0.5, resolved=20, abandoned=0))
    assert evaluate_alerts(store, minute_us(minute)) is True


def test_the_firing_mail_says_what_broke_with_its_figures(mailing, mail_server):
    store = mailing()
    fire(store)
    assert send_outbox(store, minute_us(1)) is True
    (mail,) = mail_server.wait_for(1)
    assert mail.message["Subject"] == FIRING_SUBJECT
    assert (mail.mail_from, mail.rcpt_tos) == ("touchmetrics@example.org", ["ops@example.org"])
    assert mail.message["To"] == "ops@example.org"
    (row,) = outbox_rows(store)
    assert mail.message["Message-ID"] == row.message_id and row.sent_at == minute_us(1)
    assert mail.message["In-Reply-To"] is None
    low, high = wilson(4, 10) or [0, 0]
    link = (
        "https://metrics.example.org/api/v1/summary?from=2026-11-01T09%3A51%3A00Z"
        "&to=2026-11-01T10%3A01%3A00Z&channel=bot-chat"
    )
    expected = [
        "bot-chat (Web chat assistant): resolution_rate is 40.0%, below its minimum of 60.0%.",
        "40.0% (4 good of n = 10)",
        f"{100 * low:.1f}% to {100 * high:.1f}% (Wilson)",
        "the last 10m: 2026-11-01 09:51:00 UTC to 2026-11-01 10:01:00 UTC",
        "2026-11-01 10:01:00 UTC",  # breached since, firing since
        "bot-containment: resolution_rate min 60.0% over 10m",
    ]
    plain, page = mail.part("plain"), mail.part("html")
    for text in expected:
        assert text in plain
        assert html.escape(text) in page
    assert f"Summary of this window: {link}" in plain
    assert f'href="{html.escape(link)}"' in page
    assert "breached since  2026-11-01 10:01:00 UTC" in plain


def test_the_resolve_mail_threads_under_the_firing_mail(mailing, mail_server):
    store = mailing()
    fire(store)
    resolve(store)
    assert send_outbox(store, minute_us(3)) is True
    firing, resolved = mail_server.wait_for(2)
    assert (firing.message["Subject"], resolved.message["Subject"]) == (
        FIRING_SUBJECT, RESOLVED_SUBJECT,
    )  # fmt: skip
    assert resolved.message["In-Reply-To"] == firing.message["Message-ID"]
    assert resolved.message["References"] == firing.message["Message-ID"]
    assert f"In-Reply-To: {firing.message['Message-ID']}\r\n".encode() in resolved.raw  # unfolded
    assert resolved.message["Message-ID"] != firing.message["Message-ID"]
    plain = resolved.part("plain")
    assert "resolution_rate is back to 80.0%, at or above its minimum of 60.0%." in plain
    assert "firing since    2026-11-01 10:01:00 UTC" in plain
    assert "resolved at     2026-11-01 10:03:00 UTC" in plain
    assert "24 good of n = 30" in resolved.part("html")


def test_smtp_down_keeps_the_mail_queued_with_its_error_and_delivers_it_once_when_back(
    mailing, mail_server
):
    store = mailing()
    fire(store)
    mail_server.stop()
    start = minute_us(1)
    assert send_outbox(store, start) is True
    (row,) = outbox_rows(store)
    assert (row.attempts, row.sent_at, row.next_attempt_at) == (1, None, start + 30 * SECOND)
    assert row.last_error == (
        f"cannot talk to SMTP server 127.0.0.1:{mail_server.port}: Connection refused"
    )
    assert send_outbox(store, start + SECOND) is False  # waits its backoff: no tight loop
    assert outbox_rows(store)[0].attempts == 1
    assert send_outbox(store, start + 30 * SECOND) is True  # still down
    (row,) = outbox_rows(store)
    assert (row.attempts, row.next_attempt_at) == (2, start + 90 * SECOND)  # 60 s more
    mail_server.start()  # back, on the same port
    assert send_outbox(store, start + 89 * SECOND) is False
    assert send_outbox(store, start + 90 * SECOND) is True
    assert send_outbox(store, start + 3600 * SECOND) is False
    (row,) = outbox_rows(store)
    assert (row.attempts, row.last_error, row.sent_at) == (3, None, start + 90 * SECOND)
    (mail,) = mail_server.wait_for(1)
    assert mail.message["Subject"] == FIRING_SUBJECT


@pytest.mark.parametrize(
    ("kind", "spec", "group", "counts", "expected"),
    [
        ("firing", {"indicator": "first_response", "within_seconds": 120, "min": 0.9,
                    "by": "kind", "severity": "critical", "title": "People answer fast"},
         {"kind": "human"}, (17, 20),
         "[FIRING] [critical] People answer fast: human first_response within 2m "
         "85.0% (min 90.0%)"),
        ("firing", {"indicator": "escalation_rate", "max": 0.35, "by": "all"}, {}, (8, 20),
         "[FIRING] bot-escalations: all channels escalation_rate 40.0% (max 35.0%)"),
        ("resolved", {"indicator": "resolution", "within_seconds": 5400, "min": 0.5},
         {"channel": "email", "kind": "human"}, (1, 2),
         "[RESOLVED] bot-escalations: email resolution within 90m 50.0% (min 50.0%)"),
        ("firing", {"indicator": "response", "within_seconds": 1.5, "min": 0.5},
         {"channel": "bot-chat", "kind": "ai"}, (0, 20),
         "[FIRING] bot-escalations: bot-chat response within 1.5s 0.0% (min 50.0%)"),
    ],
)  # fmt: skip
def test_the_subject_names_the_group_the_indicator_and_the_bound(
    kind: Kind, spec: dict[str, Any], group: dict[str, str], counts: tuple[int, int],
    expected: str,
):  # fmt: skip
    objective = Objective(name="bot-escalations", **spec)
    notice = Notice.of(kind, objective, group, counts, (minute_us(1), minute_us(0), None))
    assert subject(notice) == expected


def test_the_backoff_doubles_up_to_an_hour():
    waits = [backoff(attempt) // SECOND for attempt in range(1, 10)]
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_a_refused_recipient_fails_that_mail_alone(mailing, mail_server):
    gone, kept = (
        {**CONTAINMENT, "for": "0s", "notify": [to]} for to in ("gone@x.org", "ops@x.org")
    )
    mail_server.handler.unknown.add("gone@x.org")
    store = mailing(objectives={"a-gone": gone, "b-kept": kept})
    fire(store)
    assert send_outbox(store, minute_us(1)) is True
    refused, sent = sorted(outbox_rows(store), key=lambda r: r.id)
    assert (refused.sent_at, refused.attempts) == (None, 1)
    assert refused.last_error == (
        f"SMTP server 127.0.0.1:{mail_server.port} refused every recipient: "
        "gone@x.org (550 5.1.1 no such mailbox)"
    )
    assert sent.sent_at == minute_us(1)
    assert [m.rcpt_tos for m in mail_server.wait_for(1)] == [["ops@x.org"]]


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
def test_it_sends_over_starttls_after_a_login(mechanism, mail_servers, mailing, trusted_ca: Path):
    server = mail_servers("starttls", login=("alerts", "s3cret"), mechanisms=(mechanism,))
    store = mailing(smtp_port=server.port, smtp_security="starttls", smtp_username="alerts",
                    smtp_password="s3cret")  # fmt: skip
    fire(store)
    assert send_outbox(store, minute_us(1)) is True
    (mail,) = server.wait_for(1)
    assert mail.message["Subject"] == FIRING_SUBJECT
    assert server.logins == [(mechanism, b"alerts")]


def test_it_sends_over_ssl_from_the_start(mail_servers, mailing, trusted_ca: Path):
    server = mail_servers("ssl", login=("alerts", "s3cret"))
    store = mailing(smtp_port=server.port, smtp_security="ssl", smtp_username="alerts",
                    smtp_password="s3cret")  # fmt: skip
    fire(store)
    assert send_outbox(store, minute_us(1)) is True
    assert [m.message["Subject"] for m in server.wait_for(1)] == [FIRING_SUBJECT]
    assert server.logins == [("PLAIN", b"alerts")]


def test_it_refuses_a_certificate_it_does_not_trust(mail_servers, mailing):
    server = mail_servers("starttls")
    store = mailing(smtp_port=server.port, smtp_security="starttls")
    fire(store)
    assert send_outbox(store, minute_us(1)) is True
    (row,) = outbox_rows(store)
    assert row.sent_at is None
    assert row.last_error.startswith(f"TLS with SMTP server 127.0.0.1:{server.port} failed")
    assert "CERTIFICATE_VERIFY_FAILED" in row.last_error
    assert server.received == []


def test_a_refused_login_keeps_the_mail_queued_with_the_reason(
    mail_servers, mailing, trusted_ca: Path
):
    server = mail_servers("starttls", login=("alerts", "right"))
    store = mailing(smtp_port=server.port, smtp_security="starttls", smtp_username="alerts",
                    smtp_password="wrong")  # fmt: skip
    fire(store)
    assert send_outbox(store, minute_us(1)) is True
    (row,) = outbox_rows(store)
    assert row.sent_at is None
    assert row.last_error == (
        f"SMTP server 127.0.0.1:{server.port} refused the login of 'alerts': "
        "535 5.7.8 Authentication credentials invalid"
    )


# -- a process that dies halfway ---------------------------------------------------------

CHILD = """
import os, signal, sys
from collector.settings import load_settings
from collector.database import open_store
store = open_store(load_settings(sys.argv[1]))
if sys.argv[2] == "evaluate":
    from collector.alerts import evaluate_alerts
    evaluate_alerts(store, int(sys.argv[3]))
else:
    from collector.outbox import send_outbox
    send_outbox(store, int(sys.argv[3]))
os.kill(os.getpid(), signal.SIGKILL)  # dies before anything else can happen
"""


def child(config: Path, job: str, now: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(config), job, str(now)], cwd=REPO)


def test_a_crash_between_flip_and_send_loses_nothing(mailing, mail_server, config_of):
    store = mailing()
    add(store, outcomes(0, resolved=4, abandoned=6))
    scheduler = child(config_of(store.settings), "evaluate", minute_us(1))
    assert scheduler.wait(timeout=60) == -signal.SIGKILL
    (row,) = outbox_rows(store)
    assert (row.kind, row.sent_at, row.attempts) == ("firing", None, 0)
    assert send_outbox(store, minute_us(1)) is True  # the next sender run, elsewhere
    assert send_outbox(store, minute_us(2)) is False
    assert [m.message["Subject"] for m in mail_server.wait_for(1)] == [FIRING_SUBJECT]
    assert evaluate_alerts(store, minute_us(2)) is False  # the flip was made once


def test_a_sender_that_dies_mid_conversation_leaves_the_mail_to_the_next_after_its_lease(
    mailing, mail_server, config_of
):
    import threading

    store = mailing()
    fire(store)
    mail_server.handler.hold_rcpt = hold = threading.Event()
    sender = child(config_of(store.settings), "send", minute_us(1))
    try:
        assert mail_server.handler.rcpt_seen.wait(timeout=60)  # mid-conversation
    finally:
        sender.kill()
        sender.wait(timeout=60)
        hold.set()
    assert send_outbox(store, minute_us(1) + SECOND) is False  # its claim still holds
    (row,) = outbox_rows(store)
    assert (row.sent_at, row.attempts) == (None, 0)
    assert send_outbox(store, minute_us(1) + lease(store.settings)) is True
    (mail,) = mail_server.wait_for(1)
    assert mail.message["Subject"] == FIRING_SUBJECT
    assert len(mail_server.received) == 1


# -- the password -------------------------------------------------------------------------


def test_the_smtp_password_appears_in_no_log_line_error_or_page(
    mail_servers, mailing, trusted_ca, config_of, tmp_path, caplog: pytest.LogCaptureFixture
):
    """A careless server quotes the password it refused; the password is still nowhere."""
    import logging
    import traceback

    from click.testing import CliRunner

    from collector.cli import main
    from collector.errors import MailError
    from exporters.email import SmtpTransport
    from tests.conftest import LiveServer

    secret = "pa55-w0rd-nobody-may-see"
    server = mail_servers("starttls", login=("alerts", "the-right-one"), echo_password=True)
    caplog.set_level(logging.DEBUG)
    store = mailing(smtp_port=server.port, smtp_security="starttls", smtp_username="alerts",
                    smtp_password=secret)  # fmt: skip
    fire(store)
    assert send_outbox(store, minute_us(1)) is True
    (row,) = outbox_rows(store)
    assert row.last_error.endswith("535 5.7.8 bad password ***")
    with pytest.raises(MailError) as refused, SmtpTransport(store.settings):
        pass
    seen = [row.last_error, "".join(traceback.format_exception(refused.value))]
    seen += [repr(store.settings), str(store.settings), store.settings.model_dump_json()]

    config = config_of(store.settings)
    (tmp_path / "password").write_text(secret + "\n")
    env = {"TOUCHMETRICS_SMTP_PASSWORD_FILE": str(tmp_path / "password")}
    runner = CliRunner()
    commands = (
        ["alerts", "test", "--to", "a@x.org"],
        ["alerts", "list"],
        ["alerts", "list", "--json"],
    )
    for args in commands:
        result = runner.invoke(main, [*args, "--config", str(config)], env=env)
        seen.append(result.output + repr(result.exception))
    assert "bad password ***" in seen[-3] and "test mail not sent" in seen[-3]

    live = LiveServer(store.settings)
    try:
        for path in ("/", "/api/v1/summary", "/readyz", "/metrics"):
            seen.append(live.http.get(path).text)
    finally:
        live.stop()
    # The test server's own log ("mail.log") is not ours: it records the AUTH exchange.
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]
    seen += [logging.Formatter().format(record) for record in ours]
    assert any("535 5.7.8 bad password ***" in line for line in seen[-len(ours) :])
    assert [text for text in seen if secret in text] == []
