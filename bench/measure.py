"""Running the real command line in a fresh child and measuring it.

Each run is its own process, reaped with ``os.wait4`` so its peak RSS is its own
(``RUSAGE_CHILDREN`` would report the largest child of the whole benchmark).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codebase import REPO as REPO
from codebase import touchmetrics

OUT = REPO / "bench" / "out"
CLI = touchmetrics()
CONFIG = REPO / "examples" / "demo.yaml"


@dataclass(slots=True)
class Run:
    """One finished child: wall seconds, peak RSS in MiB and what it printed."""

    seconds: float
    peak_mib: float
    stdout: str


@dataclass(slots=True)
class Figures:
    """Repeated runs of one scenario."""

    runs: list[Run] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def peak_mib(self) -> float:
        return max(r.peak_mib for r in self.runs)


def repeat(times: int, once: Callable[[], Run]) -> Figures:
    """`once` run `times` times, each run's wall time shown as it ends."""
    figures = Figures()
    for _ in range(times):
        figures.runs.append(once())
        print(f"  {figures.runs[-1].seconds:7.2f} s", file=sys.stderr, flush=True)
    return figures


def cli(code: Path = REPO) -> str:
    """The console script installed at `code`, or this checkout's module when it is missing."""
    script = touchmetrics(code)
    if script.exists() or code != REPO:
        return str(script)
    return f"{sys.executable} -m collector.cli"


def run(
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    ok: Sequence[int] = (0,),
    code: Path = REPO,
) -> Run:
    """Run ``touchmetrics ARGS`` of the checkout at `code` and measure it; stop the benchmark
    if it exits with another code than ``ok`` (a check that fails exits 1 on purpose)."""
    command = [*cli(code).split(), *args]
    child_env = {**os.environ, **(env or {})}
    with open(OUT / "last-stderr.txt", "wb") as errors:
        started = time.perf_counter()
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=errors, env=child_env, cwd=REPO
        )
        tree = TreeMemory(proc.pid)
        tree.start()
        stdout = proc.stdout.read() if proc.stdout else b""
        tree.stop()  # before the reap, while the process is still there to read
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if proc.returncode not in ok:
        detail = (OUT / "last-stderr.txt").read_text(errors="replace")[-2000:]
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(command)}\n{detail}")
    # ru_maxrss is in KiB on Linux; it is the largest single process of the tree.
    return Run(seconds, max(usage.ru_maxrss / 1024, tree.peak_mib), stdout.decode())


def run_from(
    tree: Path, args: Sequence[str], env: Mapping[str, str]
) -> tuple[float, float, float, str]:
    """Run ``python -m collector.cli ARGS`` with the code of ``tree`` (an exported revision,
    or REPO): (wall seconds, CPU seconds, peak RSS MiB, what it printed). On a shared
    machine the CPU time moves less than the wall time."""
    command = [sys.executable, "-m", "collector.cli", *args]
    child_env = {**os.environ, **env, "PYTHONPATH": str(tree)}  # before site-packages
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=tree, env=child_env)
    memory = TreeMemory(proc.pid)
    memory.start()
    stdout = proc.stdout.read() if proc.stdout else b""
    memory.stop()
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)} (from {tree})")
    cpu = usage.ru_utime + usage.ru_stime
    # Sampled, not ru_maxrss: a child forked from this process keeps this process's peak
    # as its own across exec, and a benchmark that shuffled a 1M-line file holds 400 MiB.
    return seconds, cpu, memory.peak_mib, stdout.decode()


class TreeMemory(threading.Thread):
    """Samples the resident memory of a process and its descendants, added together.

    wait4 reports the peak of the largest single process; an import that prepares
    batches in a second process uses two at once, and both count.
    """

    def __init__(self, pid: int, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak_mib = 0.0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.every):
            self.peak_mib = max(self.peak_mib, sum(map(_rss_mib, _tree(self.pid))))

    def stop(self) -> None:
        self._done.set()
        self.join()


def _tree(root: int) -> list[int]:
    found = [root]
    for pid in found:
        for children in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                found.extend(int(child) for child in children.read_text().split())
            except OSError:
                continue  # gone since the listing
    return found


def _rss_mib(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def generated(events: int) -> Path:
    """The synthetic input of about ``events`` events, generated once into bench/out."""
    path = OUT / f"events-{events}.jsonl"
    if not path.exists():
        partial = path.with_suffix(".partial")
        run(["demo", "generate", "--events", str(events), "--seed", "1", "-o", str(partial)])
        partial.rename(path)
    return path


def line_count(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def ingest_into(path: Path, url: str, code: Path = REPO) -> Run:
    """`db upgrade`, then `ingest` of ``path`` into ``url`` by the checkout ``code``, timed;
    stop the benchmark unless every record was accepted."""
    env = {"TOUCHMETRICS_DATABASE_URL": url}
    run(["db", "upgrade", "--config", str(CONFIG)], env, code=code)
    print(f"ingest {path.name} -> {url.split('://')[0]}", file=sys.stderr, flush=True)
    result = run(["ingest", "--config", str(CONFIG), "--json", str(path)], env, code=code)
    summary = json.loads(result.stdout)
    if summary["accepted"] != summary["records"]:
        raise SystemExit(f"unexpected ingest summary: {summary}")
    return result
