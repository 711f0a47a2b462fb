"""Building a report from the store or from files, for the CLI and the HTTP summary alike."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from collector.aggregates import open_at, read_aggregate
from collector.errors import TouchmetricsError
from collector.instants import parse_instant
from collector.metrics import GROUPINGS, Query, Window, build_report
from collector.schema import Validator
from collector.settings import Settings
from collector.sources.record import Reader
from collector.store import Store


class BadQuery(TouchmetricsError):
    """A report parameter is wrong; names the parameter."""


def parse_query(
    start: str | None = None,
    end: str | None = None,
    group_by: str | None = None,
    channel: str | None = None,
    kind: str | None = None,
) -> Query:
    """A Query from text parameters, naming the parameter that is wrong."""
    window = Window(parse_bound("from", start), parse_bound("to", end))
    if window.start is not None and window.end is not None and window.end <= window.start:
        raise BadQuery("`to` must be after `from`")
    group_by = group_by or "channel"
    if group_by not in GROUPINGS:
        raise BadQuery(f"`group_by` must be one of {', '.join(GROUPINGS)} (got {group_by!r})")
    if kind is not None and kind not in ("ai", "human"):
        raise BadQuery(f"`kind` must be ai or human (got {kind!r})")
    return Query(window, group_by, channel or None, kind)


def parse_bound(name: str, text: str | None) -> int | None:
    """A window bound in microseconds (None when absent); BadQuery names the parameter."""
    if not text:
        return None
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise BadQuery(f"`{name}`: {exc}") from exc


def report_from_store(store: Store, query: Query) -> dict[str, Any]:
    window = query.window
    kinds = store.channel_kinds()
    known_channel(query, kinds)
    topics = query.group_by == "topic"
    return build_report(
        read_aggregate(store, window.start, window.end, topics=topics),
        kinds,
        store.settings.channels,
        query,
        store.event_counts(),
        open_at(store, window.end, topics=topics),
    )


def known_channel(query: Query, kinds: Mapping[str, str]) -> None:
    """Refuse a channel filter that names no channel, rather than answer with nothing."""
    if query.channel is not None and query.channel not in kinds:
        known = ", ".join(sorted(kinds)) or "none yet"
        raise BadQuery(f"`channel`: no channel named {query.channel!r} (known: {known})")


def summary_from_store(store: Store, query: Query, now: int) -> dict[str, Any]:
    """The report with each objective judged, as `objectives` (the HTTP summary).

    With a window (`from` or `to`), every objective is judged over that same window, in the
    same Aggregate of its facts as the report. Without one the report covers all time, and
    each objective is judged over its own trailing window ending ``now``, as the alerts do.
    Each entry says the span it judged. Grouping and filters apply to the report only.
    """
    from collector.evaluation import evaluate_aggregates, evaluate_store, window_us

    objectives = list(store.settings.objectives.values())
    window = query.window
    if window.start is None and window.end is None:
        summary = report_from_store(store, query)
        results = evaluate_store(store, objectives, now)
        spans = [Window(now - window_us(r.objective), now) for r in results]
    else:
        kinds = store.channel_kinds()
        known_channel(query, kinds)
        facts = read_aggregate(store, window.start, window.end, topics=query.group_by == "topic")
        declared = store.settings.channels
        summary = build_report(facts, kinds, declared, query, store.event_counts())
        results = evaluate_aggregates(objectives, lambda _span: facts, kinds, declared)
        spans = [window] * len(results)
    summary["objectives"] = [
        {**r.as_dict(), "judged": span.as_dict()} for r, span in zip(results, spans, strict=True)
    ]
    return summary


def report_from_files(
    settings: Settings, query: Query, inputs: Iterable[tuple[Reader, Path]]
) -> dict[str, Any]:
    from collector.offline import read_files

    with read_files(Validator(settings), inputs, query.window) as log:
        kinds = {**log.kinds, **settings.channel_kinds()}
        known_channel(query, kinds)
        facts, opened = log.aggregate(query.window)
        return build_report(facts, kinds, settings.channels, query, log.event_counts(), opened)
