"""Small line charts drawn on the server as inline SVG, for the overview page.

No script and no library in the browser: each chart is a few polylines, one per channel,
over the window's slots, with the scale's top and the window's ends written on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from markupsafe import Markup, escape

WIDTH, HEIGHT = 320, 96
LEFT, RIGHT, TOP, BOTTOM = 4, 4, 14, 16
COLOURS = ("#1f5fbf", "#d9730d", "#2e7d32", "#8e24aa", "#c62828", "#00838f")


def colour(index: int) -> str:
    return COLOURS[index % len(COLOURS)]


def line_chart(
    lines: Mapping[str, Sequence[float | None]],
    fmt: Callable[[float], str],
    ends: tuple[int, int],
    title: str,
    top: float | None = None,
) -> Markup:
    """An SVG chart of each line over equal slots; a None point leaves a gap.

    ``fmt`` writes the scale's top (``top``, else the highest point); ``ends`` are the
    window's first and last instants (microseconds), written under the axis.
    """
    values = [v for points in lines.values() for v in points if v is not None]
    high = top if top is not None else max(values, default=0.0)
    high = high or 1.0
    slots = max((len(points) for points in lines.values()), default=1)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<rect x="{LEFT}" y="{TOP}" width="{inner_w}" height="{inner_h}" fill="#fafbfc" '
        'stroke="#e3e6eb"/>',
        f'<text x="{LEFT}" y="10" class="scale">{escape(fmt(high))}</text>',
        f'<text x="{LEFT}" y="{HEIGHT - 3}" class="scale">{_clock(ends[0])}</text>',
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 3}" class="scale" text-anchor="end">'
        f"{_clock(ends[1])}</text>",
    ]
    for index, (name, points) in enumerate(lines.items()):
        for run in _runs(points):
            coords = " ".join(
                f"{LEFT + inner_w * (i + 0.5) / slots:.1f},"
                f"{TOP + inner_h * (1 - min(v, high) / high):.1f}"
                for i, v in run
            )
            shape = "polyline" if len(run) > 1 else "circle"
            if shape == "circle":
                x, y = coords.split(",")
                parts.append(f'<circle cx="{x}" cy="{y}" r="2" fill="{colour(index)}"/>')
            else:
                parts.append(
                    f'<polyline points="{coords}" fill="none" stroke="{colour(index)}" '
                    f'stroke-width="1.8"><title>{escape(name)}</title></polyline>'
                )
    parts.append("</svg>")
    return Markup("".join(parts))


def _runs(points: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """The stretches of consecutive points that have a value."""
    runs: list[list[tuple[int, float]]] = [[]]
    for index, value in enumerate(points):
        if value is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((index, value))
    return [run for run in runs if run]


def _clock(us: int) -> str:
    moment = datetime.fromtimestamp(us / 1e6, UTC)
    return moment.strftime("%d %b %H:%M")
