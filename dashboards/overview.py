"""Support overview: AI and human (DESIGN section 14), AI next to human on every row."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from grafana_foundation_sdk.builders import dashboard, stat

from collector.objectives import Objective
from collector.settings import Settings
from dashboards import queries as q
from dashboards.frame import KIND_TITLES, OVERVIEW_UID, add_row, channel_titles, shell
from dashboards.panels import PER_HOUR, PERCENT, SECONDS, PanelBuilder, Query, figure, graph

TITLE = "Support overview: AI and human"
PER_CHANNEL = ("channel",)
POOLED: tuple[str, ...] = ()
# The series of a kind's panel: one per channel, then the kind pooled ("all AI").
Expr = Callable[[str, Sequence[str]], str]


def build_overview(settings: Settings) -> dashboard.Dashboard:
    """The overview dashboard for these channels and objectives."""
    titles = channel_titles(settings)
    board = shell(TITLE, OVERVIEW_UID, "Every declared channel, AI next to human.")
    objectives = list(settings.objectives.values())
    if objectives:
        width = max(4, 24 // len(objectives))
        now = [objective_now(o, titles).span(width) for o in objectives]
        board = add_row(board, "Objectives now (each over its own window)", now)
    for title, panel in _kind_rows():
        board = add_row(board, title, [panel(kind, titles) for kind in KIND_TITLES])
    if objectives:
        graphs = [objective_graph(o, titles) for o in objectives]
        board = add_row(board, "Objectives over time: good share against the bound", graphs)
    return board


def _kind_rows() -> list[tuple[str, Callable[[str, Mapping[str, str]], PanelBuilder]]]:
    return [
        ("Conversations started", started),
        ("Resolution (containment) rate", _rate("resolved", "resolution rate")),
        ("Escalation (AI to human)", _rate("escalated", "escalation rate")),
        ("Abandonment", _rate("abandoned", "abandonment rate")),
        ("First response, p50 and p90", first_response),
        ("CSAT: satisfied share", csat),
        ("CSAT: responses", csat_responses),
    ]


def _select(kind: str) -> str:
    return f'kind="{kind}"'


def _series(kind: str, expr: Expr, suffix: str = "") -> list[Query]:
    """One series per channel of the kind, and the kind's channels pooled."""
    select = _select(kind)
    pooled = f"all {KIND_TITLES[kind]}{suffix}"
    return [
        Query(expr(select, PER_CHANNEL), "{{channel}}" + suffix),
        Query(expr(select, POOLED), pooled),
    ]


def started(kind: str, titles: Mapping[str, str]) -> PanelBuilder:
    queries = _series(kind, lambda s, by: q.per_hour("conversations_started_total", s, by))
    return graph(
        f"{KIND_TITLES[kind]}: conversations started per hour",
        PER_HOUR,
        queries,
        "Conversations whose first segment is in the channel, per hour.",
        titles,
    )


def _rate(outcome: str, name: str) -> Callable[[str, Mapping[str, str]], PanelBuilder]:
    def panel(kind: str, titles: Mapping[str, str]) -> PanelBuilder:
        queries = _series(kind, lambda s, by: q.outcome_rate(outcome, s, by))
        label = (
            "containment (resolved by the bot)" if (kind, outcome) == ("ai", "resolved") else name
        )
        return graph(
            f"{KIND_TITLES[kind]}: {label}",
            PERCENT,
            queries,
            f"Segments ended {outcome} ÷ all ended segments over the trailing $window.",
            titles,
        )

    return panel


def first_response(kind: str, titles: Mapping[str, str]) -> PanelBuilder:
    queries = _series(kind, _quantile(0.5), " p50") + _series(kind, _quantile(0.9), " p90")
    return graph(
        f"{KIND_TITLES[kind]}: first response p50 and p90",
        SECONDS,
        queries,
        "From the moment the customer starts waiting to the first public reply, over the "
        "trailing $window; interpolated inside histogram buckets.",
        titles,
    )


def _quantile(x: float) -> Expr:
    return lambda select, by: q.quantile(x, "first_response", select, by)


def csat(kind: str, titles: Mapping[str, str]) -> PanelBuilder:
    return graph(
        f"{KIND_TITLES[kind]}: CSAT satisfied share",
        PERCENT,
        _series(kind, q.csat_share),
        "Ratings with score ≥ ⌈0.8 x scale⌉ ÷ all ratings, over the trailing $window.",
        titles,
    )


def csat_responses(kind: str, titles: Mapping[str, str]) -> PanelBuilder:
    queries = _series(kind, lambda s, by: q.per_hour("csat_responses_total", s, by))
    return graph(
        f"{KIND_TITLES[kind]}: CSAT responses per hour",
        PER_HOUR,
        queries,
        "CSAT ratings received (the latest of each conversation), per hour.",
        titles,
    )


def _legend(objective: Objective) -> str:
    return {"channel": "{{channel}}", "kind": "{{kind}}", "all": "all covered channels"}[
        objective.by
    ]


def describe(objective: Objective) -> str:
    """The objective in a sentence: bound, window, minimum events and what it covers."""
    bound = "at least" if objective.min is not None else "at most"
    value = objective.min if objective.min is not None else objective.max
    covers = (
        ", ".join(objective.channels)
        if objective.channels
        else (f"every {objective.kind} channel" if objective.kind else "every channel")
    )
    within = f" within {objective.within_seconds:g} s" if objective.within_seconds else ""
    return (
        f"{objective.indicator}{within}: {bound} {value:.0%} over {objective.window}, "
        f"judged from {objective.min_events} events; covers {covers}, by {objective.by}."
    )


def objective_now(objective: Objective, titles: Mapping[str, str]) -> stat.Panel:
    query = Query(q.objective_verdict(objective), _legend(objective))
    return figure(objective.display_title, PERCENT, [query], describe(objective), titles, objective)


def objective_graph(objective: Objective, titles: Mapping[str, str]) -> PanelBuilder:
    query = Query(q.objective_share(objective), _legend(objective))
    return graph(objective.display_title, PERCENT, [query], describe(objective), titles, objective)
