"""The one scheduler: APScheduler calling the plain job functions of collector/jobs.py.

Only one scheduler may run against a database. Every scheduler takes a lock first (a
PostgreSQL advisory lock, or a lock file beside the SQLite file); one that cannot get it
stands by and tries again at each tick, so a second process takes over if the first dies.
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

from collector.alerts import evaluate_alerts
from collector.demo import LiveFeed
from collector.jobs import feed_demo, import_spool, maintain_rollups
from collector.outbox import mail_enabled, mail_status, send_outbox
from collector.schema import Validator
from collector.store import Store

log = logging.getLogger("touchmetrics.scheduler")
ADVISORY_KEY = 0x746D_7363  # "tmsc": the scheduler's PostgreSQL advisory lock
SEND_INTERVAL_SECONDS = 10.0  # how often the sender looks for due mail; each waits its backoff


class SchedulerLock:
    """Held by at most one scheduler per database, for as long as its process lives."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._conn: Connection | None = None
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._file is not None

    def acquire(self) -> bool:
        """Take the lock if it is free; True when this process holds it."""
        if self.held:
            return True
        return self._acquire_file() if self.store.sqlite else self._acquire_advisory()

    def _acquire_advisory(self) -> bool:
        conn = self.store.engine.connect()
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
        conn.commit()
        if got:
            self._conn = conn
        else:
            conn.close()
        return bool(got)

    def _acquire_file(self) -> bool:
        database = make_url(str(self.store.engine.url)).database or "touchmetrics"
        handle = Path(f"{database}.scheduler.lock").open("a")  # noqa: SIM115 (held for life)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def release(self) -> None:
        if self._conn is not None:
            # A pooled connection outlives close(), and the lock lives as long as the session.
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            self._conn.commit()
            self._conn.close()
            self._conn = None
        if self._file is not None:
            self._file.close()
            self._file = None


def guarded(lock: SchedulerLock, job: Callable[[], bool], name: str) -> Callable[[], None]:
    """Run ``job`` only while this process holds the lock; log, never raise, on failure."""

    def run() -> None:
        if not lock.acquire():
            return
        try:
            job()
        except Exception:  # a failed run is retried at the next tick
            log.exception("job %s failed; it runs again at its next tick", name)

    return run


def build_scheduler(
    store: Store, *, blocking: bool = False, feed: LiveFeed | None = None
) -> tuple[BaseScheduler, SchedulerLock]:
    """A scheduler with the jobs the settings ask for, and the lock it runs under."""
    settings = store.settings
    validator = Validator(settings)
    lock = SchedulerLock(store)
    scheduler: BaseScheduler = BlockingScheduler() if blocking else BackgroundScheduler()
    jobs: list[tuple[str, float, Callable[[], bool]]] = [
        ("rollups", settings.rollup_interval_seconds, lambda: maintain_rollups(store)),
    ]
    if settings.spool_dir:
        spool = Path(settings.spool_dir)
        jobs.append(
            (
                "spool",
                settings.spool_interval_seconds,
                lambda: import_spool(store, validator, spool),
            )
        )
    if feed is not None:
        jobs.append(("demo", 1.0, lambda: feed_demo(feed, store, validator)))
    if settings.objectives:
        jobs.append(("alerts", settings.alert_interval_seconds, alerts_job(store)))
    if mail_enabled(settings):
        jobs.append(("mail", SEND_INTERVAL_SECONDS, lambda: send_outbox(store, now_us())))
    for name, seconds, job in jobs:
        # First run at once, so a fresh start shows data and spool files without a wait.
        options: dict[str, Any] = {
            "max_instances": 1, "coalesce": True, "id": name, "next_run_time": datetime.now(UTC),
        }  # fmt: skip
        scheduler.add_job(guarded(lock, job, name), "interval", seconds=seconds, **options)
    return scheduler, lock


def now_us() -> int:
    """The wall clock in microseconds: the alerts' `now` (event time) outside tests."""
    return time.time_ns() // 1000


def alerts_job(store: Store) -> Callable[[], bool]:
    """The alert evaluation at the wall clock; its first run says whether mail goes out."""
    said = False

    def run() -> bool:
        nonlocal said
        if not said:
            log.info(mail_status(store.settings))
            said = True
        return evaluate_alerts(store, now_us())

    return run
