"""The times of a row, read as a mapping's `timestamps` and each event's `at` say."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from collector.errors import quote
from collector.sources.csvrowerror import Values, column_error
from collector.sources.csvspec import EventTemplate, TimeSource, Timestamps


class Clock:
    """Reads the timestamp columns of a row as the mapping says."""

    def __init__(self, spec: Timestamps, fallback_zone: str | None = None) -> None:
        """``fallback_zone`` (the configuration's `default_timezone`) serves a mapping
        that names no zone of its own."""
        self.spec = spec
        zone = spec.timezone or fallback_zone
        self.zone: tzinfo | None = ZoneInfo(zone) if zone else None
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
            raise column_error(
                column, f"{quote(value)} does not match time format {fmt!r}"
            ) from None

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
                part.column, f"{quote(value)} does not match date format {part.format!r}"
            ) from None

    def render(self, moment: datetime) -> str:
        """RFC 3339 in UTC; a local time is in the mapping's zone (RowTimes made sure of one)."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.zone)
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
        moment = self._moment(column, value)
        if moment.tzinfo is None and self.clock.zone is None:
            raise column_error(
                column,
                f"{quote(value)} has no UTC offset, and the mapping names no zone: set its "
                "`timestamps.timezone` to the zone of the export's times",
            )
        return moment

    def _moment(self, column: str, value: str) -> datetime:
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


def _number(column: str, value: str | None) -> float:
    if value is None:
        raise column_error(column, "null, but it is subtracted from a time")
    try:
        return float(value)
    except ValueError:
        raise column_error(column, f"{quote(value)} is not a number of seconds") from None
