"""Running the real command line in a fresh child and measuring it.

Each run is its own process, reaped with ``os.wait4`` so its peak RSS is its own
(``RUSAGE_CHILDREN`` would report the largest child of the whole benchmark).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
CLI = REPO / ".venv" / "bin" / "touchmetrics"
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


def cli() -> str:
    """The installed console script, or the module when the script is missing."""
    return str(CLI) if CLI.exists() else f"{sys.executable} -m collector.cli"


def run(args: Sequence[str], env: Mapping[str, str] | None = None) -> Run:
    """Run ``touchmetrics ARGS`` and measure it; stop the benchmark if it fails."""
    command = [*cli().split(), *args]
    child_env = {**os.environ, **(env or {})}
    with open(OUT / "last-stderr.txt", "wb") as errors:
        started = time.perf_counter()
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=errors, env=child_env, cwd=REPO
        )
        stdout = proc.stdout.read() if proc.stdout else b""
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if proc.returncode != 0:
        detail = (OUT / "last-stderr.txt").read_text(errors="replace")[-2000:]
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(command)}\n{detail}")
    # ru_maxrss is in KiB on Linux.
    return Run(seconds, usage.ru_maxrss / 1024, stdout.decode())


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
