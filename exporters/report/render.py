"""Rendering a report dict. JSON is the contract; the others are views of the same numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import orjson

FORMATS = ("json", "table", "csv", "markdown")
DISTRIBUTIONS = ("first_response_seconds", "response_seconds", "resolution_seconds")
RATES = ("resolution_rate", "escalation_rate", "abandonment_rate")


def render(report: dict[str, Any], fmt: str, width: int = 160) -> str:
    """The report in a format; ``width`` is the terminal's, for the table."""
    renderers: dict[str, Callable[[dict[str, Any]], str]] = {
        "json": render_json,
        "table": lambda r: render_table(r, width),
        "csv": render_csv,
        "markdown": render_markdown,
    }
    return renderers[fmt](report)


def render_json(report: dict[str, Any]) -> str:
    return orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n"


def flatten(group: dict[str, Any]) -> dict[str, Any]:
    """One flat row per group: nested fields joined with '.', intervals as low and high."""
    row: dict[str, Any] = {}
    for key, value in group.items():
        if isinstance(value, dict):
            for sub, inner in value.items():
                if sub == "ci95":
                    row[f"{key}.ci95_low"] = inner[0] if inner else None
                    row[f"{key}.ci95_high"] = inner[1] if inner else None
                else:
                    row[f"{key}.{sub}"] = inner
        else:
            row[key] = value
    return row


def render_csv(report: dict[str, Any]) -> str:
    rows = [flatten(g) for g in report["groups"]]
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return out.getvalue()


def _ordered(report: dict[str, Any]) -> list[dict[str, Any]]:
    # AI next to human: AI groups first, then human, each sorted by name.
    groups = report["groups"]
    if report["group_by"] != "channel":
        return list(groups)
    return sorted(groups, key=lambda g: (g.get("kind") != "ai", g["channel"]))


def _heading(report: dict[str, Any], group: dict[str, Any]) -> str:
    key = group[report["group_by"]]
    if report["group_by"] == "channel":
        return f"{key} ({group.get('kind') or '?'})"
    return "(none)" if key is None else str(key)


def _pct(r: dict[str, Any]) -> str:
    if r["value"] is None:
        return "–"
    return f"{100 * r['value']:.1f}% [{interval(r['ci95'])}] n={r['n']}"


def interval(ci95: list[float]) -> str:
    """An interval in percent, with as many decimals as it takes for its ends to differ."""
    low, high = (100 * bound for bound in ci95)
    for decimals in range(3):
        text_low, text_high = f"{low:.{decimals}f}", f"{high:.{decimals}f}"
        if text_low != text_high:
            break
    return f"{text_low}–{text_high}"


def _secs(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 120:
        return f"{value:.1f}s"
    if value < 7200:
        return f"{value / 60:.1f}m"
    return f"{value / 3600:.1f}h"


def _dist(d: dict[str, Any]) -> str:
    if not d["n"]:
        return "–"
    return f"p50 {_secs(d['p50'])} · p90 {_secs(d['p90'])} (n={d['n']})"


def _csat(c: dict[str, Any]) -> str:
    if c["value"] is None:
        return "–"
    # The mean is of scores rescaled to 1–5 (DESIGN section 3), whatever scale was asked.
    return f"{100 * c['value']:.1f}% · mean {c['mean_score']:.2f} on 1–5 (n={c['responses']})"


ROWS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("conversations started", lambda g: str(g["conversations_started"])),
    ("segments ended", lambda g: str(g["segments"]["ended"])),
    ("resolution rate", lambda g: _pct(g["resolution_rate"])),
    ("escalation rate", lambda g: _pct(g["escalation_rate"])),
    ("abandonment rate", lambda g: _pct(g["abandonment_rate"])),
    ("first response", lambda g: _dist(g["first_response_seconds"])),
    ("response", lambda g: _dist(g["response_seconds"])),
    ("resolution time", lambda g: _dist(g["resolution_seconds"])),
    ("CSAT satisfied", lambda g: _csat(g["csat"])),
    ("reopened", lambda g: str(g["reopened"])),
)


def _matrix(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    groups = _ordered(report)
    header = ["metric"] + [_heading(report, g) for g in groups]
    body = [[name] + [cell(g) for g in groups] for name, cell in ROWS]
    return header, body


def _footer(report: dict[str, Any]) -> str:
    window = report["window"]
    span = f"{window['from'] or 'the beginning'} to {window['to'] or 'now'}"
    events = report["events"]
    text = (
        f"window: {span} · events: {events['accepted']} accepted, "
        f"{events['duplicates']} duplicate, {events['rejected']} rejected"
    )
    if report["anomalies"]:
        text += " · anomalies: " + ", ".join(f"{k} {v}" for k, v in report["anomalies"].items())
    return text


COMPACT: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("started", lambda g: str(g["conversations_started"])),
    ("ended", lambda g: str(g["segments"]["ended"])),
    ("resolved", lambda g: _short_pct(g["resolution_rate"])),
    ("escalated", lambda g: _short_pct(g["escalation_rate"])),
    ("abandoned", lambda g: _short_pct(g["abandonment_rate"])),
    ("first response p50 · p90", lambda g: _short_dist(g["first_response_seconds"])),
    ("CSAT (n)", lambda g: _short_csat(g["csat"])),
    ("reopened", lambda g: str(g["reopened"])),
)


def _short_pct(r: dict[str, Any]) -> str:
    return "–" if r["value"] is None else f"{100 * r['value']:.1f}% [{interval(r['ci95'])}]"


def _short_dist(d: dict[str, Any]) -> str:
    return "–" if not d["n"] else f"{_secs(d['p50'])} · {_secs(d['p90'])}"


def _short_csat(c: dict[str, Any]) -> str:
    return "–" if c["value"] is None else f"{100 * c['value']:.1f}% ({c['responses']})"


def render_table(report: dict[str, Any], width: int = 160) -> str:
    """A terminal table ``width`` columns wide at most.

    Groups are columns while they fit side by side; beyond that each group is a row with the
    headline figures, so 68 channels still read as a list rather than a 2,000-column wall.
    """
    from rich.console import Console
    from rich.table import Table

    header, body = _matrix(report)
    wide = 30 + 34 * (len(header) - 1)
    table = Table(title=f"touchmetrics by {report['group_by']}", title_justify="left")
    if wide <= width:
        for index, name in enumerate(header):
            table.add_column(name, justify="left" if index == 0 else "right")
        for row in body:
            table.add_row(*row)
    else:
        table.add_column(report["group_by"], justify="left")
        for name, _cell in COMPACT:
            table.add_column(name, justify="right")
        for group in _ordered(report):
            table.add_row(_heading(report, group), *(cell(group) for _n, cell in COMPACT))
    console = Console(file=io.StringIO(), width=min(width, max(100, wide)))
    console.print(table)
    console.print(_footer(report))
    out = console.file
    assert isinstance(out, io.StringIO)
    return out.getvalue()


def render_markdown(report: dict[str, Any]) -> str:
    header, body = _matrix(report)
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines) + "\n\n" + _footer(report) + "\n"
