"""Alert mail as people read it: a subject that says it all, a plain-text and an HTML part.

Both parts are built from one list of figures, so they never disagree. A resolve mail
names its firing mail in In-Reply-To and References, so mail clients thread the incident.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape

from collector.settings import Settings
from exporters.email.notice import Notice

_TEMPLATES = Environment(
    loader=PackageLoader("exporters.email", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default=False),
    keep_trailing_newline=True,
)
Row = tuple[str, str]


def message_id(settings: Settings) -> str:
    """A new, globally unique Message-ID in the domain of the From address.

    Short on purpose: email.utils.make_msgid's ids (60+ characters) made In-Reply-To
    longer than a header line, folded it, and a parser then read it with a leading space.
    """
    domain = settings.smtp_from.rpartition("@")[2].strip(" >") or "touchmetrics.invalid"
    return f"<tm-{uuid.uuid4().hex}@{domain}>"


def subject(notice: Notice) -> str:
    """``[FIRING] <title>: <group> <indicator> 52.0% (min 60.0%)``, or ``[RESOLVED] ...``."""
    tag = "[FIRING]" if notice.kind == "firing" else "[RESOLVED]"
    if notice.severity == "critical":
        tag += " [critical]"
    return (
        f"{tag} {notice.title}: {group_name(notice.group)} {indicator_name(notice)} "
        f"{percent(notice.value)} ({bound_text(notice.bound)})"
    )


def group_name(group: dict[str, str]) -> str:
    """The channel, the kind, or ``all channels`` for an objective pooled over all."""
    return group.get("channel") or group.get("kind") or "all channels"


def indicator_name(notice: Notice) -> str:
    if notice.within_seconds is None:
        return notice.indicator
    return f"{notice.indicator} within {seconds_text(notice.within_seconds)}"


def bound_text(bound: dict[str, float]) -> str:
    return ", ".join(f"{side} {percent(value)}" for side, value in bound.items())


def percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def seconds_text(seconds: float) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def instant(us: int | None) -> str:
    if us is None:
        return "–"
    return datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(us: int) -> str:
    moment = datetime.fromtimestamp(us / 1e6, UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def summary_link(notice: Notice, public_url: str) -> str:
    """The summary of the judged window, narrowed to the group."""
    query = {"from": iso(notice.window_start), "to": iso(notice.at)}
    if "channel" in notice.group:
        query["channel"] = notice.group["channel"]
    elif "kind" in notice.group:
        query.update(group_by="kind", kind=notice.group["kind"])
    return f"{public_url.rstrip('/')}/api/v1/summary?{urlencode(query)}"


def headline(notice: Notice) -> str:
    """One sentence: which group, which indicator, where it is against its bound."""
    group = group_name(notice.group)
    title = notice.channel_titles.get(notice.group.get("channel", ""))
    who = f"{group} ({title})" if title else group
    side, limit = next(iter(notice.bound.items()))
    if notice.kind == "firing":
        where = "below its minimum" if side == "min" else "above its maximum"
        return f"{who}: {indicator_name(notice)} is {percent(notice.value)}, {where} of " \
               f"{percent(limit)}."  # fmt: skip
    where = "at or above its minimum" if side == "min" else "at or below its maximum"
    return f"{who}: {indicator_name(notice)} is back to {percent(notice.value)}, {where} of " \
           f"{percent(limit)}."  # fmt: skip


def figures(notice: Notice) -> list[Row]:
    """The figures both parts show, in order."""
    interval = notice.ci95
    rows: list[Row] = [
        ("value", f"{percent(notice.value)} ({notice.good} good of n = {notice.total})"),
        ("95% interval", "–" if interval is None else
            f"{percent(interval[0])} to {percent(interval[1])} (Wilson)"),
        ("window", f"the last {notice.window}: {instant(notice.window_start)} "
                   f"to {instant(notice.at)}"),
    ]  # fmt: skip
    if notice.kind == "firing":
        rows.append(("breached since", instant(notice.breached_since)))
        rows.append(("firing since", instant(notice.at)))
    else:
        rows.append(("firing since", instant(notice.fired_at)))
        rows.append(("resolved at", instant(notice.at)))
    rows.append(("objective", objective_text(notice)))
    return rows


def objective_text(notice: Notice) -> str:
    return (
        f"{notice.objective}: {indicator_name(notice)} {bound_text(notice.bound)} "
        f"over {notice.window}, breached for {notice.for_} before firing, "
        f"at least {notice.min_events} events, severity {notice.severity}"
    )


def alert_message(
    notice: Notice, settings: Settings, recipients: list[str], ids: tuple[str, str | None],
    now: int,
) -> EmailMessage:  # fmt: skip
    """The mail of one flip; ``ids`` is (its Message-ID, the firing mail's or None)."""
    own_id, replying_to = ids
    context = {
        "notice": notice,
        "status": notice.kind.upper(),
        "headline": headline(notice),
        "figures": figures(notice),
        "summary": summary_link(notice, settings.public_url),
        "overview": settings.public_url.rstrip("/") + "/",
    }
    message = _envelope(subject(notice), settings, recipients, own_id, now)
    if replying_to:
        message["In-Reply-To"] = replying_to
        message["References"] = replying_to
    message.set_content(_TEMPLATES.get_template("alert.txt").render(context))
    message.add_alternative(_TEMPLATES.get_template("alert.html").render(context), subtype="html")
    return message


def test_message(settings: Settings, recipients: list[str], now: int) -> EmailMessage:
    """A mail that proves the SMTP settings work, sent by `touchmetrics alerts test`."""
    context = {"settings": settings, "when": instant(now)}
    message = _envelope("[TEST] touchmetrics alert mail", settings, recipients,
                        message_id(settings), now)  # fmt: skip
    message.set_content(_TEMPLATES.get_template("test.txt").render(context))
    message.add_alternative(_TEMPLATES.get_template("test.html").render(context), subtype="html")
    return message


def _envelope(
    title: str, settings: Settings, recipients: list[str], own_id: str, now: int
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = title
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(datetime.fromtimestamp(now / 1e6, UTC))
    message["Message-ID"] = own_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to alerts
    return message
