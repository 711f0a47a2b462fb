"""The check as JSON (the ``touchmetrics.check/1`` contract), a terminal table or Markdown."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable

import orjson

from collector.check import Check, Judgement
from exporters.check.words import (
    describe,
    difference_cell,
    group_label,
    reason,
    share_cell,
)

FORMATS = ("table", "json", "markdown")
COLUMNS = ("objective", "group", "candidate", "baseline", "difference", "verdict")


def render(check: Check, fmt: str) -> str:
    renderers: dict[str, Callable[[Check], str]] = {
        "json": render_json,
        "table": render_table,
        "markdown": render_markdown,
    }
    return renderers[fmt](check)


def render_json(check: Check) -> str:
    return orjson.dumps(check.as_dict(), option=orjson.OPT_INDENT_2).decode() + "\n"


def _cells(j: Judgement) -> list[str]:
    return [
        j.objective.display_title,
        group_label(j),
        share_cell(j.candidate),
        share_cell(j.baseline),
        difference_cell(j),
        j.verdict,
    ]


def summary_line(check: Check) -> str:
    """``verdict: fail (1 fail, 2 pass, 1 inconclusive)``."""
    counts = Counter(j.verdict for j in check.judgements)
    parts = [f"{counts[v]} {v}" for v in ("fail", "inconclusive", "pass") if counts[v]]
    return f"verdict: {check.verdict} ({', '.join(parts) or 'nothing to judge'})"


def input_lines(check: Check) -> list[str]:
    lines = [f"candidate: {check.candidate.description}"]
    if check.baseline is not None:
        lines.append(f"baseline: {check.baseline.description}")
    return lines


def render_table(check: Check) -> str:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title="touchmetrics check", title_justify="left")
    for index, name in enumerate(COLUMNS):
        # Numbers never wrap; a long title does.
        table.add_column(name, justify="left" if index < 2 else "right", no_wrap=index > 0)
    for j in check.judgements:
        cells = _cells(j)
        cells[0] += f"\n{describe(j.objective)}"
        table.add_row(*(Text(c) for c in cells))  # Text: a title is never read as markup
    # A fixed width: the same bytes on a terminal, in a CI log and in the README.
    console = Console(file=io.StringIO(), width=140, color_system=None)
    console.print(table)
    out = console.file
    assert isinstance(out, io.StringIO)
    reasons = [
        f"{j.verdict}: {j.objective.name} {group_label(j)}: {reason(j)}" for j in check.judgements
    ]
    lines = [*out.getvalue().splitlines(), *reasons, summary_line(check), *input_lines(check)]
    return "".join(line.rstrip() + "\n" for line in lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def render_markdown(check: Check) -> str:
    """A heading with the verdict, one table row per result with its reason, the inputs."""
    header = [*COLUMNS, "reason"]
    lines = [
        f"### touchmetrics check: {check.verdict}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + " --- |" * len(header),
    ]
    for j in check.judgements:
        row = [_md(c) for c in _cells(j)]
        row[0] += f"<br>`{_md(describe(j.objective))}`"
        row[-1] = f"**{j.verdict}**"
        lines.append("| " + " | ".join([*row, _md(reason(j))]) + " |")
    lines += ["", summary_line(check), ""]
    lines += [f"- {_md(line)}" for line in input_lines(check)]
    return "\n".join(lines) + "\n"
