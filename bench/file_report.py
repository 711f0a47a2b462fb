"""`report` straight from a file, this tree against an older revision, back to back.

    .venv/bin/python bench/file_report.py                    # 1M events, against main
    .venv/bin/python bench/file_report.py --before HEAD~3 --sizes 100000 --runs 3

The older revision's `collector` and `exporters` are exported with `git archive` into
bench/out/rev-<commit>/ and run from there with this virtualenv's Python, so the two
differ only in their code. Each input is read in its generated (conversation) order and
shuffled. It prints wall and CPU time and peak RSS; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import CONFIG, OUT, REPO, generated, run_from

Figures = tuple[float, float, float, str]  # wall s, CPU s, peak RSS MiB, the report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="main", help="revision to compare against")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--runs", type=int, default=1, help="runs of each (median shown)")
    args = parser.parse_args()
    trees = {f"before ({args.before})": exported(args.before), "after (this tree)": REPO}
    print(f"{'code':<24} {'input':<34} {'median s':>9} {'CPU s':>7} {'peak RSS MiB':>13}")
    for size in args.sizes:
        for path in (generated(size), shuffled(generated(size))):
            runs: dict[str, list[Figures]] = {name: [] for name in trees}
            for _ in range(args.runs):  # alternated, so drift in the machine hits both
                for name, tree in trees.items():
                    runs[name].append(_report(tree, path))
            for name, done in runs.items():
                seconds, cpu = (statistics.median(r[i] for r in done) for i in (0, 1))
                peak = max(r[2] for r in done)
                print(
                    f"{name:<24} {path.name:<34} {seconds:>9.2f} {cpu:>7.2f} {peak:>13.1f}",
                    flush=True,
                )
            outputs = [done[0][3] for done in runs.values()]
            print(f"  same report: {_same(*outputs)}")


def exported(revision: str) -> Path:
    commit = _git("rev-parse", revision).strip()
    tree = OUT / f"rev-{commit[:12]}"
    if not tree.exists():
        archive = subprocess.run(
            ["git", "archive", commit, "collector", "exporters"],
            cwd=REPO, capture_output=True, check=True,
        ).stdout  # fmt: skip
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(tree, filter="data")
    return tree


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout


def shuffled(path: Path) -> Path:
    """The same lines in a random (seeded) order: arrival order must not matter."""
    out = path.with_name(f"shuffled-{path.name}")
    if not out.exists():
        lines = path.read_bytes().splitlines(keepends=True)
        random.Random(1).shuffle(lines)
        out.write_bytes(b"".join(lines))
    return out


def _report(tree: Path, path: Path) -> Figures:
    """(wall seconds, CPU seconds, peak RSS MiB, the JSON report) of one run from ``tree``."""
    print(f"report {path.name} from {tree.name}", file=sys.stderr, flush=True)
    args = ["report", "--config", str(CONFIG), "--format", "json", str(path)]
    return run_from(tree, args, {"TOUCHMETRICS_DATABASE_URL": f"sqlite:///{OUT / 'unused.db'}"})


def _same(before: str, after: str) -> str:
    """Whether two reports agree; means may differ in the last digits, as they were
    summed in arrival order before and exactly since."""
    if before == after:
        return "identical"
    drift = _drift(json.loads(before), json.loads(after), "")
    return "differs: " + drift if drift else "identical but for means in the last digits"


def _drift(a: object, b: object, where: str) -> str:
    """Where two reports first differ, ignoring means that agree to 1e-12."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return where or "/"
        pairs = [(a[k], b[k], f"{where}/{k}") for k in a]
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return where
        pairs = [(x, y, f"{where}[{i}]") for i, (x, y) in enumerate(zip(a, b, strict=True))]
    else:
        near = isinstance(a, float) and isinstance(b, float) and abs(a - b) <= 1e-12 * abs(a)
        return "" if a == b or (near and where.endswith(("/mean", "/mean_score"))) else where
    return next((d for x, y, w in pairs if (d := _drift(x, y, w))), "")


if __name__ == "__main__":
    main()
