"""`touchmetrics check` of two logs straight from files: time and peak memory (printed).

    .venv/bin/python bench/check.py                  # two logs of 1M events, median of 3 runs
    .venv/bin/python bench/check.py --sizes 100000   # smaller logs
    .venv/bin/python bench/check.py --runs 1

The baseline is `demo generate --seed 1`, the candidate `--seed 2 --containment 0.35` (a
worse bot), both into bench/out/; the objectives are those of examples/check. For scale it
also times a check of the candidate alone and `report` of the same file. It asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import OUT, REPO, Figures, generated, line_count, repeat, run

OBJECTIVES = REPO / "examples" / "check" / "touchmetrics.yaml"


def worse(events: int) -> Path:
    """The candidate of about ``events`` events: a bot that resolves less, generated once."""
    path = OUT / f"worse-{events}.jsonl"
    if not path.exists():
        partial = path.with_suffix(".partial")
        run([
            "demo", "generate", "--events", str(events), "--seed", "2",
            "--containment", "0.35", "-o", str(partial),
        ])  # fmt: skip
        partial.rename(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, int, Figures]] = []
    for size in args.sizes:
        baseline, candidate = generated(size), worse(size)
        events = line_count(baseline) + line_count(candidate)
        check = ["check", "--config", str(OBJECTIVES), "--format", "json"]
        scenarios: list[tuple[str, int, list[str]]] = [
            ("check two logs", events, [*check, "--candidate", str(candidate),
                                        "--baseline", str(baseline)]),
            ("check one log", line_count(candidate), [*check, "--candidate", str(candidate)]),
            ("report one log", line_count(candidate),
             ["report", "--config", str(OBJECTIVES), "--format", "json", str(candidate)]),
        ]  # fmt: skip
        for name, count, command in scenarios:
            rows.append((name, count, repeat(args.runs, lambda c=command: run(c, ok=(0, 1)))))
    _print(rows, args.runs)


def _print(rows: list[tuple[str, int, Figures]], runs: int) -> None:
    print(f"\ntouchmetrics check: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"wall time is the median of {runs} run(s); peak RSS is the largest of them\n")
    header = f"{'scenario':<16} {'events read':>12} {'median s':>9} {'peak RSS MiB':>13}"
    print(header)
    print("-" * len(header))
    for name, events, figures in rows:
        print(f"{name:<16} {events:>12,} {figures.seconds:>9.2f} {figures.peak_mib:>13.1f}")


if __name__ == "__main__":
    main()
