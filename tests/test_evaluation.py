"""The one objective evaluation (DESIGN section 11) equals the report, from files and stores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from collector.batch import batch_of_events
from collector.demo import DemoSpec, generate
from collector.evaluation import Result, Share, evaluate, evaluate_store, judge
from collector.metrics import Query, Window, build_report
from collector.objectives import INDICATORS, Objective
from collector.offline import FileLog
from collector.schema import Validator
from collector.settings import Settings, parse_settings
from collector.store import Store
from exporters.prometheus import make_registry, render_metrics
from tests.conftest import CHANNELS

DAY = 86_400_000_000
START = DemoSpec().start_us
RATE_KEYS = {
    "resolution_rate": "resolution_rate",
    "escalation_rate": "escalation_rate",
    "abandonment_rate": "abandonment_rate",
}
DURATION_KEYS = {
    "first_response": "first_response_seconds",
    "response": "response_seconds",
    "resolution": "resolution_seconds",
}


def objective(indicator: str, by: str = "channel", **fields: Any) -> Objective:
    if indicator in DURATION_KEYS:
        fields.setdefault("within_seconds", 60)
    return Objective(name=f"{indicator}-{by}", indicator=indicator, by=by, min=0.5, **fields)


def demo_events(conversations: int = 300, seed: int = 3) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in generate(DemoSpec(seed=seed), conversations)]


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    return demo_events()


@pytest.fixture(scope="module")
def file_log(events: list[dict[str, Any]]) -> FileLog:
    log = FileLog(Validator(parse_settings({"channels": CHANNELS})))
    for incoming in batch_of_events(log.validator, "test", events).events:
        log.add(incoming.event)
    return log


def report_share(group: dict[str, Any], indicator: str) -> tuple[int, int] | None:
    """(good, n) from a report group, where the report alone can tell the good count."""
    if indicator in RATE_KEYS:
        figure = group[RATE_KEYS[indicator]]
        return (round(figure["value"] * figure["n"]) if figure["n"] else 0, figure["n"])
    if indicator == "csat":
        return (group["csat"]["satisfied"], group["csat"]["responses"])
    return None


def kinds_of(log: FileLog) -> dict[str, str]:
    return {**log.kinds, **{n: c["kind"] for n, c in CHANNELS.items()}}


@pytest.mark.parametrize("indicator", INDICATORS)
@pytest.mark.parametrize("by", ["channel", "kind"])
def test_it_counts_what_the_report_counts_for_every_indicator(
    file_log: FileLog, indicator: str, by: str
):
    kinds = kinds_of(file_log)
    facts = list(file_log.facts())
    results = evaluate([objective(indicator, by)], facts, kinds, CHANNELS)
    report = build_report(facts, kinds, CHANNELS, Query(group_by=by), {})
    assert [r.labels for r in results] == [
        {"channel": g["channel"], "kind": g["kind"]} if by == "channel" else {"kind": g["kind"]}
        for g in report["groups"]
    ]
    for result, group in zip(results, report["groups"], strict=True):
        expected = report_share(group, indicator)
        if expected is None:  # a duration: n from the report, the good count from the values
            expected = (result.share.good, group[DURATION_KEYS[indicator]]["n"])
        assert (result.share.good, result.share.total) == expected
        assert result.share.total > 0


@pytest.mark.parametrize("indicator", DURATION_KEYS)
def test_a_duration_is_good_up_to_and_including_within_seconds(file_log: FileLog, indicator: str):
    kinds = kinds_of(file_log)
    facts = list(file_log.facts())
    report = build_report(facts, kinds, CHANNELS, Query(group_by="kind"), {})
    for group in report["groups"]:
        figures = group[DURATION_KEYS[indicator]]
        if not figures["n"]:
            continue
        at_max = evaluate(
            [objective(indicator, "kind", within_seconds=figures["max"])], facts, kinds
        )
        by_kind = {r.labels["kind"]: r.share for r in at_max}
        assert by_kind[group["kind"]] == Share(figures["n"], figures["n"])
        at_median = evaluate(
            [objective(indicator, "kind", within_seconds=figures["p50"])], facts, kinds
        )
        share = {r.labels["kind"]: r.share for r in at_median}[group["kind"]]
        assert share.good >= figures["n"] / 2


@pytest.mark.parametrize("indicator", INDICATORS)
def test_by_all_pools_every_covered_channel(file_log: FileLog, indicator: str):
    kinds = kinds_of(file_log)
    facts = list(file_log.facts())
    per_channel = evaluate([objective(indicator, "channel", kind="human")], facts, kinds, CHANNELS)
    (pooled,) = evaluate([objective(indicator, "all", kind="human")], facts, kinds, CHANNELS)
    assert pooled.labels == {}
    assert pooled.share.total == sum(r.share.total for r in per_channel)
    assert pooled.share.good == sum(r.share.good for r in per_channel)
    assert {r.labels["channel"] for r in per_channel} == {"chat", "phone", "email"}


def test_it_names_every_declared_channel_it_covers_even_without_data(file_log: FileLog):
    declared = {**CHANNELS, "sms": {"kind": "human"}}
    results = evaluate(
        [objective("csat", kind="human")], [], kinds_of(file_log) | {"sms": "human"}, declared
    )
    assert [(r.labels["channel"], r.share, r.state) for r in results] == [
        ("chat", Share(), "no_data"),
        ("email", Share(), "no_data"),
        ("phone", Share(), "no_data"),
        ("sms", Share(), "no_data"),
    ]


@pytest.mark.parametrize(
    ("bound", "good", "total", "state"),
    [
        ({"min": 0.6}, 12, 20, "met"),  # exactly at the bound is met
        ({"min": 0.6}, 11, 20, "breached"),
        ({"min": 0.6}, 0, 19, "no_data"),  # under min_events: no verdict either way
        ({"max": 0.35}, 7, 20, "met"),
        ({"max": 0.35}, 8, 20, "breached"),
        ({"max": 0.35}, 0, 0, "no_data"),
    ],
)
def test_it_judges_met_breached_and_no_data(
    bound: dict[str, float], good: int, total: int, state: str
):
    o = Objective(name="o", indicator="resolution_rate", min_events=20, **bound)
    assert judge(o, Share(good, total)) == state


def test_a_result_carries_the_wilson_interval_of_its_share():
    o = Objective(name="o", indicator="resolution_rate", min=0.6)
    result = Result(o, (("channel", "bot-chat"), ("kind", "ai")), Share(70, 100), "met")
    assert result.as_dict()["ci95"] == pytest.approx([0.604, 0.781], abs=5e-4)
    assert result.as_dict()["value"] == 0.7


@pytest.fixture
def stored(store: Store, write: Callable[..., Any], events: list[dict[str, Any]]) -> Store:
    write(events)
    return store


@pytest.mark.parametrize("indicator", INDICATORS)
def test_from_the_store_it_equals_the_report_of_each_trailing_window(stored: Store, indicator: str):
    now = START + 3 * DAY + 12 * 3_600_000_000
    for window, span in (("1h", 3_600_000_000), ("1d", DAY), ("3d", 3 * DAY)):
        o = objective(indicator, "kind", window=window, min_events=1)
        results = evaluate_store(stored, [o], now)
        query = Query(Window(now - span, now), group_by="kind")
        report = build_report(
            stored.facts(now - span, now), stored.channel_kinds(), CHANNELS, query, {}
        )
        from_report = {g["kind"]: report_share(g, indicator) for g in report["groups"]}
        for r in results:
            expected = from_report[r.labels["kind"]]
            if expected is None:
                n = next(g for g in report["groups"] if g["kind"] == r.labels["kind"])
                expected = (r.share.good, n[DURATION_KEYS[indicator]]["n"])
            assert (r.share.good, r.share.total) == expected, (window, r.labels)
    assert any(
        r.share.total
        for r in evaluate_store(stored, [objective(indicator, "all", window="3d")], now)
    )


def test_the_store_and_the_file_give_the_same_results(stored: Store, file_log: FileLog):
    objectives = [
        objective(i, by, window="1000d") for i in INDICATORS for by in ("channel", "kind", "all")
    ]
    far = START + 400 * DAY
    from_store = evaluate_store(stored, objectives, far)
    from_file = evaluate(objectives, file_log.facts(), kinds_of(file_log), CHANNELS)
    assert [(r.objective.name, r.group, r.share, r.state) for r in from_store] == [
        (r.objective.name, r.group, r.share, r.state) for r in from_file
    ]


def test_an_objective_threshold_is_a_bucket_bound_on_metrics(
    make_settings: Callable[..., Settings], store: Store
):
    settings = make_settings(
        objectives={"quick": {"indicator": "first_response", "within_seconds": 45, "min": 0.9}}
    )
    text = render_metrics(make_registry(Store(store.engine, settings)))[0].decode()
    assert (
        'touchmetrics_first_response_seconds_bucket{channel="chat",kind="human",le="45.0"} 0.0'
        in text
    )
    assert 'touchmetrics_response_seconds_bucket{channel="chat",kind="human",le="45.0"}' not in text
