"""The database's aggregated read of a window gives exactly what the fact-by-fact tally gives.

Hypothesis writes random conversations (tests/test_arrival_order.py's) into each store, then
asks for a report with every grouping, filter and window, and for the evaluation of every
indicator and grouping over windows ending anywhere: the report and the judged shares read
through the database's GROUP BY and value arrays (collector/aggregates.py) must equal those
of the stored facts read one at a time (Store.facts) and added up in Python.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.evaluation import evaluate, evaluate_store
from collector.metrics import GROUPINGS, Query, Window, build_report
from collector.objectives import INDICATORS, Objective
from collector.reporting import report_from_store
from collector.store import Store
from tests.events import BASE
from tests.test_arrival_order import conversation

SECOND = 1_000_000
INSTANTS = st.none() | st.integers(-1, 14).map(lambda s: (BASE + s) * SECOND)
BY = ("channel", "kind", "all")
DURATIONS = ("first_response", "response", "resolution")


@st.composite
def conversations(draw: st.DrawFn) -> list[dict[str, Any]]:
    prefix = uuid.uuid4().hex[:8]
    count = draw(st.integers(1, 4))
    return [e for n in range(count) for e in draw(conversation(f"{prefix}-{n}"))]


@st.composite
def queries(draw: st.DrawFn) -> Query:
    start, end = draw(INSTANTS), draw(INSTANTS)
    if start is not None and end is not None and end <= start:
        start, end = end, start + SECOND
    channel = draw(st.sampled_from([None, "bot-chat", "chat", "email"]))
    kind = draw(st.sampled_from([None, "ai", "human"]))
    return Query(Window(start, end), draw(st.sampled_from(GROUPINGS)), channel, kind)


def objectives(within: float, window: str) -> list[Objective]:
    """Every indicator by every grouping, durations good within ``within`` seconds."""
    return [
        Objective(
            name=f"{indicator}-{by}",
            indicator=indicator,
            by=by,
            min=0.5,
            window=window,
            within_seconds=within if indicator in DURATIONS else None,
        )
        for indicator in INDICATORS
        for by in BY
    ]


def one_at_a_time(store: Store, query: Query) -> dict[str, Any]:
    """The report from every stored fact of the window, tallied one by one."""
    window, topics = query.window, query.group_by == "topic"
    kinds = store.channel_kinds()
    return build_report(
        store.facts(window.start, window.end, topics=topics),
        kinds,
        store.settings.channels,
        query,
        store.event_counts(),
        store.open_at(window.end, topics=topics),
    )


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=conversations(), asked=st.lists(queries(), min_size=1, max_size=4))
def test_a_report_from_the_database_equals_the_facts_tallied_one_by_one(
    store, write, events, asked
):
    write(events)
    for query in asked:
        if query.channel is not None and query.channel not in store.channel_kinds():
            continue  # refused by name, which test_http_api covers
        assert report_from_store(store, query) == one_at_a_time(store, query)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=conversations(),
    now=st.integers(0, 15).map(lambda s: (BASE + s) * SECOND),
    window=st.sampled_from(["3s", "8s", "1h"]),
    within=st.sampled_from([1.0, 2.0, 5.0]),
)
def test_an_evaluation_from_the_database_equals_the_facts_judged_one_by_one(
    store, write, events, now, window, within
):
    write(events)
    judged = objectives(within, window)
    mixed = [*judged[:3], *objectives(within, "1h")[3:6], *judged[6:]]  # windows differ
    for chosen in (judged, mixed):
        facts = store.facts(None, now, topics=False)
        expected = evaluate(chosen, facts, store.channel_kinds(), store.settings.channels, now)
        assert evaluate_store(store, chosen, now) == expected


@pytest.mark.parametrize("group_by", GROUPINGS)
def test_a_distribution_without_values_in_the_window_reports_nulls(store, write, group_by):
    started = {"type": "conversation_started", "channel": "chat"}
    answered = {"type": "message", "author": "agent"}
    write([{"id": f"e{n}", "conversation_id": "c", "timestamp": BASE + n, **fields}
           for n, fields in enumerate([started, answered])])  # fmt: skip
    query = Query(Window(None, (BASE + 1) * SECOND), group_by)
    report = report_from_store(store, query)
    assert report == one_at_a_time(store, query)
    assert {g["response_seconds"]["n"] for g in report["groups"]} == {0}
