"""The check on GitHub Actions: a workflow command per result that does not pass, and the
Markdown table appended to the job's step summary."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from collector.check import Check
from exporters.check.render import render_markdown
from exporters.check.words import group_label, reason


def _data(text: str) -> str:
    # GitHub's escaping of a command's message: '%', CR and LF.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    # A property value also escapes ':' and ','.
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_commands(check: Check) -> str:
    """``::error`` for each fail and ``::warning`` for each inconclusive result."""
    lines = []
    for j in check.judgements:
        if j.verdict == "pass":
            continue
        command = "error" if j.verdict == "fail" else "warning"
        title = f"touchmetrics check {j.verdict}: {j.objective.display_title} {group_label(j)}"
        lines.append(f"::{command} title={_property(title)}::{_data(reason(j))}")
    return "".join(line + "\n" for line in lines)


def append_step_summary(check: Check, env: Mapping[str, str] | None = None) -> Path | None:
    """Append the Markdown table to ``$GITHUB_STEP_SUMMARY``; None when it is not set."""
    target = (os.environ if env is None else env).get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(render_markdown(check) + "\n")
    return path
