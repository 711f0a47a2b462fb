"""The mail outbox of DESIGN section 12: alert mail queued with its flip, sent by a job.

A row is queued in the transaction of the flip that caused it (collector/alerts.py) and
stays until an SMTP server accepted it. A failed attempt keeps its error on the row and
waits longer each time (30 s, 1 min, 2 min... at most an hour): nothing is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Row, select, update

from collector import tables as t
from collector.errors import MailError
from collector.settings import Settings
from collector.store import Store
from collector.txn import writing
from exporters.email import Notice, SmtpTransport, alert_message, subject

log = logging.getLogger("touchmetrics.mail")
SECOND = 1_000_000
BACKOFF_FIRST = 30 * SECOND
BACKOFF_MAX = 3600 * SECOND
BATCH = 100  # messages claimed per run; the rest wait for the next run
Transport = Callable[[Settings], SmtpTransport]


def mail_enabled(settings: Settings) -> bool:
    """Whether flips queue mail: the built-in mail is chosen and an SMTP server is set."""
    return settings.alert_mail == "builtin" and settings.smtp_host is not None


def mail_status(settings: Settings) -> str:
    """One line on where alert mail goes, or why it is off."""
    if settings.alert_mail == "off":
        return "alert mail is off (alert_mail: off); alert states are recorded and shown"
    if settings.alert_mail == "alertmanager":
        return (
            "alert mail is left to Alertmanager (alert_mail: alertmanager); the built-in "
            "alert states are recorded and shown, and no mail is queued"
        )
    if settings.smtp_host is None:
        return (
            "alert mail is off: no smtp_host is set; alert states are recorded and shown, "
            "and no mail is queued"
        )
    return f"alert mail goes out through {settings.smtp_host}:{settings.smtp_port}"


def backoff(attempts: int) -> int:
    """Microseconds to wait after the ``attempts``-th failed attempt."""
    return int(min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_MAX))


def lease(settings: Settings) -> int:
    """How long a claimed message is left to its sender: one SMTP conversation and more."""
    return int((2 * settings.smtp_timeout_seconds + 60) * SECOND)


def queue(
    conn: Connection, notice: Notice, recipients: list[str], ids: tuple[str, str | None], now: int
) -> None:
    """Queue the mail of one flip, in the caller's transaction."""
    row = {
        "objective": notice.objective, "group_key": group_text(notice.group),
        "kind": notice.kind, "created_at": now, "message_id": ids[0], "in_reply_to": ids[1],
        "recipients": ",".join(recipients), "payload": notice.to_json(), "attempts": 0,
        "next_attempt_at": now, "last_error": None, "sent_at": None,
    }  # fmt: skip
    conn.execute(t.outbox.insert().values(**row))


def group_text(group: dict[str, str]) -> str:
    """The stored form of a group: ``channel=bot-chat,kind=ai``, ``kind=ai`` or ``''``."""
    return ",".join(f"{key}={value}" for key, value in sorted(group.items()))


def group_labels(text: str) -> dict[str, str]:
    """The labels of a stored group (the inverse of group_text)."""
    return dict(part.split("=", 1) for part in text.split(",") if part)


def send_outbox(store: Store, now: int, transport: Transport = SmtpTransport) -> bool:
    """Deliver the queued mail that is due; True when any was due.

    1. Claim the due rows, oldest first. Each claim is a compare-and-set that moves the
       row's next attempt a lease ahead, so a second sender passes it by, and a sender
       that dies mid-send leaves it to whoever runs after the lease.
    2. Over one SMTP connection, render each claimed message from its figures and send it;
       mark each sent as soon as the server took it.
    3. On failure keep the error on the row and set its next attempt after a backoff that
       doubles with each failed attempt.
    """
    if not mail_enabled(store.settings):
        return False
    claimed = _claim(store, now)
    if not claimed:
        return False
    pending = {row.id: row for row in claimed}
    try:
        with transport(store.settings) as smtp:
            for row in claimed:
                if smtp.broken:
                    break
                try:
                    smtp.send(_message(row, store.settings, now))
                except MailError as exc:
                    _failed(store, pending.pop(row.id), str(exc), now)
                    continue
                _sent(store, pending.pop(row.id), now)
            reason = "the SMTP connection was lost before this message"
    except MailError as exc:
        reason = str(exc)
    for row in pending.values():
        _failed(store, row, reason, now)
    return True


def _claim(store: Store, now: int) -> list[Row[Any]]:
    o = t.outbox.c
    due = (
        select(t.outbox)
        .where(o.sent_at.is_(None), o.next_attempt_at <= now)
        .order_by(o.id)
        .limit(BATCH)
    )
    claimed = []
    until = now + lease(store.settings)
    with writing(store) as conn:
        for row in conn.execute(due).all():
            claim = (
                update(t.outbox)
                .where(o.id == row.id, o.sent_at.is_(None))
                .where(o.next_attempt_at == row.next_attempt_at)
                .values(next_attempt_at=until)
            )
            moved = conn.execute(claim).rowcount
            if moved:
                claimed.append(row)
    return claimed


def _message(row: Row[Any], settings: Settings, now: int) -> Any:
    try:
        notice = Notice.from_json(row.payload)
    except (ValueError, TypeError) as exc:
        raise MailError(f"outbox row {row.id}: unreadable figures: {exc}") from exc
    recipients = [to for to in row.recipients.split(",") if to]
    return alert_message(notice, settings, recipients, (row.message_id, row.in_reply_to), now)


def _sent(store: Store, row: Row[Any], now: int) -> None:
    with writing(store) as conn:
        conn.execute(
            update(t.outbox)
            .where(t.outbox.c.id == row.id)
            .values(sent_at=now, attempts=row.attempts + 1, last_error=None)
        )
    log.info("mail %d sent to %s: %s", row.id, row.recipients, subject_of(row))


def _failed(store: Store, row: Row[Any], error: str, now: int) -> None:
    attempts = row.attempts + 1
    wait = backoff(attempts)
    with writing(store) as conn:
        conn.execute(
            update(t.outbox)
            .where(t.outbox.c.id == row.id)
            .values(attempts=attempts, last_error=error, next_attempt_at=now + wait)
        )
    log.warning(
        "mail %d not sent (attempt %d; next in %d s; it stays queued): %s",
        row.id, attempts, wait // SECOND, error,
    )  # fmt: skip


def subject_of(row: Row[Any]) -> str:
    """The subject of a queued or sent mail, from its stored figures."""
    try:
        return subject(Notice.from_json(row.payload))
    except (ValueError, TypeError):
        return "(unreadable figures)"


def outbox_rows(store: Store, limit: int = 50) -> list[Row[Any]]:
    """The queued mail first (oldest first), then the latest sent, ``limit`` rows at most."""
    o = t.outbox.c
    with store.reading() as conn:
        queued = conn.execute(
            select(t.outbox).where(o.sent_at.is_(None)).order_by(o.id).limit(limit)
        ).all()
        sent = conn.execute(
            select(t.outbox)
            .where(o.sent_at.is_not(None))
            .order_by(o.id.desc())
            .limit(max(limit - len(queued), 0))
        ).all()
    return [*queued, *sent]
