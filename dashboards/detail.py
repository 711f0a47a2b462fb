"""Channel detail (DESIGN section 14): one channel, picked with the `channel` variable."""

from __future__ import annotations

from collections.abc import Mapping

from grafana_foundation_sdk.builders import dashboard, stat
from grafana_foundation_sdk.models.dashboard import VariableRefresh, VariableSort

from collector.objectives import Objective
from collector.settings import Settings
from dashboards import queries as q
from dashboards.frame import DETAIL_UID, add_row, channel_titles, hidden, shell
from dashboards.overview import describe
from dashboards.panels import (
    COUNT,
    DATASOURCE,
    PER_HOUR,
    PERCENT,
    SECONDS,
    PanelBuilder,
    Query,
    figure,
    graph,
    response_heatmap,
)

TITLE = "Channel detail"
CHANNEL = 'channel="$channel"'
ONE: tuple[str, ...] = ()  # the selected channel's series, summed to one


def build_detail(settings: Settings) -> dashboard.Dashboard:
    """The channel detail dashboard for these channels and objectives."""
    titles = channel_titles(settings)
    board = (
        shell(TITLE, DETAIL_UID, "One channel in depth; pick it with the channel variable.")
        .with_variable(_channel_variable())
        .with_variable(hidden(_kind_variable()))
    )
    judged = [o for o in settings.objectives.values() if o.by != "all"]
    if judged:
        width = max(4, 24 // len(judged))
        now = [objective_now(o, titles).span(width) for o in judged]
        board = add_row(board, "Objectives for $channel now", now)
    for title, left, right in _rows(titles):
        board = add_row(board, title, [left, right])
    heat = response_heatmap(
        "$channel: response time heatmap",
        q.buckets_over_time("response", CHANNEL),
        "Every reply interval (first responses included) by histogram bucket.",
    )
    board = add_row(board, "Response times", [heat])
    board = add_row(board, "Data flow", [events(titles), last_event(titles), backlog(titles)])
    if judged:
        board = add_row(board, "Objectives over time", [objective_graph(o, titles) for o in judged])
    return board


def objective_now(objective: Objective, titles: Mapping[str, str]) -> stat.Panel:
    query = Query(q.objective_verdict(objective, _select(objective)), "{{objective}}")
    return figure(objective.display_title, PERCENT, [query], describe(objective), titles, objective)


def objective_graph(objective: Objective, titles: Mapping[str, str]) -> PanelBuilder:
    query = Query(q.objective_share(objective, _select(objective)), "{{objective}}")
    return graph(objective.display_title, PERCENT, [query], describe(objective), titles, objective)


def _select(objective: Objective) -> str:
    return CHANNEL if objective.by == "channel" else 'kind="$kind"'


def _channel_variable() -> dashboard.QueryVariable:
    return (
        dashboard.QueryVariable("channel")
        .label("Channel")
        .datasource(DATASOURCE)
        .query({"query": q.label_values("channel"), "refId": "channel"})
        .refresh(VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )


def _kind_variable() -> dashboard.QueryVariable:
    return (
        dashboard.QueryVariable("kind")
        .label("Kind")
        .datasource(DATASOURCE)
        .query({"query": q.label_values("kind", CHANNEL), "refId": "kind"})
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
    )


def _rows(titles: Mapping[str, str]) -> list[tuple[str, PanelBuilder, PanelBuilder]]:
    started = graph(
        "$channel: conversations started per hour",
        PER_HOUR,
        [Query(q.per_hour("conversations_started_total", CHANNEL, ONE), "started")],
        "Conversations whose first segment is in the channel, per hour.",
        titles,
    )
    ended = graph(
        "$channel: segments ended per hour, by outcome",
        PER_HOUR,
        [Query(q.per_hour("segments_ended_total", CHANNEL, ("outcome",)), "{{outcome}}")],
        "Stays in the channel that ended resolved, escalated (handed off) or abandoned.",
        titles,
    )
    outcomes = graph(
        "$channel: resolution, escalation and abandonment rates",
        PERCENT,
        [Query(q.outcome_rate(o, CHANNEL, ONE), o) for o in q.OUTCOMES],
        "Ended segments by outcome ÷ all ended segments, over the trailing $window.",
        titles,
    )
    times = graph(
        "$channel: first response and response, p50 and p90",
        SECONDS,
        [
            Query(
                q.quantile(x, histogram, CHANNEL, ONE),
                f"{histogram.replace('_', ' ')} p{round(x * 100)}",
            )
            for histogram in ("first_response", "response")
            for x in (0.5, 0.9)
        ],
        "Waiting times over the trailing $window, interpolated inside histogram buckets.",
        titles,
    )
    satisfied = graph(
        "$channel: CSAT satisfied share",
        PERCENT,
        [Query(q.csat_share(CHANNEL, ONE), "satisfied")],
        "Ratings with score ≥ ⌈0.8 x scale⌉ ÷ all ratings, over the trailing $window.",
        titles,
    )
    ratings = graph(
        "$channel: CSAT responses and resolutions per hour",
        PER_HOUR,
        [
            Query(q.per_hour("csat_responses_total", CHANNEL, ONE), "CSAT responses"),
            Query(
                q.per_hour("segments_ended_total", CHANNEL + ', outcome="resolved"', ONE),
                "resolved",
            ),
        ],
        "Ratings received and segments resolved, per hour.",
        titles,
    )
    resolution = graph(
        "$channel: resolution time p50 and p90",
        SECONDS,
        [
            Query(q.quantile(x, "resolution", CHANNEL, ONE), f"p{round(x * 100)}")
            for x in (0.5, 0.9)
        ],
        "From the start (or reopen) of a conversation to its resolution, over $window.",
        titles,
    )
    return [
        ("Volume", started, ended),
        ("Outcomes and waiting", outcomes, times),
        ("Satisfaction", satisfied, ratings),
        ("Resolution and reopens", resolution, reopens(titles)),
    ]


def reopens(titles: Mapping[str, str]) -> PanelBuilder:
    return graph(
        "$channel: reopened per hour",
        PER_HOUR,
        [Query(q.per_hour("reopened_total", CHANNEL, ONE), "reopened")],
        "Conversations reopened after they ended, per hour.",
        titles,
    )


def events(titles: Mapping[str, str]) -> PanelBuilder:
    return graph(
        "Events received per hour, by result (all channels)",
        PER_HOUR,
        [Query(q.events_received(), "{{result}}")],
        "Accepted, duplicate and rejected events; rejections are in the quarantine.",
        titles,
    )


def backlog(titles: Mapping[str, str]) -> PanelBuilder:
    return graph(
        "$channel: open conversations",
        COUNT,
        [Query(q.open_conversations(CHANNEL), "open")],
        "Conversations whose current segment is in the channel and has not ended: a backlog"
        " that grows while started outpace ended.",
        titles,
    ).span(24)


def last_event(titles: Mapping[str, str]) -> PanelBuilder:
    return (
        figure(
            "$channel: seconds since the last event",
            SECONDS,
            [Query(q.seconds_since_last_event(CHANNEL), "since last event")],
            "Wall clock minus the latest event time credited to the channel: a stalled feed grows.",
            titles,
        )
        .height(8)
        .span(12)
    )
