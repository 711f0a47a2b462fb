"""A mock-up of a dashboard's layout as SVG, drawn from its JSON model (gridPos, titles).

Grafana cannot run where this project is built, so the README shows this drawing instead of
a screenshot: every panel where Grafana would put it, with its title, its kind and legends.

    python -m dashboards.mockup dashboards/grafana/dashboards/touchmetrics-overview.json \\
        docs/overview-dashboard.svg
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

COLUMN = 40  # pixels per grid column: 24 columns, 960 pixels
ROW = 30  # pixels per grid row, as Grafana draws them
MARGIN = 16
HEADER = 74
GAP = 4
TYPES = {"timeseries": "time series", "stat": "stat", "heatmap": "heatmap"}


def render(model: dict[str, Any]) -> str:
    """The SVG document for one dashboard model."""
    panels = model.get("panels", [])
    bottom = max((p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels), default=0)
    width, height = 24 * COLUMN + 2 * MARGIN, HEADER + bottom * ROW + 2 * MARGIN
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Inter, Helvetica, Arial, sans-serif">',
        f'<rect width="{width}" height="{height}" fill="#f4f5f5"/>',
        _text(MARGIN, 30, model.get("title", ""), 20, "#1d2330", bold=True),
        _text(MARGIN, 50, _variables(model), 12, "#5b6472"),
        _text(
            MARGIN, 66,
            "Mock-up drawn from the dashboard JSON (gridPos, titles, legends): "
            "Grafana itself cannot run where this was built.",
            11, "#8a6d00",
        ),
    ]  # fmt: skip
    for panel in panels:
        parts.append(_row(panel, width) if panel["type"] == "row" else _panel(panel))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _variables(model: dict[str, Any]) -> str:
    names = [v.get("label") or v["name"] for v in model.get("templating", {}).get("list", [])]
    shown = [n for n, v in zip(names, model.get("templating", {}).get("list", []), strict=True)
             if v.get("hide", 0) != 2]  # fmt: skip
    return "Variables: " + ", ".join(shown) if shown else ""


def _box(panel: dict[str, Any]) -> tuple[int, int, int, int]:
    pos = panel["gridPos"]
    x = MARGIN + pos["x"] * COLUMN + GAP
    y = HEADER + MARGIN + pos["y"] * ROW + GAP
    return x, y, pos["w"] * COLUMN - 2 * GAP, pos["h"] * ROW - 2 * GAP


def _row(panel: dict[str, Any], width: int) -> str:
    _, y, _, _ = _box(panel)
    return _text(MARGIN + GAP, y + 18, "⌄ " + panel.get("title", ""), 14, "#1d2330", bold=True)


def _panel(panel: dict[str, Any]) -> str:
    x, y, w, h = _box(panel)
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    steps = defaults.get("thresholds", {}).get("steps", [])
    judged = len(steps) > 1
    parts = [
        f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="4" fill="#ffffff" stroke="#d8dbe0"/>',
        _text(x + 8, y + 18, _fit(panel.get("title", ""), w - 16, 12), 12, "#1d2330", bold=True),
    ]
    if panel["type"] == "stat" and judged:
        sign = "≥" if steps[0]["color"] == "red" else "≤"
        parts.append(
            _text(x + 8, y + h - 22, f"share {sign} {steps[1]['value']:.0%}", 18, "#1d2330")
        )
        parts.append(_area(x + 8, y + 26, w - 16, 6, "#56a64b"))
    elif panel["type"] == "stat":
        parts.append(_text(x + 8, y + h - 22, "value", 18, "#1d2330"))
    else:
        parts.append(_sketch(panel, x, y + 26, w, h - 48, steps if judged else []))
    legends = ", ".join(t.get("legendFormat", "") for t in panel.get("targets", []))
    caption = f"{TYPES.get(panel['type'], panel['type'])} · {defaults.get('unit', '')} · {legends}"
    parts.append(_text(x + 8, y + h - 6, _fit(caption, w - 16, 10), 10, "#5b6472"))
    return "\n".join(parts)


def _sketch(panel: dict[str, Any], x: int, y: int, w: int, h: int, steps: list[Any]) -> str:
    """A schematic plot area: bands for an objective's bound, a few sample lines or cells."""
    left, inner = x + 8, w - 16
    parts = [_area(left, y, inner, h, "#fafbfc")]
    if steps:
        cut = y + h * (1 - steps[1]["value"])
        parts += [
            _area(left, cut, inner, y + h - cut, _tint(steps[0]["color"])),
            _area(left, y, inner, cut - y, _tint(steps[1]["color"])),
            f'<line x1="{left}" y1="{cut:.0f}" x2="{left + inner}" y2="{cut:.0f}" '
            'stroke="#e02f44" stroke-dasharray="6 4"/>',
        ]
    if panel["type"] == "heatmap":
        for i in range(24):
            for j in range(6):
                cell = _area(
                    left + i * inner / 24, y + j * h / 6, inner / 24 - 1, h / 6 - 1, "#ff9830"
                )
                shade = 0.15 + 0.7 * ((i * 7 + j * 13) % 10) / 10
                parts.append(cell.replace("/>", f' opacity="{shade:.2f}"/>'))
        return "\n".join(parts)
    colours = ("#73bf69", "#5794f2", "#f2cc0c", "#b877d9")
    for index in range(min(4, len(panel.get("targets", [])))):
        wiggle = [0.3 + 0.12 * index + 0.08 * ((k * (index + 3)) % 4) / 3 for k in range(12)]
        points = " ".join(
            f"{left + k * inner / 11:.0f},{y + h * f:.0f}" for k, f in enumerate(wiggle)
        )
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colours[index]}" stroke-width="2"/>'
        )
    return "\n".join(parts)


def _area(x: float, y: float, w: float, h: float, fill: str) -> str:
    return f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{fill}"/>'


def _tint(colour: str) -> str:
    return {"red": "#fbe3e6", "green": "#e4f3e2"}.get(colour, "#fafbfc")


def _fit(text: str, width: int, size: int) -> str:
    most = max(4, int(width / (size * 0.58)))
    return text if len(text) <= most else text[: most - 1] + "…"


def _text(x: float, y: float, text: str, size: int, colour: str, bold: bool = False) -> str:
    weight = ' font-weight="600"' if bold else ""
    return f'<text x="{x}" y="{y}" font-size="{size}" fill="{colour}"{weight}>{escape(text)}</text>'


def main(argv: list[str]) -> int:
    """``python -m dashboards.mockup MODEL.json OUT.svg``."""
    source, out = (Path(a) for a in argv)
    out.write_text(render(json.loads(source.read_text(encoding="utf-8"))), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
