"""What both dashboards share around their panels: uids, variables, links and the JSON form."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DashboardLinkType,
    Panel,
    VariableHide,
    VariableOption,
)

from collector.settings import Settings

OVERVIEW_UID = "touchmetrics-overview"
DETAIL_UID = "touchmetrics-channel"
TAG = "touchmetrics"
DATASOURCE_UID = "touchmetrics-prometheus"  # the provisioned data source
WINDOWS = ("1h", "6h", "1d", "7d")
KIND_TITLES = {"ai": "AI", "human": "Human"}


def channel_titles(settings: Settings) -> dict[str, str]:
    """Each declared channel's display name (its name when it has no title)."""
    return {name: spec.title or name for name, spec in settings.channels.items()}


def shell(title: str, uid: str, description: str) -> dashboard.Dashboard:
    """An empty dashboard with the variables and links every touchmetrics dashboard has."""
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG])
        .editable()
        .refresh("1m")
        .time("now-24h", "now")
        .timezone("browser")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .with_variable(
            dashboard.DatasourceVariable("datasource")
            .label("Prometheus")
            .type("prometheus")
            .current(VariableOption(text="touchmetrics", value=DATASOURCE_UID))
        )
        .with_variable(
            dashboard.CustomVariable("window")
            .label("Trailing window")
            .description("Each rate and percentile is taken over this trailing window.")
            .values(",".join(WINDOWS))
            .current(VariableOption(selected=True, text=WINDOWS[0], value=WINDOWS[0]))
        )
        .link(
            dashboard.DashboardLink("touchmetrics")
            .type(DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(False)
            .include_vars(False)
            .keep_time(True)
        )
    )


def add_row(
    board: dashboard.Dashboard, title: str, panels: Sequence[cogbuilder.Builder[Panel]]
) -> dashboard.Dashboard:
    """An expanded row: the row, then its panels laid left to right, wrapping at 24 columns."""
    board = board.with_row(dashboard.Row(title).collapsed(False))
    for panel in panels:
        board = board.with_panel(panel)
    return board


def hidden(variable: dashboard.QueryVariable) -> dashboard.QueryVariable:
    return variable.hide(VariableHide.HIDE_VARIABLE)


def as_json(built: dashboard.Dashboard) -> dict[str, Any]:
    """The dashboard as Grafana's JSON model (a plain dict, keys sorted)."""
    text = JSONEncoder(sort_keys=True).encode(built.build())
    found: dict[str, Any] = json.loads(text)
    for number, panel in enumerate(found.get("panels", []), start=1):
        panel["id"] = number  # unique ids, so links and "view panel" find the right one
    return found
