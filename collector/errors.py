"""The errors touchmetrics raises, each named for what went wrong.

Third-party errors (SQLAlchemy, YAML, OS) are converted to these at the boundary with
``raise ... from``, so callers and the command line handle one family.
"""

from __future__ import annotations


def driver_message(exc: BaseException) -> str:
    """The first line of a database driver's message: no SQL, no parameters, no URL."""
    return str(getattr(exc, "orig", exc)).splitlines()[0][:200]


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


class StoreError(TouchmetricsError):
    """The database cannot be reached or written; the operation may be retried."""


class SchemaNotCurrent(StoreError):
    """The database schema is older than this version; run `touchmetrics db upgrade`."""


class CheckError(TouchmetricsError):
    """`touchmetrics check` cannot run as asked: no objectives configured, an unknown
    objective name, or no candidate; the message names what is missing."""
