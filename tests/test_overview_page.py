"""The overview page `/` in a real browser: headless Chromium loads it from a running service.

Each window (1 h from the facts of that hour, 24 h and 7 d from the hourly totals) must show
every channel's figures as the report gives them for the same span of event time: counts and
rates exactly, with their n; p90 to the precision of the histogram buckets. A screenshot of
each is saved under the test's temporary folder.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest

from collector.alerts import evaluate_alerts
from collector.evaluation import evaluate_store
from collector.instants import parse_instant
from collector.metrics import Query, Window
from collector.reporting import report_from_store
from collector.settings import DEFAULT_RESOLUTION_BUCKETS, DEFAULT_RESPONSE_BUCKETS
from collector.store import Store
from tests.conftest import CHANNELS, DESIGN_OBJECTIVES, Chromium, LiveServer
from tests.events import demo_events

END = "2026-11-08T00:00:00Z"  # on a six-hour boundary, so every window is whole slots
SPANS = {"1h": 3600, "24h": 24 * 3600, "7d": 7 * 24 * 3600}


# DESIGN section 11's objectives, firing at the first breached evaluation.
OBJECTIVES = {name: {**spec, "for": "0s"} for name, spec in DESIGN_OBJECTIVES.items()}


@pytest.fixture
def page(serve_app: Callable[..., LiveServer], write: Callable[..., Any]) -> LiveServer:
    """A running service holding a week of conversations, busiest in its last hours, with
    the objectives judged once at the end of that week."""
    write(demo_events(31, "2026-10-31T12:00:00Z", 7.5, 500))
    write(demo_events(32, "2026-11-07T21:00:00Z", 3 / 24, 150))
    server = serve_app(objectives=OBJECTIVES)
    evaluate_alerts(server.store, parse_instant(END))
    return server


class Figures(HTMLParser):
    """The figures tables as the browser built them: {(kind, figure, channel): cell}."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.kind = self.figure = ""
        self.columns: list[str] = []
        self.cell: dict[str, Any] | None = None
        self.row_cells = 0
        self.charts = 0
        self.current_window = ""
        self._in_current = False
        self.objectives: list[list[str]] = []  # the objectives table, row by row
        self._objective_row: list[str] | None = None
        self._in_objectives = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("data-kind"):
            self.kind, self.columns = a["data-kind"] or "", []
        elif tag == "th" and "data-channel" in a:
            self.columns.append(a["data-channel"] or "")
        elif tag == "tr" and self._in_objectives:
            self._objective_row = []
            self.objectives.append(self._objective_row)
        elif tag == "tr":
            self.figure, self.row_cells = a.get("data-figure") or "", 0
        elif tag == "td" and self.figure and "data-value" in a:
            self.cell = {"value": a["data-value"], "n": a.get("data-n"), "text": ""}
            channel = self.columns[self.row_cells]
            self.cells[(self.kind, self.figure, channel)] = self.cell
            self.row_cells += 1
        elif tag == "svg" and a.get("class") == "chart":
            self.charts += 1
        elif tag == "a" and a.get("aria-current") == "page":
            self._in_current = True
        elif tag == "table" and a.get("class") == "objectives":
            self._in_objectives = True
        elif tag == "td" and self._objective_row is not None:
            self._objective_row.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_objectives = False
            self._objective_row = None
        if tag == "td":
            self.cell = None
        elif tag == "a":
            self._in_current = False

    def handle_data(self, data: str) -> None:
        if self._objective_row:
            self._objective_row[-1] += data
        if self.cell is not None:
            self.cell["text"] += data
        if self._in_current:
            self.current_window += data.strip()


def shown(chromium: Chromium, url: str) -> Figures:
    figures = Figures()
    figures.feed(chromium.dom(url))
    return figures


