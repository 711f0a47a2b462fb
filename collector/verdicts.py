"""The CI check's statistics (DESIGN section 15): verdicts from intervals, never from points.

A share's interval is the Wilson interval of collector/evaluation.py (``Share.ci95``); the
difference against a baseline is Newcombe's hybrid score interval (his method 10, 1998),
built from the two Wilson intervals. Small samples give ``inconclusive``, never a guess.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

from collector.evaluation import Share
from collector.objectives import Objective

ObjectiveVerdict = Literal["met", "breached", "inconclusive"]
BaselineVerdict = Literal["pass", "regression", "inconclusive"]
Verdict = Literal["pass", "fail", "inconclusive"]


def difference(candidate: Share, baseline: Share) -> tuple[float, list[float]] | None:
    """p_cand - p_base with Newcombe's hybrid score 95 % interval; None when a side is empty."""
    p_c, p_b = candidate.value, baseline.value
    ci_c, ci_b = candidate.ci95, baseline.ci95
    if p_c is None or p_b is None or ci_c is None or ci_b is None:
        return None
    (l_c, u_c), (l_b, u_b) = ci_c, ci_b
    d = p_c - p_b
    low = d - math.sqrt((p_c - l_c) ** 2 + (u_b - p_b) ** 2)
    high = d + math.sqrt((u_c - p_c) ** 2 + (p_b - l_b) ** 2)
    # Both limits lie in [-1, 1] in exact arithmetic; clamp the last bit of rounding.
    return d, [max(-1.0, low), min(1.0, high)]


def against_objective(objective: Objective, candidate: Share) -> ObjectiveVerdict:
    """met when the whole Wilson interval is inside the bound, breached when all outside."""
    ci = candidate.ci95
    if candidate.total < objective.min_events or ci is None:
        return "inconclusive"
    low, high = ci
    if objective.min is not None:
        if low >= objective.min:
            return "met"
        return "breached" if high < objective.min else "inconclusive"
    assert objective.max is not None
    if high <= objective.max:
        return "met"
    return "breached" if low > objective.max else "inconclusive"


def against_baseline(
    objective: Objective, candidate: Share, baseline: Share
) -> tuple[BaselineVerdict, tuple[float, list[float]] | None]:
    """The baseline verdict and the difference it rests on (None when a side is empty).

    Worse means lower for a ``min`` objective and higher for a ``max`` one; a regression is
    a worsening beyond ``tolerance`` that the whole interval agrees on.
    """
    diff = difference(candidate, baseline)
    small = min(candidate.total, baseline.total) < objective.min_events
    if diff is None or small:
        return "inconclusive", diff
    low, high = diff[1]
    tolerance = objective.tolerance
    if objective.min is not None:
        if high < -tolerance:
            return "regression", diff
        return ("pass" if low >= -tolerance else "inconclusive"), diff
    if low > tolerance:
        return "regression", diff
    return ("pass" if high <= tolerance else "inconclusive"), diff


def combine(objective: ObjectiveVerdict, baseline: BaselineVerdict | None) -> Verdict:
    """fail when breached or a regression; else inconclusive when either part is; else pass."""
    if objective == "breached" or baseline == "regression":
        return "fail"
    if objective == "inconclusive" or baseline == "inconclusive":
        return "inconclusive"
    return "pass"


def run_verdict(verdicts: Iterable[Verdict]) -> Verdict:
    """fail when any fails, else inconclusive when any is (or nothing was judged), else pass."""
    seen = set(verdicts)
    if "fail" in seen:
        return "fail"
    if "inconclusive" in seen or not seen:
        return "inconclusive"
    return "pass"


def exit_code(verdict: Verdict, fail_on_inconclusive: bool = False) -> int:
    """0 for pass or inconclusive, 1 for fail (and for inconclusive when asked)."""
    if verdict == "fail" or (verdict == "inconclusive" and fail_on_inconclusive):
        return 1
    return 0
