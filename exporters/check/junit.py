"""The check as a JUnit XML report: a test case per objective and group.

A fail is a ``failure`` and an inconclusive result is ``skipped``, each with its reason, so
any CI that reads JUnit shows what regressed and what could not be told.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from collector.check import Check, Judgement
from exporters.check.words import describe, difference_cell, group_label, reason, share_cell

SUITE = "touchmetrics check"
FAILING = ("breached", "regression")


def junit_xml(check: Check) -> bytes:
    """The JUnit document: one suite, one test case per result."""
    failures = sum(j.verdict == "fail" for j in check.judgements)
    skipped = sum(j.verdict == "inconclusive" for j in check.judgements)
    counts = {
        "tests": str(len(check.judgements)),
        "failures": str(failures),
        "errors": "0",
        "skipped": str(skipped),
    }
    root = ET.Element("testsuites", {"name": SUITE, **counts})
    suite = ET.SubElement(root, "testsuite", {"name": SUITE, **counts})
    for j in check.judgements:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"touchmetrics.check.{j.objective.name}",
            name=f"{j.objective.name} [{group_label(j)}]",
        )
        why = reason(j)
        if j.verdict == "fail":
            kinds = [v for v in (j.objective_verdict, j.baseline_verdict) if v in FAILING]
            failure = ET.SubElement(case, "failure", message=why, type=" and ".join(kinds))
            failure.text = _details(j)
        elif j.verdict == "inconclusive":
            ET.SubElement(case, "skipped", message=why)
        out = ET.SubElement(case, "system-out")
        out.text = f"{describe(j.objective)}: {why}"
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _details(j: Judgement) -> str:
    lines = [
        f"objective: {j.objective.display_title} ({j.objective.name}): {describe(j.objective)}",
        f"group: {group_label(j)}",
        f"candidate: {share_cell(j.candidate)}",
    ]
    if j.baseline is not None:
        lines += [f"baseline: {share_cell(j.baseline)}", f"difference: {difference_cell(j)}"]
    lines.append(
        f"verdict: against the objective {j.objective_verdict}, "
        f"against the baseline {j.baseline_verdict or 'not asked'}"
    )
    return "\n".join(lines)


def write_junit(check: Check, path: Path) -> None:
    path.write_bytes(junit_xml(check))
