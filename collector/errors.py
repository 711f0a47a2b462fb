"""The errors touchmetrics raises, each named for what went wrong.

Third-party errors (SQLAlchemy, YAML, OS) are converted to these at the boundary with
``raise ... from``, so callers and the command line handle one family.
"""

from __future__ import annotations

from typing import Any

QUOTED = 200  # characters of a bad value that a reason quotes (DESIGN section 2)


def driver_message(exc: BaseException) -> str:
    """The first line of a database driver's message: no SQL, no parameters, no URL."""
    return str(getattr(exc, "orig", exc)).splitlines()[0][:200]


def quote(value: Any) -> str:
    """A bad value as a reason shows it: its repr, with at most 200 characters of it.

    A reason is stored, logged and answered for every rejected record, so it must not grow
    with the value (a 5 MB ``type`` once gave a 5 MB reason)."""
    if isinstance(value, str) and len(value) > QUOTED:
        return f"{value[:QUOTED]!r}… ({len(value)} characters)"
    shown = repr(value)
    return shown if len(shown) <= QUOTED else f"{shown[:QUOTED]}…"


class TouchmetricsError(Exception):
    """Base of every error touchmetrics raises on purpose."""


class ConfigError(TouchmetricsError):
    """A configuration value is missing or wrong; the message names the key."""


class InvalidEvent(TouchmetricsError):
    """An event breaks the schema; names the field and the rule it breaks."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"field `{field}`: {rule}")
        self.field = field
        self.rule = rule

    @property
    def reason(self) -> str:
        """The message without any position, used to group rejections."""
        return f"field `{self.field}`: {self.rule}"


class InputError(TouchmetricsError):
    """An input file or mapping cannot be read at all (not one bad record)."""


class MalformedBody(InputError):
    """A request body is neither a JSON array, one JSON object nor NDJSON of objects; the
    message gives the line and column (HTTP 400)."""


class UnsupportedBody(MalformedBody):
    """A request body is not UTF-8 text at all: compressed, UTF-16 or UTF-32 (HTTP 415)."""


class StoreError(TouchmetricsError):
    """The database cannot be reached or written; the operation may be retried."""


class SchemaNotCurrent(StoreError):
    """The database schema is older than this version; run `touchmetrics db upgrade`."""


class MailError(TouchmetricsError):
    """The SMTP server cannot be reached, refused the login or refused a message.

    Queued alert mail stays in the outbox with this message as its last error and is
    retried with backoff. The message never contains the SMTP password.
    """


class CheckError(TouchmetricsError):
    """`touchmetrics check` cannot run as asked: no objectives configured, an unknown
    objective name, or no candidate; the message names what is missing."""


class OutputError(TouchmetricsError):
    """A file or folder the command was asked to write cannot be written."""


class ToolMissing(TouchmetricsError):
    """A program a command needs (such as promtool) is not installed."""


class PushError(TouchmetricsError):
    """Grafana could not be reached or refused an upload; names the dashboard and the answer."""
