"""One benchmark against two checkouts, alternated (before, after, before, after…), side by side.

    .venv/bin/python bench/compare.py stream --before /work/tm-before --after . -- --quick
    .venv/bin/python bench/compare.py stream --rounds 3 -- --events 50000 --runs 1

The benchmark script is this checkout's bench/BENCH.py, run with `--code DIR` for each side
(the service and command line of DIR/.venv) and `--figures FILE`; the runs alternate so that
drift in a shared machine's load falls on both sides. Arguments after `--` go to the script.
It prints each figure's median per side and after/before; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from codebase import REPO

BENCH = REPO / "bench"
SIDES = ("before", "after")


def main() -> None:
    args = _arguments()
    script = BENCH / f"{args.bench}.py"
    if not script.exists() or "--figures" not in _help(script):
        raise SystemExit(f"{script.name} does not take --code and --figures: it cannot be compared")
    codes = {"before": args.before.resolve(), "after": args.after.resolve()}
    found: dict[str, dict[str, list[float]]] = {side: {} for side in SIDES}
    for round_ in range(1, args.rounds + 1):
        for side in SIDES:
            print(f"round {round_}/{args.rounds}: {side} ({codes[side]})", file=sys.stderr)
            for name, value in _run(script, codes[side], args.rest).items():
                found[side].setdefault(name, []).append(value)
    _print(args, codes, found)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench", help="a script of bench/ without .py, e.g. stream")
    parser.add_argument("--before", type=Path, default=Path("/work/tm-before"))
    parser.add_argument("--after", type=Path, default=REPO)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side, alternated")
    ours, rest = _split(sys.argv[1:])
    args = parser.parse_args(ours)
    args.rest = rest
    return args


def _split(argv: list[str]) -> tuple[list[str], list[str]]:
    """Our arguments, and the script's after `--`."""
    if "--" not in argv:
        return argv, []
    at = argv.index("--")
    return argv[:at], argv[at + 1 :]


def _help(script: Path) -> str:
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True)
    return done.stdout


def _run(script: Path, code: Path, rest: list[str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch:
        figures = Path(scratch) / "figures.json"
        command = [sys.executable, str(script), "--code", str(code), "--figures", str(figures)]
        done = subprocess.run([*command, *rest], check=False)  # its own output shows as it runs
        if done.returncode != 0:
            raise SystemExit(f"{script.name} failed ({done.returncode}) with --code {code}")
        figures_found: dict[str, float] = json.loads(figures.read_text())
        return figures_found


def _print(
    args: argparse.Namespace, codes: dict[str, Path], found: dict[str, dict[str, list[float]]]
) -> None:
    print(f"\n{args.bench}: {args.rounds} round(s) alternated, median per side")
    for side in SIDES:
        print(f"  {side}: {codes[side]} ({_commit(codes[side])})")
    width = max(len(name) for side in SIDES for name in found[side]) + 2
    print(f"\n{'figure':<{width}} {'before':>12} {'after':>12} {'after/before':>13}")
    for name in dict.fromkeys([*found["before"], *found["after"]]):
        before, after = (_median(found[side].get(name)) for side in SIDES)
        ratio = f"{after / before:.2f}" if before and after is not None else ""
        print(f"{name:<{width}} {_show(before):>12} {_show(after):>12} {ratio:>13}")


def _median(values: list[float] | None) -> float | None:
    return statistics.median(values) if values else None


def _show(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _commit(code: Path) -> str:
    """The checkout's commit, and whether files differ from it: figures name what they measured."""
    git = ["git", "-C", str(code)]
    head = subprocess.run([*git, "log", "-1", "--format=%h %s"], capture_output=True, text=True)
    changed = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"],
                             capture_output=True, text=True)  # fmt: skip
    mark = " + uncommitted changes" if changed.stdout.strip() else ""
    return (head.stdout.strip() or "not a git checkout") + mark


if __name__ == "__main__":
    main()
