"""The database URL checked, engines tuned per backend, and the driver-level SQL of the hot
inserts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

from sqlalchemy import URL, Engine, Table, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from collector import deadlines
from collector.deadlines import Timeouts
from collector.errors import ConfigError

PAGE_SIZE = 16384  # bytes per page of a new SQLite store
URL_SHAPE = "dialect+driver://user:password@host:port/database"
ESCAPE_HINT = "percent-encode @, :, / and ? in a password or a database name (@ as %40)"


DEFAULT_TIMEOUTS = Timeouts(connect=5, statement=15.0, ping=5.0)  # as Settings' defaults


def make_engine(
    url: str, timeouts: Timeouts = DEFAULT_TIMEOUTS, *, pool: int = 5, autocommit: bool = False
) -> Engine:
    """An engine tuned for the backend: WAL and immediate write locks on SQLite; bounded
    waits on PostgreSQL (collector.deadlines). ``pool`` connections are kept, as many
    more opened at need; ``autocommit`` spares PostgreSQL reads their BEGIN and ROLLBACK."""
    parsed = database_url(url)
    statement = timeouts.statement or DEFAULT_TIMEOUTS.statement
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": statement})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = create_engine(
        parsed,
        pool_pre_ping=True,
        pool_size=pool,
        max_overflow=pool,
        pool_timeout=timeouts.ping,
        isolation_level="AUTOCOMMIT" if autocommit else None,
    )
    event.listen(engine, "do_connect", partial(_postgres_connect, timeouts))
    return engine


def _postgres_connect(
    timeouts: Timeouts, _dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]
) -> Any:
    return deadlines.connect(timeouts, cargs, cparams)


def database_url(url: str) -> URL:
    """The `database_url` setting parsed and checked, its dialect and driver loadable.

    A bad URL raises a ConfigError naming `database_url` that quotes nothing of the URL but
    its scheme: in a password with an unescaped ``@``, what follows it is read as the host
    and port, so no part after the scheme can be shown safely.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"`database_url`: not a database URL ({URL_SHAPE})") from exc
    except ValueError:
        # int() quotes the port text, where an unescaped password may have spilled.
        raise ConfigError(f"`database_url`: the port is not a number; {ESCAPE_HINT}") from None
    if parsed.password is not None and "@" in _after_password(url):
        raise ConfigError(f"`database_url`: an unescaped @ in the password; {ESCAPE_HINT}")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise ConfigError("`database_url`: the port is not between 1 and 65535")
    try:
        parsed.get_dialect().import_dbapi()
    except ArgumentError as exc:
        raise ConfigError(
            f"`database_url`: unknown database dialect {parsed.drivername!r} "
            "(touchmetrics runs on sqlite and postgresql+psycopg)"
        ) from exc
    except ImportError as exc:
        raise ConfigError(
            f"`database_url`: the driver of {parsed.drivername!r} is not installed "
            f"(no module {exc.name!r})"
        ) from exc
    return parsed


def _after_password(url: str) -> str:
    """What follows the @ that ends the password, up to the query. A user name holds no
    ``:`` (an @ in it is allowed), and SQLAlchemy ends the password at its first @."""
    after = url.split("://", 1)[1]
    end = after.index("@", after.index(":"))
    return after[end + 1 :].split("?", 1)[0]


def safe_url(url: str) -> str:
    """The database URL to show in a banner, log or error: the password hidden."""
    try:
        return database_url(url).render_as_string(hide_password=True)
    except ConfigError:
        return "(an invalid database_url)"


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's begin event issue BEGIN IMMEDIATE: a writer takes the lock up
    # front instead of failing with "database is locked" when it upgrades mid-transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # Only a new, empty file takes this; an existing store keeps its page size. With 16 KiB
    # pages instead of 4 KiB, a million-event import spent 1.3 s committing instead of
    # 2.2 s and 5 % less inserting (the events' rows are some 300 bytes each).
    cursor.execute(f"PRAGMA page_size={PAGE_SIZE}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # Writers lock up front; reads stay deferred so that, under WAL, a scrape or a report
    # reads the last commit instead of queueing behind an import for the lock timeout.
    reading = conn.get_execution_options().get("touchmetrics_read", False)
    conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


def driver_insert(
    engine: Engine, table: Table, columns: Sequence[str] = (), *, rows: int = 1, suffix: str = ""
) -> str:
    """An INSERT in the driver's own paramstyle, for ``exec_driver_sql`` with tuples.

    The two hot inserts (events, facts: about one row each per event) go this way because
    compiling and binding dict rows through SQLAlchemy Core cost more than the database
    work itself. SQLite's driver takes ``?``; psycopg takes ``%s``. With ``rows`` above
    one it inserts that many rows from one flat tuple; ``suffix`` ends the statement
    (``ON CONFLICT ...``).
    """
    names = columns or [c.name for c in table.columns]
    one = "(" + ", ".join([placeholder(engine)] * len(names)) + ")"
    quote = engine.dialect.identifier_preparer.quote
    columns_sql = ", ".join(quote(n) for n in names)
    values = ", ".join([one] * rows)
    return f"INSERT INTO {quote(table.name)} ({columns_sql}) VALUES {values}{suffix}"


def placeholder(engine: Engine) -> str:
    return {"qmark": "?", "format": "%s", "pyformat": "%s"}[engine.dialect.paramstyle]


CHUNK = 900  # ids per IN (...) clause, under every backend's parameter limit


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    """``items`` in consecutive slices of ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
