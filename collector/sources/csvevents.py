"""One CSV row turned into canonical events by a mapping: one row per conversation, or
one row per message (with `threads`, `transforms` and per-row conditions)."""

from __future__ import annotations

import hashlib
from typing import Any

from collector.errors import quote
from collector.sources.csvrowerror import RowError, Values, column_error, fill
from collector.sources.csvspec import THREAD, EventTemplate, Mapping
from collector.sources.csvthreads import ThreadIndex
from collector.sources.csvtimes import Clock, RowTimes
from collector.sources.csvwhen import matches

MAX_ID = 128


class RowMapper:
    """Applies a mapping to the rows of one file, whose header is ``columns``."""

    def __init__(
        self, mapping: Mapping, columns: list[str], fallback_zone: str | None = None
    ) -> None:
        self.mapping = mapping
        self.columns = columns
        self.nulls = [mapping.nulls | mapping.column_nulls.get(c, frozenset()) for c in columns]
        self.clock = Clock(mapping.timestamps, fallback_zone)
        self.threads: ThreadIndex | None = None  # set once the file's threads are known

    def values(self, fields: list[str]) -> Values:
        """The row's values by name: its columns, the constants and the transforms."""
        if len(fields) != len(self.columns):
            raise RowError(f"the row has {len(fields)} fields; the header has {len(self.columns)}")
        values: Values = dict(self.mapping.constants)
        for column, raw, nulls in zip(self.columns, fields, self.nulls, strict=True):
            value = raw.strip()
            values[column] = None if value in nulls else value
        for name, transform in self.mapping.transforms.items():
            values[name] = transform.apply(values.get(transform.column))
        return values

    def skipped(self, values: Values) -> str | None:
        """The reason of the first `skip_when` rule the row meets, or None."""
        for rule in self.mapping.skip_when:
            if matches(rule.when, values) is not None:
                return rule.reason
        return None

    def events(self, values: Values) -> list[dict[str, Any]]:
        """The events of one row, or RowError: a row is taken whole or not at all."""
        self._reject(values)
        if self.threads is not None:
            values[THREAD] = self.threads.thread_of(values)
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
            raise RowError(
                "no event template's `when` holds for this row "
                "(rows that are not events can be passed over with `skip_when`)"
            )
        return events

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
                "id": _event_id(cid, template.key)
                if template.id is None
                else fill(template.id, values, "id"),
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


def _integer(column: str, value: str | None) -> int:
    if value is None:
        raise column_error(column, "null, but the event needs a score")
    try:
        return int(value)
    except ValueError:
        raise column_error(column, f"{quote(value)} is not an integer") from None


def _event_id(cid: str, key: str) -> str:
    # Stable per row and template, so re-reading a row repeats the same ids (duplicates).
    event_id = f"{cid}:{key}"
    if len(event_id) <= MAX_ID:
        return event_id
    return hashlib.blake2b(event_id.encode(), digest_size=16).hexdigest() + f":{key}"
