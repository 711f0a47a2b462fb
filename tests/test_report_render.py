"""The report's human views: figures shown to the precision that tells them apart."""

from __future__ import annotations

import pytest

from exporters.report.render import _csat, _pct, interval


@pytest.mark.parametrize(
    ("ci95", "shown"),
    [
        ([0.2065, 1.0], "21–100"),
        ([0.8705, 0.8714], "87.05–87.14"),
        ([0.8704, 0.8749], "87.0–87.5"),
        ([0.0, 0.0001], "0.00–0.01"),
    ],
)
def test_an_interval_is_shown_with_enough_decimals_for_its_ends_to_differ(
    ci95: list[float], shown: str
):
    assert interval(ci95) == shown


def test_a_rate_shows_its_value_interval_and_n():
    rate = {"value": 0.871, "n": 100_000, "ci95": [0.8689, 0.8730]}
    assert _pct(rate) == "87.1% [86.9–87.3] n=100000"


def test_the_csat_mean_says_it_is_on_the_one_to_five_scale():
    csat = {"value": 0.75, "mean_score": 4.1, "responses": 40}
    assert _csat(csat) == "75.0% · mean 4.10 on 1–5 (n=40)"
