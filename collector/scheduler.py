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
from sqlalchemy.exc import SQLAlchemyError

from collector.alerts import evaluate_alerts
from collector.demo import LiveFeed
from collector.errors import StoreError, driver_message
from collector.jobs import feed_demo, import_spool, maintain_rollups
from collector.outbox import mail_enabled, mail_status, send_outbox
from collector.schema import Validator
from collector.store import Store

log = logging.getLogger("touchmetrics.scheduler")
ADVISORY_KEY = 0x746D_7363  # "tmsc": the scheduler's PostgreSQL advisory lock
SEND_INTERVAL_SECONDS = 10.0  # how often the sender looks for due mail; each waits its backoff


class SchedulerLock:
    """Held by at most one scheduler per database, for as long as its process lives.

    On PostgreSQL the lock lives as long as the session that took it: each ``acquire``
    asks the server whether that session still holds it, and a lock whose connection was
    lost is given up (the server has already released it, and another scheduler may have
    taken it), then tried again like any free lock.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._conn: Connection | None = None
        self._file: IO[str] | None = None
        self._standing_by = False  # logged once per wait, not at every tick

    @property
    def held(self) -> bool:
        """Whether this process took the lock and has not found it lost since."""
        return self._conn is not None or self._file is not None

    def acquire(self) -> bool:
        """True when this process holds the lock, taking it if it is free."""
        if self._file is not None or (self._conn is not None and self._still_held()):
            return True
        try:
            got = self._acquire_file() if self.store.sqlite else self._acquire_advisory()
        except SQLAlchemyError as exc:
            log.warning("cannot reach the database for the scheduler lock: %s", driver_message(exc))
            return False
        if got:
            log.info("took the scheduler lock; running the jobs")
        elif not self._standing_by:
            log.info("another scheduler holds the lock; standing by")
        self._standing_by = not got
        return got

    def _still_held(self) -> bool:
        assert self._conn is not None
        try:
            held = self._conn.execute(_HOLDS_IT, {"k": ADVISORY_KEY}).scalar()
            self._conn.commit()
        except SQLAlchemyError as exc:
            reason = f"its database connection failed: {driver_message(exc)}"
        else:
            if held:
                return True
            reason = "the database no longer lists it"
        log.warning("lost the scheduler lock (%s); standing by", reason)
        self._drop_connection()
        return False

    def _acquire_advisory(self) -> bool:
        conn = self.store.engine.connect()
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY})
            taken = bool(got.scalar())
            conn.commit()
        except BaseException:
            conn.invalidate()
            conn.close()
            raise
        if taken:
            self._conn = conn
        else:
            conn.close()
        return taken

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
        """Let the lock go; never raises, whatever became of the database."""
        self._drop_connection()
        if self._file is not None:
            self._file.close()
            self._file = None

    def _drop_connection(self) -> None:
        # Closing the session is what releases an advisory lock, and it works whether or
        # not the connection is still alive; the connection does not go back to the pool.
        if self._conn is not None:
            self._conn.invalidate()
            self._conn.close()
            self._conn = None


# The session's own advisory lock on a one-bigint key appears with classid 0, objsubid 1.
_HOLDS_IT = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND classid = 0 AND objid = :k AND objsubid = 1)"
)


def guarded(lock: SchedulerLock, job: Callable[[], bool], name: str) -> Callable[[], None]:
    """Run ``job`` only while this process holds the lock; log, never raise, on failure."""

    def run() -> None:
        if not lock.acquire():
            return
        try:
            job()
        except (StoreError, SQLAlchemyError) as exc:  # an outage: no traceback every tick
            log.warning("job %s failed (%s); it runs again at its next tick", name, _said(exc))
        except Exception:  # a failed run is retried at the next tick
            log.exception("job %s failed; it runs again at its next tick", name)

    return run


def _said(exc: Exception) -> str:
    return driver_message(exc) if isinstance(exc, SQLAlchemyError) else str(exc)


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
