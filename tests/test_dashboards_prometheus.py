"""Every panel proven: each query of both dashboards, run by a real Prometheus.

`touchmetrics serve` runs with the objectives of DESIGN section 11; a real Prometheus scrapes
it every second and evaluates the rules `touchmetrics rules` wrote. Prometheus first sees
every series at zero, then the demo log is posted, so `increase()` over the dashboards'
windows spans all of it. Each query of each panel, with the dashboard's variables filled in
as Grafana would, must parse and return data; the headline panels must equal the summary
(and the objectives' evaluation) for the same events, to the precision the buckets allow.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from collector.connect import make_engine
from collector.evaluation import evaluate
from collector.settings import DEFAULT_RESPONSE_BUCKETS, Settings, load_settings
from collector.store import Store
from dashboards import DETAIL_UID, OVERVIEW_UID, build
from tests.conftest import CHANNELS, DESIGN_OBJECTIVES, require
from tests.processes import clean_env, prometheus_scraping, serving, touchmetrics, wait_for
from tests.test_prometheus_e2e import SCRAPE_SECONDS, bucket_of, post_log

# How the test fills in the dashboards' variables: the trailing window spans the whole run.
WINDOW = "1h"
RATE_INTERVAL = "1m"
STEP_SECONDS = 1
SETTLE_SECONDS = 5


@pytest.fixture
def e2e_config(tmp_path: Path, database_url: str) -> Path:
    path = tmp_path / "touchmetrics.yaml"
    config = {"channels": CHANNELS, "objectives": DESIGN_OBJECTIVES, "database_url": database_url}
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def e2e_settings(e2e_config: Path) -> Settings:
    return load_settings(e2e_config, env={})


@pytest.fixture
def rules_file(e2e_config: Path, tmp_path: Path) -> Path:
    """The recording rules `touchmetrics rules` writes for these objectives."""
    command = touchmetrics("rules", "--config", str(e2e_config), "-o", str(tmp_path / "rules"))
    done = subprocess.run(command, capture_output=True, text=True, env=clean_env(), timeout=60)
    assert done.returncode == 0, done.stderr
    return tmp_path / "rules" / "touchmetrics.rules.yml"


@pytest.fixture
def served(e2e_config: Path, tmp_path: Path) -> Iterator[str]:
    """`touchmetrics serve` with the objectives; yields its base URL once ready."""
    with serving(e2e_config, tmp_path / "serve.log") as url:
        yield url


@pytest.fixture
def prometheus_with_rules(served: str, rules_file: Path, tmp_path: Path) -> Iterator[str]:
    """A Prometheus scraping the service and evaluating the rules every second."""
    require(shutil.which("prometheus") is not None, "prometheus not installed")
    with prometheus_scraping(served, tmp_path, rule_files=[str(rules_file)]) as url:
        yield url


class Prom:
    """Prometheus' HTTP API, as Grafana's data source calls it."""

    def __init__(self, base: str) -> None:
        self.base = base

    def get(self, path: str, **params: Any) -> Any:
        answer = httpx.get(f"{self.base}/api/v1/{path}", params=params, timeout=10)
        assert answer.status_code == 200, (params, answer.text)
        body = answer.json()
        assert body["status"] == "success", (params, body)
        return body["data"]

    def instant(self, query: str, at: float) -> list[dict[str, Any]]:
        data = self.get("query", query=query, time=at)
        assert data["resultType"] == "vector", (query, data)
        result: list[dict[str, Any]] = data["result"]
        return result

    def over_range(self, query: str, start: float, end: float) -> list[dict[str, Any]]:
        data = self.get("query_range", query=query, start=start, end=end, step=STEP_SECONDS)
        assert data["resultType"] == "matrix", (query, data)
        result: list[dict[str, Any]] = data["result"]
        return result

    def scalar(self, query: str, at: float) -> float | None:
        found = self.instant(query, at)
        return float(found[0]["value"][1]) if found else None


def fill(expr: str, channel: str = "", kind: str = "") -> str:
    """The query as Grafana sends it: variables replaced by the values the test picked."""
    for name, value in (
        ("$__rate_interval", RATE_INTERVAL),
        ("$window", WINDOW),
        ("$channel", channel),
        ("$kind", kind),
    ):
        expr = expr.replace(name, value)
    assert "$" not in expr, expr
    return expr


def panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in model["panels"] if p["type"] != "row"]


def finite(result: list[dict[str, Any]]) -> bool:
    """Whether any sample of an instant or range result is a number (not NaN)."""
    samples = [s for r in result for s in (r.get("values") or [r.get("value")]) if s]
    return any(math.isfinite(float(value)) for _, value in samples)


def run_target(
    prom: Prom, target: dict[str, Any], window: tuple[float, float], **values: str
) -> list[dict[str, Any]]:
    """One target as its panel runs it: an instant query for a stat, a range otherwise."""
    expr = fill(target["expr"], **values)
    if target.get("instant"):
        return prom.instant(expr, window[1])
    return prom.over_range(expr, *window)


def test_every_panel_query_returns_data_and_the_headlines_equal_the_report(
    served: str, prometheus_with_rules: str, e2e_settings: Settings, tmp_path: Path
) -> None:
    prom = Prom(prometheus_with_rules)
    log = tmp_path / "prometheus.log"
    # 1. Prometheus sees every series at zero before any event arrives.
    zero = 'touchmetrics_segments_ended_total{channel="bot-chat", outcome="resolved"} == 0'
    wait_for("a scrape at zero", lambda: prom.instant(zero, time.time()), SCRAPE_SECONDS, log)
    start = time.time()
    events = post_log(served)
    accepted = f'touchmetrics_events_received_total{{result="accepted"}} == {events}'
    wait_for(
        "a scrape of every event", lambda: prom.instant(accepted, time.time()), SCRAPE_SECONDS, log
    )
    truth = Truth(served, e2e_settings)
    settled = lambda: truth.rules_caught_up(prom, time.time())  # noqa: E731
    wait_for("the rules over every event", settled, SCRAPE_SECONDS, log)
    # A few more scrapes, so range queries have points after the events and increase()
    # extrapolates little past its last sample.
    time.sleep(SETTLE_SECONDS)
    now = time.time()
    dashboards = build(e2e_settings)

    ran = run_overview(prom, dashboards[OVERVIEW_UID], (start - 5, now))
    ran += run_detail(prom, dashboards[DETAIL_UID], (start - 5, now))
    assert ran > 100  # every target of both dashboards, the detail once per channel

    headlines = Headlines(prom, dashboards[OVERVIEW_UID], now)
    for kind, group in truth.by_kind.items():
        assert_close(
            headlines.pooled(kind, "containment" if kind == "ai" else "resolution rate"),
            group["resolution_rate"]["value"],
        )
        assert_close(headlines.pooled(kind, "CSAT satisfied share"), group["csat"]["value"])
        check_p90(prom, headlines.pooled(kind, "first response", "p90"), kind, group, now)
    for result in truth.results:
        assert_close(
            headlines.objective(result.objective.name, result.labels, stat=False),
            result.share.value,
        )
        wanted = None if result.state == "no_data" else result.share.value
        assert_close(headlines.objective(result.objective.name, result.labels, stat=True), wanted)


def run_overview(prom: Prom, model: dict[str, Any], window: tuple[float, float]) -> int:
    """Every target of the overview parses and returns a number."""
    ran = 0
    for panel in panels(model):
        for target in panel["targets"]:
            result = run_target(prom, target, window)
            assert result and finite(result), (panel["title"], target["expr"], result)
            ran += 1
    return ran


def run_detail(prom: Prom, model: dict[str, Any], window: tuple[float, float]) -> int:
    """Every target of the detail, for every value the channel variable offers."""
    variable = next(v for v in model["templating"]["list"] if v["name"] == "channel")
    metric = variable["query"]["query"].removeprefix("label_values(").split(",")[0]
    channels = prom.get("label/channel/values", **{"match[]": metric})
    assert sorted(channels) == sorted(CHANNELS)
    ran = 0
    answered: dict[str, set[str]] = {}
    for channel in channels:
        [kind] = prom.get("label/kind/values", **{"match[]": f'{metric}{{channel="{channel}"}}'})
        for panel in panels(model):
            for target in panel["targets"]:
                result = run_target(prom, target, window, channel=channel, kind=kind)
                ran += 1
                if result and finite(result):
                    answered.setdefault(target["expr"], set()).add(channel)
                elif "objective" not in target["expr"]:
                    pytest.fail(f"{panel['title']} for {channel}: {target['expr']} -> {result}")
    # An objective's panel answers for the channels it judges (by channel) or their kind.
    for panel in panels(model):
        for target in panel["targets"]:
            assert answered.get(target["expr"]), (panel["title"], target["expr"])
    return ran


class Truth:
    """What the service itself says for the same events: the summary and the evaluation."""

    def __init__(self, served: str, settings: Settings) -> None:
        summary = httpx.get(f"{served}/api/v1/summary", params={"group_by": "kind"}, timeout=30)
        self.by_kind = {g["kind"]: g for g in summary.json()["groups"]}
        store = Store(make_engine(settings.database_url), settings)
        try:
            objectives = list(settings.objectives.values())
            kinds = store.channel_kinds()
            self.results = evaluate(objectives, store.facts(), kinds, settings.channels)
        finally:
            store.close()
        assert {r.state for r in self.results} >= {"met", "breached"}, [
            r.as_dict() for r in self.results
        ]

    def rules_caught_up(self, prom: Prom, at: float) -> bool:
        """Whether every recorded share already equals the evaluation over all events."""
        for result in self.results:
            o = result.objective
            labels = "".join(f', {k}="{v}"' for k, v in result.labels.items())
            got = prom.scalar(
                f'touchmetrics:objective_ratio:{o.window}{{objective="{o.name}"{labels}}}', at
            )
            if (
                result.share.value is None
                or got is None
                or not math.isclose(got, result.share.value, abs_tol=1e-9)
            ):
                return False
        return True


class Headlines:
    """The headline panels' values at one instant, read through their own queries."""

    def __init__(self, prom: Prom, model: dict[str, Any], at: float) -> None:
        self.prom, self.at, self.panels = prom, at, panels(model)

    def pooled(self, kind: str, title: str, suffix: str = "") -> float | None:
        """The kind's pooled series ("all AI") of the kind's panel whose title has ``title``."""
        prefix = {"ai": "AI: ", "human": "Human: "}[kind]
        [panel] = [p for p in self.panels if p["title"].startswith(prefix) and title in p["title"]]
        legend = f"all {prefix[:-2]}{suffix and ' ' + suffix}"
        [target] = [t for t in panel["targets"] if t["legendFormat"] == legend]
        return self.prom.scalar(fill(target["expr"]), self.at)

    def objective(self, name: str, labels: dict[str, str], stat: bool) -> float | None:
        kind = "stat" if stat else "timeseries"
        [panel] = [
            p
            for p in self.panels
            if p["type"] == kind and f'objective="{name}"' in p["targets"][0]["expr"]
        ]
        for series in self.prom.instant(fill(panel["targets"][0]["expr"]), self.at):
            if all(series["metric"].get(k) == v for k, v in labels.items()):
                return float(series["value"][1])
        return None


