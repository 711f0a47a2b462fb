"""What the overview page's template receives: AI and human side by side for one window."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from collector.charts import colour, line_chart
from collector.overview import KINDS, WINDOWS, Overview, headline_series, read_overview
from collector.rollup import OPEN, Layout
from collector.settings import Settings
from collector.store import Store

KIND_TITLES = {"ai": "AI", "human": "Human"}
# The headline figures charted for each kind: (figure, chart title, how its scale reads).
CHARTS: tuple[tuple[str, str, str], ...] = (
    ("started", "conversations started", "count"),
    ("resolved_rate", "resolution (containment) rate", "percent"),
    ("first_response_p90", "first response p90", "seconds"),
    ("csat", "CSAT satisfied", "percent"),
)


def page_context(store: Store, window: str, end_us: int) -> dict[str, Any]:
    """The figures, charts and window choices of the page.

    1. Read every channel's counts over the window (hourly totals or the last hour's facts).
    2. For each kind, its channels' figures, the kind pooled, and a chart per headline figure.
    """
    view = read_overview(store, window, end_us)
    settings = store.settings
    totals = store.totals()
    open_now = {ch: int(totals.get((ch, OPEN, ""), 0)) for ch in view.channels}
    return {
        "window": window,
        "windows": list(WINDOWS),
        "start": iso(view.span.start),
        "end": iso(view.span.end),
        "slot": _slot(view.span.slot // 60_000_000),
        "kinds": [_kind(view, kind, settings, store.layout, open_now) for kind in KINDS],
    }


def _kind(
    view: Overview, kind: str, settings: Settings, layout: Layout, open_now: dict[str, int]
) -> dict[str, Any]:
    """A kind's channels, its pooled figures and its charts; `open_now` is the current
    count of open conversations (all time), whatever the window."""
    names = view.channels_of(kind)
    titles = {n: _title(settings, n) for n in names}
    charts = []
    points = headline_series(view, names, layout)
    for figure, title, scale in CHARTS:
        lines = points[figure]
        charts.append(
            {
                "title": title,
                "svg": line_chart(
                    {titles[n]: points for n, points in lines.items()},
                    FORMATS[scale],
                    (view.span.start, view.span.end),
                    f"{KIND_TITLES[kind]}: {title}",
                    top=1.0 if scale == "percent" else None,
                ),
            }
        )
    return {
        "kind": kind,
        "title": KIND_TITLES[kind],
        "channels": [
            {
                "name": n,
                "title": titles[n],
                "colour": colour(i),
                "figures": view.channels[n].figures(layout) | {"open_now": open_now[n]},
            }
            for i, n in enumerate(names)
        ],
        "pooled": view.pooled(kind).figures(layout) | {"open_now": sum(open_now[n] for n in names)},
        "charts": charts,
    }


def _slot(minutes: int) -> str:
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


def _title(settings: Settings, name: str) -> str:
    spec = settings.channels.get(name)
    return (spec.title if spec and spec.title else None) or name


def percent(value: float) -> str:
    return f"{100 * value:.0f}%"


def seconds(value: float) -> str:
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def count(value: float) -> str:
    return f"{value:,.0f}"


FORMATS: dict[str, Callable[[float], str]] = {
    "percent": percent,
    "seconds": seconds,
    "count": count,
}


def iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m-%d %H:%M UTC")
