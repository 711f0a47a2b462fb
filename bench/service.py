"""`touchmetrics serve` in a child process on a free loopback port, for the HTTP benchmarks."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml
from codebase import REPO as REPO
from codebase import touchmetrics

OUT = REPO / "bench" / "out"
CLI = touchmetrics()
CHANNELS = {  # the demo generator's channels
    "bot-chat": {"kind": "ai", "title": "Web chat assistant"},
    "voice-bot": {"kind": "ai", "title": "Voice bot"},
    "chat": {"kind": "human", "title": "Live chat agents"},
    "phone": {"kind": "human", "title": "Phone agents"},
    "email": {"kind": "human", "title": "Email support"},
}


def write_config(path: Path, database_url: str, **settings: Any) -> Path:
    path.write_text(
        yaml.safe_dump({"channels": CHANNELS, "database_url": database_url, **settings})
    )
    return path


def child_env() -> dict[str, str]:
    # TOUCHMETRICS_* from the caller's shell would override the benchmark's config file.
    return {k: v for k, v in os.environ.items() if not k.startswith("TOUCHMETRICS_")}


@contextmanager
def serving(config: Path, log: Path, timeout: float = 60.0, code: Path = REPO) -> Iterator[str]:
    """Start the service of the checkout at `code` on port 0; yield its base URL once
    /readyz answers 200."""
    command = [str(touchmetrics(code)), "serve", "--config", str(config)]
    command += ["--host", "127.0.0.1", "--port", "0"]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=child_env())
    try:
        base = _wait_ready(proc, log, timeout)
        yield base
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(proc: subprocess.Popen[bytes], log: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        found = re.search(r"serving on (http://\S+)", log.read_text(errors="replace"))
        if found and _ready(found.group(1)):
            return found.group(1)
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-2000:]
    raise SystemExit(f"touchmetrics serve did not become ready (exit {proc.poll()}):\n{tail}")


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def run_cli(args: Sequence[str], code: Path = REPO) -> None:
    """`touchmetrics ARGS` of the checkout at `code`, stopping the benchmark when it fails."""
    command = [str(touchmetrics(code)), *args]
    done = subprocess.run(command, env=child_env(), capture_output=True, check=False)
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace")[-2000:]
        raise SystemExit(f"failed ({done.returncode}): touchmetrics {' '.join(args)}\n{detail}")


def timed_together(jobs: Sequence[Callable[[threading.Barrier], object]]) -> float:
    """Run each job in a thread of its own; a job gets ready (connects), waits at the barrier
    it is given, then works. The seconds from the barrier's release to the last job's end."""
    start = threading.Barrier(len(jobs) + 1)
    threads = [threading.Thread(target=job, args=(start,)) for job in jobs]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks, as numpy's default (and the report)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


@contextmanager
def postgres_database(server_url: str, prefix: str = "tm_bench") -> Iterator[str]:
    """A database of our own on the PostgreSQL server, dropped afterwards."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
