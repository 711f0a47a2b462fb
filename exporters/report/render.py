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


def render(report: dict[str, Any], fmt: str) -> str:
    renderers: dict[str, Callable[[dict[str, Any]], str]] = {
        "json": render_json,
        "table": render_table,
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
    low, high = r["ci95"]
    return f"{100 * r['value']:.1f}% [{100 * low:.0f}–{100 * high:.0f}] n={r['n']}"


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
    return f"{100 * c['value']:.1f}% · {c['mean_score']:.2f}/5 (n={c['responses']})"


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


def render_table(report: dict[str, Any]) -> str:
    from rich.console import Console
    from rich.table import Table

    header, body = _matrix(report)
    table = Table(title=f"touchmetrics by {report['group_by']}", title_justify="left")
    for index, name in enumerate(header):
        table.add_column(name, justify="left" if index == 0 else "right")
    for row in body:
        table.add_row(*row)
    console = Console(file=io.StringIO(), width=max(100, 30 + 34 * (len(header) - 1)))
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
