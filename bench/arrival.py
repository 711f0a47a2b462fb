"""Arrival order: one file ingested in conversation order and shuffled, this tree against
an older revision, back to back (issue 13, item 2: shuffled at most 2x slower).

    .venv/bin/python bench/arrival.py                          # 1M events, against main
    .venv/bin/python bench/arrival.py --before HEAD~3 --events 100000 --runs 3

Each run is `touchmetrics ingest` into a fresh SQLite file (schema made beforehand by
`db upgrade`), from the revision's tree exported as bench/file_report.py does. The
shuffled file is random.Random(1).shuffle of the generated lines. It prints events/s, CPU
seconds and peak RSS of each and the ratios; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from file_report import exported, shuffled
from measure import CONFIG, OUT, REPO, generated, run_from


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="main", help="revision to compare against")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1, help="runs of each (median shown)")
    args = parser.parse_args()
    trees = {f"before ({args.before})": exported(args.before), "after (this tree)": REPO}
    ordered = generated(args.events)
    inputs = {"conversation order": ordered, "shuffled": shuffled(ordered)}
    print(
        f"{'code':<24} {'input':<20} {'events/s':>10} {'median s':>9} {'CPU s':>7} "
        f"{'peak RSS MiB':>13}"
    )
    for name, tree in trees.items():
        rates: dict[str, float] = {}
        cpus: dict[str, float] = {}
        for label, path in inputs.items():
            runs = [_ingest(tree, path) for _ in range(args.runs)]
            seconds, cpu = (statistics.median(r[i] for r in runs) for i in (0, 1))
            events, peak = runs[0][2], max(r[3] for r in runs)
            rates[label], cpus[label] = events / seconds, cpu
            print(
                f"{name:<24} {label:<20} {rates[label]:>10,.0f} {seconds:>9.1f} {cpu:>7.1f} "
                f"{peak:>13.1f}",
                flush=True,
            )
        ratio = rates["conversation order"] / rates["shuffled"]
        by_cpu = cpus["shuffled"] / cpus["conversation order"]
        print(
            f"  {name}: shuffled is {ratio:.2f}x slower than conversation order "
            f"({by_cpu:.2f}x the CPU time)",
            flush=True,
        )


def _ingest(tree: Path, path: Path) -> tuple[float, float, int, float]:
    """(wall s, CPU s of both processes, events stored, peak RSS MiB) of one ingest into a
    fresh SQLite file; on a loaded machine the CPU time moves less than the wall time."""
    db = OUT / "arrival.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    env = {"TOUCHMETRICS_DATABASE_URL": f"sqlite:///{db}"}
    config = ["--config", str(CONFIG)]
    run_from(tree, ["db", "upgrade", *config], env)
    print(f"ingest {path.name} from {tree.name}", file=sys.stderr, flush=True)
    seconds, cpu, peak, stdout = run_from(tree, ["ingest", *config, "--json", str(path)], env)
    return seconds, cpu, int(json.loads(stdout)["accepted"]), peak


if __name__ == "__main__":
    main()
