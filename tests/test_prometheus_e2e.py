"""End to end: `touchmetrics serve` scraped by a real Prometheus, on SQLite and PostgreSQL.

The service and Prometheus run as subprocesses on free loopback ports, as a user runs them.
A generated log is posted over HTTP, Prometheus scrapes /metrics every second, and PromQL
over the scraped series must give what GET /api/v1/summary gives.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from collector.demo import DemoSpec, generate
from collector.settings import DEFAULT_RESPONSE_BUCKETS
from tests.conftest import CHANNELS, require
from tests.processes import prometheus_scraping, serving, wait_for

CONVERSATIONS = 300
BATCH = 500  # events per POST
SCRAPE_SECONDS = 20.0
BAD_LINES = b'{"conversation_id": "x", "type": "nonsense", "timestamp": 0}\nnot json\n'


@pytest.fixture
def service(database_url: str, tmp_path: Path) -> Iterator[str]:
    """`touchmetrics serve` on a free loopback port; yields its base URL once ready."""
    config = tmp_path / "touchmetrics.yaml"
    config.write_text(yaml.safe_dump({"channels": CHANNELS, "database_url": database_url}))
    with serving(config, tmp_path / "serve.log") as base:
        yield base


@pytest.fixture
def prometheus(service: str, tmp_path: Path) -> Iterator[str]:
    """A Prometheus scraping the service every second; yields its base URL once ready."""
    require(shutil.which("prometheus") is not None, "prometheus not installed")
    with prometheus_scraping(service, tmp_path) as ready:
        yield ready


def post_log(base: str) -> int:
    """Post the demo log as NDJSON batches, one batch again and two bad lines; returns events."""
    lines = [line.encode() for line in generate(DemoSpec(seed=11), conversations=CONVERSATIONS)]
    with httpx.Client(base_url=base, timeout=30) as client:
        for start in range(0, len(lines), BATCH):
            answer = post(client, b"".join(lines[start : start + BATCH]))
            assert answer["rejected"] == [], answer["rejected"][:3]
        # Duplicates and rejections, so every `result` of events_received_total is non-zero.
        assert post(client, b"".join(lines[:BATCH]))["duplicates"] == BATCH
        assert len(post(client, BAD_LINES)["rejected"]) == 2
    return len(lines)


def post(client: httpx.Client, body: bytes) -> dict[str, Any]:
    response = client.post(
        "/api/v1/events", content=body, headers={"Content-Type": "application/x-ndjson"}
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def promql(base: str, query: str, by: tuple[str, ...] = ("kind",)) -> dict[str, float]:
    """An instant query's vector as {values of the `by` labels joined by ',': value}."""
    response = httpx.get(f"{base}/api/v1/query", params={"query": query}, timeout=5)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["resultType"] == "vector", data
    return {
        ",".join(r["metric"].get(name, "") for name in by): float(r["value"][1])
        for r in data["result"]
    }


def test_promql_over_scraped_series_matches_summary(
    service: str, prometheus: str, tmp_path: Path
) -> None:
    events = post_log(service)
    # Prometheus started after the posts, so any scrape it made sees them all; wait for one.
    accepted = 'touchmetrics_events_received_total{result="accepted"}'
    seen = lambda: promql(prometheus, f"{accepted} == {events}", by=())  # noqa: E731
    wait_for(
        "a scrape showing every posted event", seen, SCRAPE_SECONDS, tmp_path / "prometheus.log"
    )
    target = service.removeprefix("http://")
    assert promql(prometheus, 'up{job="touchmetrics"}', by=("instance",)) == {target: 1.0}

    summary = httpx.get(f"{service}/api/v1/summary", params={"group_by": "kind"}, timeout=30).json()
    groups = {g["kind"]: g for g in summary["groups"]}
    assert set(groups) == {"ai", "human"}

    started = promql(prometheus, "sum by (kind)(touchmetrics_conversations_started_total)")
    assert started == {k: float(g["conversations_started"]) for k, g in groups.items()}
    received = promql(
        prometheus, "sum by (result)(touchmetrics_events_received_total)", by=("result",)
    )
    assert received == {
        "accepted": summary["events"]["accepted"],
        "duplicate": summary["events"]["duplicates"],
        "rejected": summary["events"]["rejected"],
    }
    assert received == {"accepted": events, "duplicate": BATCH, "rejected": 2}

    resolution = promql(
        prometheus,
        'sum by (kind)(touchmetrics_segments_ended_total{outcome="resolved"})'
        " / sum by (kind)(touchmetrics_segments_ended_total)",
    )
    assert_close(resolution, {k: g["resolution_rate"]["value"] for k, g in groups.items()})
    csat = promql(
        prometheus,
        "sum by (kind)(touchmetrics_csat_satisfied_total)"
        " / sum by (kind)(touchmetrics_csat_responses_total)",
    )
    assert_close(csat, {k: g["csat"]["value"] for k, g in groups.items()})
    check_p90(prometheus, {k: g["first_response_seconds"] for k, g in groups.items()})