def expected(store: Store, window: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The report over the same span: each channel's group, and each kind's as `all`."""
    end = parse_instant(END)
    span = Window(end - SPANS[window] * 1_000_000, end)
    by_channel = report_from_store(store, Query(span, "channel"))["groups"]
    by_kind = report_from_store(store, Query(span, "kind"))["groups"]
    found = {(g["kind"], g["channel"]): g for g in by_channel}
    found.update({(g["kind"], "all"): g for g in by_kind})
    return found


@pytest.mark.parametrize("window", ["1h", "24h", "7d"])
def test_the_page_shows_each_channel_as_the_report_does(page, store, chromium, window, tmp_path):
    figures = shown(chromium, f"{page.url}/?window={window}&end={END}")
    assert figures.current_window == window
    assert figures.charts == 8  # four headline figures for each kind
    truth = expected(store, window)
    assert {(k, ch) for k, _, ch in figures.cells} == set(truth)
    assert {ch for _, ch in truth} == {*CHANNELS, "all"}  # AI and human, every channel
    for (kind, channel), group in truth.items():
        cell = lambda figure, k=kind, ch=channel: figures.cells[(k, figure, ch)]  # noqa: E731
        assert int(cell("started")["value"]) == group["conversations_started"]
        assert int(cell("ended")["value"]) == group["segments"]["ended"]
        assert int(cell("reopened")["value"]) == group["reopened"]
        for figure, report in (
            ("resolved_rate", group["resolution_rate"]),
            ("escalated_rate", group["escalation_rate"]),
            ("abandoned_rate", group["abandonment_rate"]),
            ("csat", {"value": group["csat"]["value"], "n": group["csat"]["responses"]}),
        ):
            assert_rate(cell(figure), report, (kind, channel, figure))
        for figure, dist, bounds in (
            ("first_response_p90", group["first_response_seconds"], DEFAULT_RESPONSE_BUCKETS),
            ("resolution_p90", group["resolution_seconds"], DEFAULT_RESOLUTION_BUCKETS),
        ):
            assert int(cell(figure)["n"]) == dist["n"], (kind, channel, figure)
            assert_same_bucket(cell(figure)["value"], dist["p90"], bounds, (kind, channel, figure))
    shot = chromium.screenshot(f"{page.url}/?window={window}&end={END}", tmp_path / f"{window}.png")
    assert shot.stat().st_size > 20_000


def assert_rate(cell: dict[str, Any], report: dict[str, Any], where: Any) -> None:
    assert int(cell["n"]) == report["n"], where
    if report["value"] is None:
        assert cell["value"] == "" and cell["text"].startswith("–"), where
        return
    assert math.isclose(float(cell["value"]), report["value"], abs_tol=1e-12), where
    assert " ".join(cell["text"].split()) == f"{100 * report['value']:.1f}% n={report['n']}", where


def assert_same_bucket(
    value: str, exact: float | None, bounds: tuple[float, ...], where: Any
) -> None:
    """The page's p90 (interpolated in a bucket) lies in the bucket of the exact p90, or in
    a neighbour when the ranks around the 90th straddle a bound."""
    if exact is None:
        assert value == "", where
        return
    page = float(value)
    shown_at, exact_at = bisect.bisect_left(bounds, page), bisect.bisect_left(bounds, exact)
    assert abs(shown_at - exact_at) <= 1, (where, page, exact)


def test_a_bad_window_is_refused_naming_the_parameter(page):
    answer = page.http.get("/", params={"window": "3d"})
    assert answer.status_code == 400
    assert "`window` must be one of 1h, 24h, 7d (got &#39;3d&#39;)" in answer.text
    answer = page.http.get("/", params={"end": "yesterday"})
    assert answer.status_code == 400 and "`end`" in answer.text


def test_without_parameters_the_page_shows_the_last_24_hours_until_now(page):
    answer = page.http.get("/")
    assert answer.status_code == 200
    assert 'aria-current="page">24h</a>' in answer.text
    # The demo week lies in the past: the window until now is empty, and says so with dashes.
    assert 'data-value="0"' in answer.text and "–" in answer.text


def test_the_page_shows_each_objectives_state_as_the_alert_job_judged_it(page, chromium):
    shown_rows = shown(chromium, f"{page.url}/?window=24h&end={END}").objectives
    rows = [[" ".join(cell.split()) for cell in row] for row in shown_rows if row]
    results = evaluate_store(
        page.store, list(page.settings.objectives.values()), parse_instant(END)
    )
    assert len(rows) == len(results) and {r.state for r in results} >= {"met", "breached"}
    titles = {name: spec.title or name for name, spec in page.settings.channels.items()}
    for result in results:
        group = result.labels
        name = titles.get(group.get("channel", ""), group.get("kind") or "all channels")
        title = result.objective.display_title
        [row] = [r for r in rows if r[0].startswith(title) and r[1] == name]
        state = "firing" if result.state == "breached" else "ok"
        assert row[2].startswith(state), (title, name, row)
        value = result.share.value
        assert row[3] == ("–" if value is None else f"{100 * value:.1f}%"), (title, row)
        assert row[5] == str(result.share.total), (title, row)
