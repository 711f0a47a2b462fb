"""Running real programs in tests: free ports, bounded waits, clean stops.

Shared by the end-to-end tests that start `touchmetrics serve`, Prometheus and Alertmanager
as subprocesses on loopback, as a user runs them.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

STARTUP_SECONDS = 20.0


def free_port() -> int:
    """A port free right now; Prometheus needs a number up front (the service takes 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(
    what: str,
    probe: Callable[[], Any],
    timeout: float,
    log: Path,
    proc: subprocess.Popen[bytes] | None = None,
) -> Any:
    """Poll `probe` until it returns something truthy; fail naming `what` and the log tail."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            what = f"{what}, but the process exited with {proc.returncode}"
            break
        try:
            last = probe()
        except httpx.HTTPError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
    pytest.fail(f"gave up within {timeout:.0f} s waiting for {what} (last: {last!r})\n{tail}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it does not stop in time; always reaped."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def clean_env() -> dict[str, str]:
    # A developer's TOUCHMETRICS_DATABASE_URL would override the test's config file.
    return {k: v for k, v in os.environ.items() if not k.startswith("TOUCHMETRICS_")}


def touchmetrics(*args: str) -> list[str]:
    """The command line of this environment's `touchmetrics` with ``args``."""
    return [str(Path(sys.executable).with_name("touchmetrics")), *args]


@contextmanager
def running(command: Sequence[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A program started with its output in ``log``, stopped on the way out."""
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=clean_env())
    try:
        yield proc
    finally:
        stop(proc)


@contextmanager
def serving(config: Path, log: Path) -> Iterator[str]:
    """`touchmetrics serve` on a free loopback port; yields its base URL once ready."""
    command = touchmetrics("serve", "--config", str(config), "--host", "127.0.0.1", "--port", "0")
    with running(command, log) as proc:
        # Port 0: the startup lines name the port the kernel picked.
        found = wait_for(
            "the service's startup line", lambda: _served_url(log), STARTUP_SECONDS, log, proc
        )
        ready = lambda: httpx.get(f"{found}/readyz", timeout=2).status_code == 200  # noqa: E731
        wait_for("/readyz", ready, STARTUP_SECONDS, log, proc)
        yield found


def _served_url(log: Path) -> str | None:
    match = re.search(r"serving on (http://\S+)", log.read_text(errors="replace"))
    return match.group(1) if match else None


@contextmanager
def ready_server(command: Sequence[str], base: str, log: Path, what: str) -> Iterator[str]:
    """A Prometheus or Alertmanager at ``base``, yielded once its /-/ready answers 200."""
    with running(command, log) as proc:
        ready = lambda: httpx.get(f"{base}/-/ready", timeout=2).status_code == 200  # noqa: E731
        wait_for(f"{what} /-/ready", ready, STARTUP_SECONDS, log, proc)
        yield base


@contextmanager
def prometheus_scraping(service: str, tmp_path: Path, **config: Any) -> Iterator[str]:
    """A real Prometheus scraping ``service`` every second and evaluating every second, with
    ``config`` (rule_files, alerting) added to its configuration; yields its base URL."""
    import yaml

    path = tmp_path / "prometheus.yml"
    interval = {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
    targets = [{"targets": [service.removeprefix("http://")]}]
    scrape = [{"job_name": "touchmetrics", "static_configs": targets}]
    path.write_text(yaml.safe_dump({"global": interval, **config, "scrape_configs": scrape}))
    base = f"http://127.0.0.1:{free_port()}"
    command = [
        "prometheus",
        f"--config.file={path}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address={base.removeprefix('http://')}",
    ]
    with ready_server(command, base, tmp_path / "prometheus.log", "Prometheus") as ready:
        yield ready