def assert_close(got: dict[str, float], want: dict[str, float]) -> None:
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert math.isclose(got[key], value, rel_tol=0, abs_tol=1e-9), (key, got[key], value)


def check_p90(prometheus: str, truth: dict[str, dict[str, Any]]) -> None:
    """Prometheus' p90 estimate and the summary's exact p90 agree to the bucket precision.

    histogram_quantile finds the bucket holding rank k = ceil(0.9 n) and interpolates
    linearly inside it, so its estimate lies within that bucket's bounds. The summary's exact
    p90 (numpy's linear interpolation, position 0.9 (n - 1) from 0) lies between the values
    of ranks k - 1 and k + 1 at worst, so it lies between the lower bound of the bucket
    holding rank k - 1 and the upper bound of the bucket holding rank k + 1: the bucket of the
    estimate itself unless those neighbouring ranks straddle a boundary. The bucket counts
    come from Prometheus, the bounds from the configured buckets (the defaults here).
    """
    estimates = promql(
        prometheus,
        "histogram_quantile(0.9, sum by (kind, le)(touchmetrics_first_response_seconds_bucket))",
    )
    cumulative = bucket_counts(prometheus)
    assert estimates.keys() == truth.keys() == cumulative.keys()
    bounds = (0.0, *DEFAULT_RESPONSE_BUCKETS, math.inf)
    for kind, dist in truth.items():
        counts = cumulative[kind]
        n = int(counts[-1])
        assert n == dist["n"], (kind, n, dist["n"])
        k = math.ceil(0.9 * n)
        home = bucket_of(counts, k)
        # An estimate in the +Inf bucket is reported as the highest finite bound.
        top = bounds[home] if home < len(bounds) - 1 else bounds[-2]
        assert bounds[home - 1] <= estimates[kind] <= top, (kind, estimates[kind], home)
        low = bounds[bucket_of(counts, max(k - 1, 1)) - 1]
        high = bounds[bucket_of(counts, min(k + 1, n))]
        assert low <= dist["p90"] <= high, (kind, dist["p90"], low, high, estimates[kind])


def bucket_counts(prometheus: str) -> dict[str, list[float]]:
    """Cumulative first-response counts per kind, in bucket order, +Inf last."""
    query = "sum by (kind, le)(touchmetrics_first_response_seconds_bucket)"
    found = promql(prometheus, query, by=("kind", "le"))
    per_kind: dict[str, list[tuple[float, float]]] = {}
    for key, value in found.items():
        kind, le = key.split(",")
        per_kind.setdefault(kind, []).append((float(le), value))
    assert all(len(v) == len(DEFAULT_RESPONSE_BUCKETS) + 1 for v in per_kind.values()), per_kind
    return {kind: [c for _, c in sorted(pairs)] for kind, pairs in per_kind.items()}


def bucket_of(cumulative: list[float], rank: int) -> int:
    """1-based index into (0, *buckets, inf) of the bucket holding the rank-th observation."""
    return next(i for i, count in enumerate(cumulative, start=1) if count >= rank)
