"""One CSV row of a conversation-level export turned into canonical events by a mapping."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from collector.sources.csvspec import (
    PLACEHOLDER,
    EventTemplate,
    Mapping,
    TimeSource,
    Timestamps,
    matches,
)

Values = dict[str, str | None]
MAX_ID = 128


class RowError(Exception):
    """Why a row cannot become events; the message names the column and the rule."""


def column_error(column: str, rule: str) -> RowError:
    return RowError(f"column `{column}`: {rule}")


class RowMapper:
    """Applies a mapping to the rows of one file, whose header is ``columns``."""

    def __init__(self, mapping: Mapping, columns: list[str]) -> None:
        self.mapping = mapping
        self.columns = columns
        self.nulls = [mapping.nulls | mapping.column_nulls.get(c, frozenset()) for c in columns]
        self.clock = Clock(mapping.timestamps)

    def events(self, fields: list[str]) -> list[dict[str, Any]]:
        """The events of one row, or RowError: a row is taken whole or not at all."""
        values = self.values(fields)
        self._reject(values)
        times = RowTimes(self.clock, values)
        cid = fill(self.mapping.conversation_id, values, "conversation_id")
        attributes = {
            name: value
            for name, column in self.mapping.attributes.items()
            if (value := values[column]) is not None
        }
        events = [
            self._event(template, values, times, cid, attributes)
            for template in self.mapping.events
            if matches(template.when, values) is not None
        ]
        if not events:
            raise RowError("no event template's `when` holds for this row")
        return events

    def values(self, fields: list[str]) -> Values:
        if len(fields) != len(self.columns):
            raise RowError(f"the row has {len(fields)} fields; the header has {len(self.columns)}")
        values: Values = dict(self.mapping.constants)
        for column, raw, nulls in zip(self.columns, fields, self.nulls, strict=True):
            value = raw.strip()
            values[column] = None if value in nulls else value
        return values

    def _reject(self, values: Values) -> None:
        for index, rule in enumerate(self.mapping.reject_when):
            held = matches(rule.when, values)
            if held is not None:
                why = " and ".join(c.describe() for c in held)
                raise RowError(f"rejected by `reject_when.{index}` ({why}): {rule.reason}")

    def _event(
        self,
        template: EventTemplate,
        values: Values,
        times: RowTimes,
        cid: str,
        attributes: dict[str, str],
    ) -> dict[str, Any]:
        try:
            event: dict[str, Any] = {
                "id": _event_id(cid, template.key),
                "conversation_id": cid,
                "type": template.type,
                "timestamp": self.clock.render(times.event_time(template)),
            }
            if template.channel is not None:
                event["channel"] = fill(template.channel, values, "channel")
            if template.score is not None:
                event["score"] = _integer(template.score, values[template.score])
        except RowError as exc:
            raise RowError(f"{exc} (event `{template.key}`)") from None
        for name in ("kind", "author", "public", "scale"):
            if (value := getattr(template, name)) is not None:
                event[name] = value
        if attributes:
            event["attributes"] = attributes
        return event


def fill(template: str, values: Values, key: str) -> str:
    """Put column values into ``{column}`` placeholders; a null one is an error."""

    def value(match: Any) -> str:
        found = values[match.group(1)]
        if found is None:
            raise column_error(match.group(1), f"null, but `{key}` needs it")
        return found

    return PLACEHOLDER.sub(value, template)


class Clock:
    """Reads the timestamp columns of a row as the mapping says."""

    def __init__(self, spec: Timestamps) -> None:
        self.spec = spec
        self.zone: tzinfo | None = ZoneInfo(spec.timezone) if spec.timezone else None
        self.gap = timedelta(seconds=spec.rollover.tolerance_seconds if spec.rollover else 0)

    def parse(self, column: str, value: str) -> datetime:
        """A local (naive) or absolute time; without a date part, a time-of-day on 1900-01-01."""
        fmt = self.spec.format
        try:
            if fmt == "unix":
                return datetime.fromtimestamp(float(value), UTC)
            if fmt == "iso":
                if self.spec.date is not None:
                    return datetime.combine(date(1900, 1, 1), time.fromisoformat(value))
                return datetime.fromisoformat(value)
            return datetime.strptime(value, fmt)
        except (ValueError, OverflowError, OSError):
            raise column_error(column, f"{value!r} does not match time format {fmt!r}") from None

    def day(self, values: Values) -> date:
        part = self.spec.date
        assert part is not None
        value = values[part.column]
        if value is None:
            raise column_error(part.column, "null, but it holds the date of the row's times")
        try:
            return datetime.strptime(value, part.format).date()
        except ValueError:
            raise column_error(
                part.column, f"{value!r} does not match date format {part.format!r}"
            ) from None

    def render(self, moment: datetime) -> str:
        """RFC 3339; without a zone, naive, for the schema's `default_timezone` to decide."""
        if moment.tzinfo is None and self.zone is not None:
            moment = moment.replace(tzinfo=self.zone)
        if moment.tzinfo is None:
            return moment.isoformat()
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class RowTimes:
    """The times of one row, each column read once."""

    def __init__(self, clock: Clock, values: Values) -> None:
        self.clock = clock
        self.values = values
        self.cache: dict[str, datetime] = {}
        self.events: dict[str, datetime] = {}  # template key -> time, for `not_before`
        self.day = clock.day(values) if clock.spec.date is not None else None

    def event_time(self, template: EventTemplate) -> datetime:
        moment = self.instant(template.at)
        earlier = [self.events[n] for n in template.not_before if n in self.events]
        moment = self.events[template.key] = max([moment, *earlier])
        return moment

    def instant(self, source: TimeSource) -> datetime:
        present = [c for c in source.columns if self.values[c] is not None]
        if not present:
            others = ", ".join(source.columns[1:])
            also = f", and so are the others of `{source.rule}` ({others})" if others else ""
            raise column_error(source.columns[0], f"null{also}, but the event needs a time")
        if source.rule == "first":
            moment = self.column(present[0])
        else:
            moments = [self.column(c) for c in present]
            try:
                moment = min(moments) if source.rule == "earliest" else max(moments)
            except TypeError:
                raise column_error(
                    present[0], "times with and without an offset cannot be compared"
                ) from None
        if source.minus_column is not None:
            column = source.minus_column
            moment -= timedelta(seconds=_number(column, self.values[column]))
        return moment + timedelta(seconds=source.plus_seconds)

    def column(self, column: str) -> datetime:
        found = self.cache.get(column)
        if found is None:
            found = self.cache[column] = self._read(column)
        return found

    def _read(self, column: str) -> datetime:
        value = self.values[column]
        assert value is not None
        moment = self.clock.parse(column, value)
        if self.day is None:
            return moment
        moment = datetime.combine(self.day, moment.time())
        rollover = self.clock.spec.rollover
        if rollover is None or column == rollover.reference:
            return moment
        if self.values[rollover.reference] is None:
            raise column_error(rollover.reference, "null, but the rollover reference needs it")
        # A time well before the row's first time happened after midnight, on the next day.
        if moment < self.column(rollover.reference) - self.clock.gap:
            moment += timedelta(days=1)
        return moment


def _integer(column: str, value: str | None) -> int:
    if value is None:
        raise column_error(column, "null, but the event needs a score")
    try:
        return int(value)
    except ValueError:
        raise column_error(column, f"{value!r} is not an integer") from None


def _number(column: str, value: str | None) -> float:
    if value is None:
        raise column_error(column, "null, but it is subtracted from a time")
    try:
        return float(value)
    except ValueError:
        raise column_error(column, f"{value!r} is not a number of seconds") from None


def _event_id(cid: str, key: str) -> str:
    # Stable per row and template, so re-reading a row repeats the same ids (duplicates).
    event_id = f"{cid}:{key}"
    if len(event_id) <= MAX_ID:
        return event_id
    return hashlib.blake2b(event_id.encode(), digest_size=16).hexdigest() + f":{key}"
