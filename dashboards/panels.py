"""Panel builders shared by both dashboards: units, legends, channel titles and thresholds.

Built with grafana-foundation-sdk's typed builders; this module only fixes the house style
(percent and seconds units, legends as tables, objectives as red and green thresholds).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import heatmap, prometheus, stat, timeseries
from grafana_foundation_sdk.builders.dashboard import ThresholdsConfig
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    DataTransformerConfig,
    Panel,
    Threshold,
    ThresholdsMode,
)
from grafana_foundation_sdk.models.heatmap import HeatmapColorMode
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from collector.objectives import Objective

PanelBuilder = cogbuilder.Builder[Panel]  # any panel builder: time series, stat, heatmap
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
PERCENT = "percentunit"  # a share in [0, 1] shown as a percentage
SECONDS = "s"
PER_HOUR = "suffix:/h"
COUNT = "short"  # a plain number, shortened (1.2K)
GOOD, BAD, NEUTRAL = "green", "red", "text"


@dataclass(frozen=True, slots=True)
class Query:
    """One target of a panel: its PromQL and the legend of its series."""

    expr: str
    legend: str


def _targets(queries: Sequence[Query], instant: bool = False) -> list[prometheus.Dataquery]:
    targets = []
    for index, query in enumerate(queries):
        target = (
            prometheus.Dataquery()
            .expr(query.expr)
            .legend_format(query.legend)
            .ref_id(chr(ord("A") + index))
        )
        targets.append(target.instant() if instant else target.range())
    return targets


def renames(titles: Mapping[str, str]) -> list[DataTransformerConfig]:
    """Series named after a channel (``bot-chat``, ``bot-chat p90``) show its title instead."""
    found = []
    for name, title in sorted(titles.items()):
        if title and title != name:
            options = {"regex": f"^{re.escape(name)}( .*)?$", "renamePattern": f"{title}$1"}
            found.append(DataTransformerConfig(id_val="renameByRegex", options=options))
    return found


def objective_thresholds(objective: Objective) -> ThresholdsConfig:
    """Red where the share breaks the bound, green where it keeps it."""
    if objective.min is not None:
        steps = [Threshold(None, BAD), Threshold(objective.min, GOOD)]
    else:
        assert objective.max is not None
        steps = [Threshold(None, GOOD), Threshold(objective.max, BAD)]
    return ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps)


def _plain_thresholds() -> ThresholdsConfig:
    return ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps([Threshold(None, NEUTRAL)])


def graph(
    title: str,
    unit: str,
    queries: Sequence[Query],
    description: str,
    titles: Mapping[str, str],
    objective: Objective | None = None,
) -> timeseries.Panel:
    """A time series panel; with an objective, its bound is drawn as a line over red/green."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .targets(_targets(queries))  # type: ignore[arg-type]
        .transformations(renames(titles))
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["lastNotNull", "mean"])
        )
        .line_width(2)
        .fill_opacity(8)
        .span_nulls(True)
        .height(8)
        .span(12)
    )
    panel = panel.min(0).max(1) if unit == PERCENT else panel.min(0)
    if objective is None:
        return panel.thresholds(_plain_thresholds())
    style = common_builders.GraphThresholdsStyleConfig().mode(
        common.GraphTresholdsStyleMode.DASHED_AND_AREA
    )
    return panel.thresholds(objective_thresholds(objective)).thresholds_style(style)


def figure(
    title: str,
    unit: str,
    queries: Sequence[Query],
    description: str,
    titles: Mapping[str, str],
    objective: Objective | None = None,
) -> stat.Panel:
    """A stat panel of the latest value; with an objective, coloured by its state."""
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .targets(_targets(queries, instant=True))  # type: ignore[arg-type]
        .transformations(renames(titles))
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .graph_mode(common.BigValueGraphMode.NONE)
        .decimals(1 if unit == PERCENT else 0)
        .height(5)
    )
    if objective is None:
        return panel.color_mode(common.BigValueColorMode.NONE).thresholds(_plain_thresholds())
    return (
        panel.color_mode(common.BigValueColorMode.BACKGROUND)
        .thresholds(objective_thresholds(objective))
        .no_value(f"no data (< {objective.min_events} events)")
    )


def response_heatmap(title: str, expr: str, description: str) -> heatmap.Panel:
    """A heatmap of the histogram buckets as Prometheus keeps them (no re-bucketing)."""
    target = (
        prometheus.Dataquery()
        .expr(expr)
        .legend_format("{{le}}")
        .format(PromQueryFormat.HEATMAP)
        .ref_id("A")
        .range()
    )
    return (
        heatmap.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(target)
        .calculate(False)
        .y_axis(heatmap.YAxisConfig().unit(SECONDS))
        .cell_values(heatmap.CellValues().unit("short"))
        .color(heatmap.HeatmapColorOptions().mode(HeatmapColorMode.SCHEME).scheme("Oranges"))
        .show_tooltip()
        .height(9)
        .span(24)
    )
