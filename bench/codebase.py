"""Which copy of touchmetrics a benchmark measures, and the figures it hands to bench/compare.py.

Comparing two versions back to back runs the same benchmark script against each version's
own installed command (`--code DIR`), so the figures differ by the code under test alone; the
script writes its figures as JSON (`--figures FILE`) for compare.py to set side by side.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def touchmetrics(code: Path = REPO) -> Path:
    """The console script installed in the virtual environment of the checkout at `code`."""
    return code / ".venv" / "bin" / "touchmetrics"


def add_comparison_arguments(parser: argparse.ArgumentParser) -> None:
    """`--code DIR` and `--figures FILE`, the two options bench/compare.py passes."""
    parser.add_argument(
        "--code",
        type=_checkout,
        default=REPO,
        metavar="DIR",
        help="measure the touchmetrics checkout at DIR (its .venv/bin/touchmetrics);"
        " default: this one",
    )
    parser.add_argument(
        "--figures", type=Path, metavar="FILE", help="also write the figures as JSON to FILE"
    )


def write_figures(path: Path | None, figures: Mapping[str, float]) -> None:
    """Figures by name (say what and the unit: "sqlite 1 client 10-event events/s")."""
    if path is not None:
        path.write_text(json.dumps(dict(figures), indent=1) + "\n")


def _checkout(value: str) -> Path:
    code = Path(value).resolve()
    if not touchmetrics(code).exists():
        raise argparse.ArgumentTypeError(f"{touchmetrics(code)} is missing: run make in {code}")
    return code
