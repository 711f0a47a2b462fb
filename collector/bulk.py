"""Bulk writes on PostgreSQL with COPY: the rows of a batch in one stream, not one
statement each.

psycopg's executemany sends every row as its own statement (pipelined), and a million
events spent most of their import there, in the driver's Python and the server's per
statement work. COPY sends the rows as one binary stream the server reads as it comes.

COPY cannot skip a row whose key is taken, so rows that may be stored already go into a
temporary staging table first and move on with one INSERT ... SELECT ... ON CONFLICT DO
NOTHING, which returns the keys it inserted: those are the new rows, whatever another
writer stored meanwhile. Rows move in code point order of their key, as Python sorts
them, so two writers inserting the same keys take their locks in the same order.

Staging writes every row twice. When the rows are most likely all new (an import's usual
batch), they are copied straight into the table inside a savepoint instead; a key already
taken undoes that copy alone, and the rows go through staging after all.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Float,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects import postgresql

from collector.errors import StoreError, driver_message

Row = tuple[Any, ...]
STAGING = "staging_{table}"  # a temporary table per table staged, emptied at commit


def copy_rows(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Row]) -> None:
    """Append ``rows`` (values in the order of ``columns``) to ``table`` with COPY."""
    if not rows:
        return
    with _driver(conn) as driver, driver.cursor() as cursor:
        _copy(cursor, table, columns, rows)


def copied_all(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Row]) -> bool:
    """Append every row to ``table`` with COPY, or none when a key is taken: False then."""
    if not rows:
        return True  # a batch of stored conversations only: no savepoint round trips
    with _driver(conn) as driver, driver.cursor() as cursor:
        return _copied_all(cursor, table, columns, rows)


def insert_new(
    conn: Connection, table: Table, rows: Sequence[Row], *, likely_new: bool = False
) -> set[str]:
    """Insert the rows (every column of ``table``, in order) whose key, the first column
    and the table's primary key, is not stored yet; return the keys inserted.

    A key another writer inserted and has not committed yet waits for that commit, then
    is not inserted; one it rolled back is inserted. With ``likely_new``, the rows must
    be in code point order of their key: they are first copied as they come."""
    if not rows:
        return set()
    names = [column.name for column in table.columns]
    key = sql.Identifier(names[0])
    staging = sql.Identifier(STAGING.format(table=table.name))
    target = sql.Identifier(table.name)
    with _driver(conn) as driver, driver.cursor() as cursor:
        if likely_new and _copied_all(cursor, table, names, rows):
            return {row[0] for row in rows}
        # Kept for the session and emptied at each commit, in place: a table made and
        # dropped per batch costs catalog writes, which small batches (HTTP) would feel.
        cursor.execute(
            sql.SQL(
                "CREATE TEMPORARY TABLE IF NOT EXISTS {} (LIKE {}) ON COMMIT DELETE ROWS"
            ).format(staging, target)
        )
        _copy(cursor, table, names, rows, into=staging)
        # Emptied as it is read, so a second call in one transaction starts from nothing.
        cursor.execute(
            sql.SQL(
                "WITH moved AS (DELETE FROM {staging} RETURNING *)"
                ' INSERT INTO {target} SELECT * FROM moved ORDER BY {key} COLLATE "C"'
                " ON CONFLICT ({key}) DO NOTHING RETURNING {key}"
            ).format(target=target, staging=staging, key=key)
        )
        inserted = {row[0] for row in cursor.fetchall()}
    return inserted


class Upsert:
    """An INSERT ... ON CONFLICT of every column of ``table`` whose rows travel as one
    array per column: one statement per batch, where executemany sends one per row (the
    hourly totals of a batch are thousands of rows). ``suffix`` is the ON CONFLICT clause."""

    def __init__(self, table: Table, suffix: str) -> None:
        dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
        names = ", ".join(f'"{column.name}"' for column in table.columns)
        arrays = ", ".join(f"%s::{column.type.compile(dialect)}[]" for column in table.columns)
        self.statement = (
            f'INSERT INTO "{table.name}" ({names}) SELECT * FROM unnest({arrays}){suffix}'
        )
        # psycopg dumps a list of one Python type only: a total may be an int or a float.
        self._floats = [isinstance(column.type, Float) for column in table.columns]

    def __call__(self, conn: Connection, rows: Sequence[Row]) -> None:
        """Insert or merge ``rows``, in their order (writers lock rows in key order)."""
        columns = [
            [float(value) for value in values] if is_float else list(values)
            for values, is_float in zip(zip(*rows, strict=True), self._floats, strict=True)
        ]
        conn.exec_driver_sql(self.statement, tuple(columns))


def _copied_all(cursor: Any, table: Table, columns: Sequence[str], rows: Sequence[Row]) -> bool:
    """Copy every row into ``table`` in a savepoint; False, with nothing copied, when a
    key is taken (stored, or by another writer that committed meanwhile)."""
    # Not driver.transaction(): as the first statement of a batch it would open and
    # commit a transaction of its own, outside the batch's.
    cursor.execute("SAVEPOINT copied_all")
    try:
        _copy(cursor, table, columns, rows)
    except psycopg.errors.UniqueViolation:
        cursor.execute("ROLLBACK TO SAVEPOINT copied_all")
        return False
    cursor.execute("RELEASE SAVEPOINT copied_all")
    return True


def _copy(
    cursor: Any,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Row],
    into: sql.Composable | None = None,
) -> None:
    """COPY ``rows`` into ``table`` (or ``into``, a table like it) in binary: the server
    parses no numbers and the driver formats none, less CPU on both sides of the 2 that an
    import shares with its reading process."""
    names = sql.SQL(", ").join(sql.Identifier(name) for name in columns)
    target = into or sql.Identifier(table.name)
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(target, names)
    with cursor.copy(statement) as copy:
        copy.set_types([_binary_type(table.c[name].type) for name in columns])
        for row in rows:
            copy.write_row(row)


_BINARY_TYPES = (  # most specific first: BigInteger is an Integer
    (BigInteger, "int8"),
    (SmallInteger, "int2"),
    (Integer, "int4"),
    (Float, "float8"),
    (Boolean, "bool"),
    (Text, "text"),
    (String, "varchar"),
)


def _binary_type(column_type: Any) -> str:
    for kind, name in _BINARY_TYPES:
        if isinstance(column_type, kind):
            return name
    raise TypeError(f"no binary COPY type for {column_type!r}")


@contextmanager
def _driver(conn: Connection) -> Iterator[psycopg.Connection[Any]]:
    """The psycopg connection under ``conn``; its errors become StoreError, as the store's
    own, and a connection they left broken is dropped from the pool."""
    driver = conn.connection.driver_connection
    if not isinstance(driver, psycopg.Connection):
        raise TypeError("bulk writes need a PostgreSQL connection through psycopg")
    try:
        yield driver
    except psycopg.Error as exc:
        if driver.closed:
            conn.invalidate(exc)
        problem = "unavailable" if isinstance(exc, psycopg.OperationalError) else "write failed"
        raise StoreError(f"database {problem}: {driver_message(exc)}") from exc
