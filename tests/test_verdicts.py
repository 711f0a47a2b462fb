"""The check's statistics (DESIGN 15) against hand-computed values, Newcombe's published
examples and properties that must hold for any data."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.check import judge_sides
from collector.evaluation import Result, Share
from collector.objectives import Objective
from collector.verdicts import (
    against_baseline,
    against_objective,
    combine,
    difference,
    exit_code,
    run_verdict,
)

Z = 1.959964


def rule(**fields: float) -> Objective:
    """A resolution-rate objective with the given bound, tolerance or min_events."""
    return Objective(name="o", indicator="resolution_rate", **fields)  # type: ignore[arg-type]


# Newcombe (1998), "Interval estimation for the difference between independent proportions:
# comparison of eleven methods", Statistics in Medicine 17:873-890, Table II, method 10
# (the hybrid score interval), 95 % limits to four decimals, for his examples (a) to (f).
NEWCOMBE_TABLE_II = [
    ((56, 70), (48, 80), (0.0524, 0.3339)),
    ((9, 10), (3, 10), (0.1705, 0.8090)),
    ((6, 7), (2, 7), (0.0582, 0.8062)),
    ((5, 56), (0, 29), (-0.0381, 0.1926)),
    ((0, 10), (0, 20), (-0.1611, 0.2775)),
    ((10, 10), (0, 20), (0.6791, 1.0000)),
]


@pytest.mark.parametrize(("first", "second", "limits"), NEWCOMBE_TABLE_II)
def test_the_difference_interval_is_newcombes_method_10_as_published(first, second, limits):
    d, (low, high) = difference(Share(*first), Share(*second))
    assert d == first[0] / first[1] - second[0] / second[1]
    assert (round(low, 4), round(high, 4)) == limits


def test_with_zero_events_on_both_sides_the_limits_are_the_wilson_upper_limits_by_hand():
    # 0 of n has the Wilson interval [0, z²/(n + z²)], so 0/10 - 0/20 spans
    # [-z²/(20 + z²), z²/(10 + z²)]: the two upper limits, worked out by hand.
    d, (low, high) = difference(Share(0, 10), Share(0, 20))
    assert d == 0
    assert low == pytest.approx(-(Z * Z) / (20 + Z * Z), abs=1e-12)
    assert high == pytest.approx(Z * Z / (10 + Z * Z), abs=1e-12)


def test_the_design_example_gives_its_interval():
    # DESIGN 15: candidate 52 % of 400, baseline 64 % of 380 (243 of 380 is 63.9 %).
    d, (low, high) = difference(Share(208, 400), Share(243, 380))
    assert d == pytest.approx(-0.1195, abs=1e-4)
    assert (round(low, 3), round(high, 3)) == (-0.187, -0.050)


def test_there_is_no_difference_when_a_side_has_no_data():
    assert difference(Share(0, 0), Share(3, 10)) is None
    assert difference(Share(3, 10), Share()) is None


# 70 of 100 has the Wilson interval [0.6041, 0.7813] (DESIGN section 4).
@pytest.mark.parametrize(
    ("bound", "verdict"),
    [
        ({"min": 0.60}, "met"),  # the whole interval is at or above the minimum
        ({"min": 0.70}, "inconclusive"),  # the interval straddles it
        ({"min": 0.79}, "breached"),  # even the upper limit is below it
        ({"max": 0.79}, "met"),
        ({"max": 0.70}, "inconclusive"),
        ({"max": 0.60}, "breached"),  # even the lower limit is above it
    ],
)
def test_the_candidate_is_judged_by_its_whole_wilson_interval(bound, verdict):
    assert against_objective(rule(**bound), Share(70, 100)) == verdict


def test_under_min_events_the_objective_part_is_inconclusive_however_clear_the_share():
    assert against_objective(rule(min=0.9, min_events=20), Share(0, 19)) == "inconclusive"
    assert against_objective(rule(min=0.9, min_events=20), Share(0, 20)) == "breached"
    assert against_objective(rule(min=0.9), Share()) == "inconclusive"


def test_a_drop_beyond_the_tolerance_on_the_whole_interval_is_a_regression():
    # 208/400 against 243/380: the upper limit of the difference is -0.05018.
    candidate, baseline = Share(208, 400), Share(243, 380)
    assert against_baseline(rule(min=0.1), candidate, baseline)[0] == "regression"
    # A tolerance just wider than that upper limit: not proven, not cleared.
    assert against_baseline(rule(min=0.1, tolerance=0.0502), candidate, baseline)[0] == (
        "inconclusive"
    )
    assert against_baseline(rule(min=0.1, tolerance=0.19), candidate, baseline)[0] == "pass"


def test_for_a_max_objective_a_rise_is_what_regresses():
    # Newcombe's example (a): the difference lies in [0.0524, 0.3339].
    candidate, baseline = Share(56, 70), Share(48, 80)
    assert against_baseline(rule(min=0.1), candidate, baseline)[0] == "pass"  # it improved
    assert against_baseline(rule(max=0.9), candidate, baseline)[0] == "regression"
    assert against_baseline(rule(max=0.9, tolerance=0.06), candidate, baseline)[0] == (
        "inconclusive"
    )
    assert against_baseline(rule(max=0.9, tolerance=0.34), candidate, baseline)[0] == "pass"


def test_either_side_under_min_events_leaves_the_baseline_part_inconclusive():
    o = rule(min=0.5, min_events=20)
    verdict, diff = against_baseline(o, Share(0, 100), Share(19, 19))
    assert verdict == "inconclusive"
    assert diff is not None  # the difference is still shown
    assert against_baseline(o, Share(0, 19), Share(100, 100))[0] == "inconclusive"


@pytest.mark.parametrize(
    ("objective", "baseline", "verdict"),
    [
        ("met", None, "pass"),
        ("met", "pass", "pass"),
        ("breached", "pass", "fail"),
        ("met", "regression", "fail"),
        ("inconclusive", "regression", "fail"),  # a proven regression fails regardless
        ("breached", "inconclusive", "fail"),
        ("inconclusive", "pass", "inconclusive"),
        ("met", "inconclusive", "inconclusive"),
        ("inconclusive", None, "inconclusive"),
    ],
)
def test_a_result_fails_on_either_part_and_passes_only_when_both_do(objective, baseline, verdict):
    assert combine(objective, baseline) == verdict


def test_the_run_takes_its_worst_result_and_nothing_judged_is_inconclusive():
    assert run_verdict(["pass", "inconclusive", "fail"]) == "fail"
    assert run_verdict(["pass", "inconclusive"]) == "inconclusive"
    assert run_verdict(["pass", "pass"]) == "pass"
    assert run_verdict([]) == "inconclusive"


def test_exit_codes_are_0_for_pass_or_inconclusive_and_1_for_fail_or_when_asked():
    assert [exit_code(v) for v in ("pass", "inconclusive", "fail")] == [0, 0, 1]
    assert [exit_code(v, True) for v in ("pass", "inconclusive", "fail")] == [0, 1, 1]


# -- properties ------------------------------------------------------------------------------

counts = st.integers(min_value=0, max_value=1_000_000)


@st.composite
def shares(draw: st.DrawFn, min_total: int = 0, max_total: int = 1_000_000) -> Share:
    total = draw(st.integers(min_value=min_total, max_value=max_total))
    return Share(draw(st.integers(min_value=0, max_value=total)), total)


@st.composite
def objectives(draw: st.DrawFn) -> Objective:
    bound = draw(st.floats(min_value=0, max_value=1))
    side = draw(st.sampled_from(["min", "max"]))
    return rule(
        **{side: bound},
        tolerance=draw(st.floats(min_value=0, max_value=0.2)),
        min_events=draw(st.integers(min_value=1, max_value=500)),
    )


@given(objectives(), shares())
def test_identical_candidate_and_baseline_never_regress(o, share):
    assert against_baseline(o, share, share)[0] != "regression"


@given(objectives(), shares(min_total=1600))
def test_identical_logs_of_1600_or_more_events_always_pass_a_5_point_tolerance(o, share):
    # Newcombe's interval for no change is at most ±sqrt(2) Wilson half-widths: under
    # 0.05 from 1,537 events at a share of 0.5, the widest case.
    o = o.model_copy(update={"tolerance": max(o.tolerance, 0.05), "min_events": 20})
    verdict, diff = against_baseline(o, share, share)
    assert verdict == "pass"
    assert diff is not None and diff[0] == 0


@given(
    st.integers(min_value=1000, max_value=1_000_000),
    st.integers(min_value=1000, max_value=1_000_000),
    st.floats(min_value=0.2, max_value=1.0),
    st.floats(min_value=0.2, max_value=1.0),
    st.floats(min_value=0, max_value=0.1),
    st.sampled_from(["min", "max"]),
)
@settings(max_examples=300)
def test_a_large_real_worsening_always_fails(n_c, n_b, high, drop, tolerance, side):
    drop = min(drop, high)
    good, bad = math.floor(high * n_b), math.floor((high - drop) * n_c)
    o = rule(min=0.0, tolerance=tolerance) if side == "min" else rule(max=1.0, tolerance=tolerance)
    if side == "min":  # the baseline was high, the candidate is 20+ points lower
        candidate, baseline = Share(bad, n_c), Share(good, n_b)
    else:  # for a max objective worse is higher: mirror the shares
        candidate, baseline = Share(n_c - bad, n_c), Share(n_b - good, n_b)
    (judgement,) = judge_sides([o], [Result(o, (), candidate, "met")], [
        Result(o, (), baseline, "met")
    ])  # fmt: skip
    assert judgement.baseline_verdict == "regression"
    assert judgement.verdict == "fail"


@given(objectives(), st.data())
def test_samples_under_min_events_are_always_inconclusive(o, data):
    candidate = data.draw(shares(max_total=o.min_events - 1))
    baseline = data.draw(shares())
    (judgement,) = judge_sides([o], [Result(o, (), candidate, "met")], [
        Result(o, (), baseline, "met")
    ])  # fmt: skip
    assert judgement.objective_verdict == "inconclusive"
    assert judgement.baseline_verdict == "inconclusive"
    assert judgement.verdict == "inconclusive"


@given(objectives(), shares(), st.integers(min_value=0, max_value=1_000_000), st.booleans())
def test_a_zero_baseline_or_empty_data_never_crashes_and_stays_valid_json(o, cand, n_b, empty):
    baseline = Share(0, 0 if empty else n_b)
    cand_results = [] if empty else [Result(o, (), cand, "met")]
    (judgement,) = judge_sides([o], cand_results, [Result(o, (), baseline, "met")])
    body = json.loads(json.dumps(judgement.as_dict(), allow_nan=False))  # no NaN, no infinity
    assert body["verdict"] in ("pass", "fail", "inconclusive")
    ci = body["difference"]["ci95"]
    assert ci is None or -1 <= ci[0] <= ci[1] <= 1
