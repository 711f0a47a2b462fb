"""Bounded waits on PostgreSQL: a server that stops answering gives an error, not a hang.

The server's own ``statement_timeout`` ends a statement that runs too long, but when the
server cannot be reached at all (a dead network path, a frozen host, a proxy that stopped
forwarding while it holds the socket open) that error never arrives, and TCP keeps a
quiet socket open indefinitely: every thread that touches the database would wait forever.
So the client gives up on its own too: each wait for the server's answer is bounded a
little beyond the statement timeout, and the connection is then closed (its state is
unknown), which SQLAlchemy takes as a disconnect and drops from its pool.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from math import ceil
from typing import Any, NamedTuple, TypeVar

import psycopg
from psycopg.abc import PQGen
from psycopg.errors import _WaitTimeout
from sqlalchemy import Connection

from collector.settings import Settings

RV = TypeVar("RV")
GRACE = 2.0  # seconds beyond statement_timeout, for the server's own error to arrive


class Timeouts(NamedTuple):
    """How long to wait for a connection, a statement and a pool ping, in seconds."""

    connect: int  # libpq counts whole seconds, 2 at least
    statement: float | None  # None: no limit (schema migrations)
    ping: float


class AnsweringConnection(psycopg.Connection[Any]):
    """A psycopg connection that stops waiting for a server that does not answer."""

    answer_timeout: float | None = None  # any wait for the server, in seconds
    ping_timeout: float | None = None  # the pool's liveness ping

    def wait(self, gen: PQGen[RV], interval: float = 0.1, timeout: float | None = None) -> RV:
        limit = timeout if timeout is not None else self._limit()
        try:
            return super().wait(gen, interval, limit)
        except _WaitTimeout:
            # Half a protocol exchange was left on the socket: the connection is unusable.
            self.pgconn.finish()
            raise psycopg.OperationalError(
                f"the database did not answer within {limit:g} s"
            ) from None

    def _limit(self) -> float | None:
        # SQLAlchemy's pool pings in autocommit mode: a live server answers a ping at once,
        # so it gets the short limit, and a dead one is found before a request waits the
        # whole statement limit. Otherwise only the probe engine works in autocommit, and
        # its limits for a ping and a statement are the same.
        return self.ping_timeout if self.autocommit else self.answer_timeout


def connect(timeouts: Timeouts, cargs: Any, cparams: dict[str, Any]) -> AnsweringConnection:
    """A connection with the server's statement_timeout set and the client's waits bounded."""
    cparams["connect_timeout"] = timeouts.connect
    if timeouts.statement is not None:
        limit = f"-c statement_timeout={max(1, round(timeouts.statement * 1000))}"
        cparams["options"] = f"{cparams.get('options', '')} {limit}".strip()
    conn = AnsweringConnection.connect(*cargs, **cparams)
    if timeouts.statement is not None:
        conn.answer_timeout = timeouts.statement + GRACE
    conn.ping_timeout = timeouts.ping
    return conn


@contextmanager
def unhurried(conn: Connection) -> Iterator[None]:
    """No statement limit, server or client side, for the rest of this transaction:
    for schema migrations and maintenance that may rightly take long."""
    dbapi = conn.connection.dbapi_connection
    if not isinstance(dbapi, AnsweringConnection):
        yield
        return
    conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
    before, dbapi.answer_timeout = dbapi.answer_timeout, None
    try:
        yield
    finally:
        dbapi.answer_timeout = before


def timeouts_of(settings: Settings) -> Timeouts:
    """The timeouts the settings ask for, for the service's main engine."""
    connect = settings.database_connect_timeout_seconds
    return Timeouts(connect, settings.database_statement_timeout_seconds, float(connect))


def probe_timeouts_of(settings: Settings) -> Timeouts:
    """Short ones, for the engine behind /metrics and /readyz."""
    probe = settings.probe_timeout_seconds
    return Timeouts(
        min(settings.database_connect_timeout_seconds, max(2, ceil(probe))), probe, probe
    )
