"""The scheduler's PostgreSQL advisory lock when its connection dies: real `touchmetrics
scheduler` processes, a backend ended with pg_terminate_backend, SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text

from collector.connect import make_engine
from collector.scheduler import ADVISORY_KEY, SchedulerLock
from collector.store import Store
from tests.conftest import POSTGRES_ONLY, TOUCHMETRICS, wait_for

LOCK_HOLDERS = (
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = :k"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def lock_holders(database_url: str, terminate: bool = False) -> list[int]:
    """Backends holding the scheduler's advisory lock on this database (ended if asked)."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            pids = list(conn.execute(text(LOCK_HOLDERS), {"k": ADVISORY_KEY}).scalars())
            for pid in pids if terminate else []:
                conn.execute(text("SELECT pg_terminate_backend(:p, 5000)"), {"p": pid})  # waits
        return pids
    finally:
        engine.dispose()


@POSTGRES_ONLY
def test_a_scheduler_whose_connection_died_knows_it_lost_the_lock(settings):
    first, second = (
        SchedulerLock(Store(make_engine(settings.database_url), settings)) for _ in "12"
    )
    try:
        assert (first.acquire(), second.acquire()) == (True, False)
        assert len(lock_holders(settings.database_url, terminate=True)) == 1
        assert second.acquire()  # the server let the lock go with the session
        assert not first.acquire()  # and the first one knows it no longer holds it
        assert not first.held
    finally:
        for lock in (first, second):
            lock.release()
            lock.store.close()
    assert lock_holders(settings.database_url) == []


class SchedulerProcess:
    """A `touchmetrics scheduler` child, its stderr in a file."""

    def __init__(self, config: Path, log: Path) -> None:
        self.log = log
        with log.open("wb") as err:
            self.process = subprocess.Popen(
                [*TOUCHMETRICS, "scheduler", "--config", str(config)],
                stdout=subprocess.DEVNULL, stderr=err,
            )  # fmt: skip

    def said(self, text_: str) -> bool:
        return text_ in self.log.read_text(errors="replace")

    def holds(self) -> bool:
        """Whether its last word on the lock is that it holds it."""
        said = self.log.read_text(errors="replace")
        states = re.findall(r"took the scheduler lock|held by this process|standing by", said)
        return bool(states) and states[-1] != "standing by"

    def stop(self) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        return self.process.returncode, self.log.read_text(errors="replace")


@pytest.fixture
def schedulers(tmp_path: Path, database_url: str) -> Iterator[Callable[..., SchedulerProcess]]:
    """Start `touchmetrics scheduler` processes: ``schedulers(**settings)``."""
    started: list[SchedulerProcess] = []

    def start(**settings: Any) -> SchedulerProcess:
        config = tmp_path / f"scheduler-{len(started)}.yaml"
        config.write_text(yaml.safe_dump({"database_url": database_url, **settings}))
        started.append(SchedulerProcess(config, tmp_path / f"scheduler-{len(started)}.log"))
        return started[-1]

    yield start
    for process in started:
        process.stop()


@POSTGRES_ONLY
def test_a_second_scheduler_takes_over_when_the_first_loses_its_database_connection(
    schedulers: Callable[..., SchedulerProcess], database_url: str
):
    first = schedulers(rollup_interval_seconds=0.3)
    wait_for(first.holds, seconds=30)
    second = schedulers(rollup_interval_seconds=0.3)
    wait_for(lambda: second.said("standing by"), seconds=30)
    assert len(lock_holders(database_url, terminate=True)) == 1
    wait_for(lambda: first.said("lost the scheduler lock"), seconds=10)
    # One of them took it again, and only one: the other stands by.
    wait_for(lambda: len(lock_holders(database_url)) == 1 and first.holds() != second.holds())
    for process in (first, second):
        code, err = process.stop()
        assert (code, "Traceback" in err) == (0, False), err
        assert "touchmetrics scheduler stopped" in err
    assert lock_holders(database_url) == []


@POSTGRES_ONLY
def test_a_scheduler_stops_cleanly_on_sigterm_after_its_connection_died(
    schedulers: Callable[..., SchedulerProcess], database_url: str
):
    scheduler = schedulers(rollup_interval_seconds=3600)  # no tick to notice the loss
    wait_for(scheduler.holds, seconds=30)
    assert len(lock_holders(database_url, terminate=True)) == 1
    code, err = scheduler.stop()
    assert (code, "Traceback" in err) == (0, False), err
    assert "touchmetrics scheduler stopped" in err
