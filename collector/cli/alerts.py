"""`touchmetrics alerts`: the built-in alert states, the mail outbox and a test mail."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
import orjson

from collector.cli.common import Abort, config_option, load
from collector.errors import TouchmetricsError


@click.group()
def alerts() -> None:
    """Built-in alert mail: states, outbox and a test mail."""


@alerts.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print states and outbox as JSON.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Outbox rows shown at most: the queued ones first, then the latest sent.",
)
def alerts_list(config_path: Path | None, as_json: bool, limit: int) -> None:
    """Show each objective group's alert state and the mail outbox."""
    from collector.alerts import alert_states
    from collector.database import open_store
    from collector.objectives_view import describe_state
    from collector.outbox import mail_status, outbox_rows

    settings = load(config_path)
    try:
        with open_store(settings) as store:
            states = [describe_state(row, settings) for row in alert_states(store)]
            outbox = [_outbox_entry(row) for row in outbox_rows(store, limit)]
    except TouchmetricsError as exc:
        raise Abort(str(exc)) from exc
    listing = {"mail": mail_status(settings), "states": states, "outbox": outbox}
    if as_json:
        click.echo(orjson.dumps(listing, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(_text(listing))


@alerts.command("test")
@config_option
@click.option("--to", "recipients", multiple=True, required=True, metavar="ADDR",
              help="Where to send the test mail (repeat for several).")  # fmt: skip
def alerts_test(config_path: Path | None, recipients: tuple[str, ...]) -> None:
    """Send a test mail through the configured SMTP server."""
    from collector.outbox import mail_status
    from exporters.email import SmtpTransport, test_message

    settings = load(config_path)
    if settings.smtp_host is None:
        raise Abort("SMTP is not configured: set smtp_host (or TOUCHMETRICS_SMTP_HOST)")
    message = test_message(settings, list(recipients), time.time_ns() // 1000)
    try:
        with SmtpTransport(settings) as smtp:
            smtp.send(message)
    except TouchmetricsError as exc:
        raise Abort(f"test mail not sent: {exc}") from exc
    click.echo(f"test mail sent to {', '.join(recipients)} through "
               f"{settings.smtp_host}:{settings.smtp_port}")  # fmt: skip
    if settings.alert_mail != "builtin":
        click.echo(f"note: {mail_status(settings)}", err=True)


def _outbox_entry(row: Any) -> dict[str, Any]:
    from collector.objectives_view import iso
    from collector.outbox import group_labels, subject_of

    return {
        "id": row.id,
        "kind": row.kind,
        "objective": row.objective,
        "group": group_labels(row.group_key or ""),
        "subject": subject_of(row),
        "recipients": [to for to in row.recipients.split(",") if to],
        "status": "sent" if row.sent_at is not None else "queued",
        "queued_at": iso(row.created_at),
        "attempts": row.attempts,
        "next_attempt_at": None if row.sent_at is not None else iso(row.next_attempt_at),
        "last_error": row.last_error,
        "sent_at": iso(row.sent_at),
        "message_id": row.message_id,
        "in_reply_to": row.in_reply_to,
    }


def _text(listing: dict[str, Any]) -> str:
    lines = [listing["mail"], "", "alert states:"]
    for s in listing["states"]:
        group = ",".join(f"{k}={v}" for k, v in s["group"].items()) or "all"
        value = "–" if s["value"] is None else f"{100 * s['value']:.1f}%"
        bound = " ".join(f"{k} {100 * v:.1f}%" for k, v in (s["bound"] or {}).items())
        gone = "" if s["configured"] else "  (objective no longer configured)"
        lines.append(
            f"  {s['state']:<6} {s['objective']} {group}: {value} of {s['n']} ({bound}), "
            f"{s['verdict']} at {s['evaluated_at']}; {s['state']} since {s['since']}{gone}"
        )
    if not listing["states"]:
        lines.append("  none yet: the scheduler judges objectives every alert_interval_seconds")
    lines += ["", "outbox:"]
    for m in listing["outbox"]:
        to = ", ".join(m["recipients"])
        lines.append(f"  #{m['id']} {m['status']:<6} {m['subject']} -> {to}")
        if m["status"] == "sent":
            lines.append(f"      sent at {m['sent_at']} after {m['attempts']} attempt(s)")
        elif m["attempts"]:
            lines.append(f"      {m['attempts']} failed attempt(s), next at "
                         f"{m['next_attempt_at']}: {m['last_error']}")  # fmt: skip
    if not listing["outbox"]:
        lines.append("  empty")
    return "\n".join(lines)