def assert_close(got: float | None, want: float | None) -> None:
    if want is None:
        assert got is None
        return
    assert got is not None and math.isclose(got, want, rel_tol=0, abs_tol=1e-9), (got, want)


def check_p90(
    prom: Prom, estimate: float | None, kind: str, group: dict[str, Any], at: float
) -> None:
    """The panel's p90 and the summary's exact p90 agree to the bucket precision.

    Prometheus interpolates inside the bucket holding rank k = ceil(0.9 n), so its estimate
    lies within that bucket; numpy's exact p90 lies between the observations of ranks k - 1
    and k + 1, so within the buckets holding those. Bucket counts come from Prometheus.
    """
    series = f'touchmetrics_first_response_seconds_bucket{{kind="{kind}"}}'
    query = f"sum by (le) (increase({series}[{WINDOW}]))"
    pairs = sorted(
        (float(s["metric"]["le"]), float(s["value"][1])) for s in prom.instant(query, at)
    )
    total = pairs[-1][1]
    # increase() stretches every count of a scrape by the same factor; rank in those units.
    cumulative = [count * group["first_response_seconds"]["n"] / total for _, count in pairs]
    n = group["first_response_seconds"]["n"]
    bounds = (0.0, *DEFAULT_RESPONSE_BUCKETS, math.inf)
    k = math.ceil(0.9 * n)
    home = bucket_of([round(c, 6) for c in cumulative], k)
    assert estimate is not None
    top = bounds[home] if home < len(bounds) - 1 else bounds[-2]
    assert bounds[home - 1] <= estimate <= top, (kind, estimate, home)
    low = bounds[bucket_of([round(c, 6) for c in cumulative], max(k - 1, 1)) - 1]
    high = bounds[bucket_of([round(c, 6) for c in cumulative], min(k + 1, n))]
    assert low <= group["first_response_seconds"]["p90"] <= high, (kind, group, estimate)
