"""Bulk writes on PostgreSQL with COPY: the rows of a batch in one stream, not one
statement each.

psycopg's executemany sends every row as its own statement (pipelined), and a million
events spent most of their import there, in the driver's Python and the server's per
statement work. COPY sends the rows as one stream of text the server parses itself.

COPY cannot skip a row whose key is taken, so rows that may be stored already go into a
temporary staging table first and move on with one INSERT ... SELECT ... ON CONFLICT DO
NOTHING, which returns the keys it inserted: those are the new rows, whatever another
writer stored meanwhile. Rows move in code point order of their key, as Python sorts
them, so two writers inserting the same keys take their locks in the same order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Connection, Table

from collector.errors import StoreError, driver_message

Row = tuple[Any, ...]
STAGING = "staging_{table}"  # a temporary table per table staged, emptied at commit


def copy_rows(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Row]) -> None:
    """Append ``rows`` (values in the order of ``columns``) to ``table`` with COPY."""
    if not rows:
        return
    with _driver(conn) as driver, driver.cursor() as cursor:
        _copy(cursor, sql.Identifier(table.name), columns, rows)


def insert_new(conn: Connection, table: Table, rows: Sequence[Row]) -> set[str]:
    """Insert the rows (every column of ``table``, in order) whose key, the first column
    and the table's primary key, is not stored yet; return the keys inserted.

    A key another writer inserted and has not committed yet waits for that commit, then
    is not inserted; one it rolled back is inserted."""
    if not rows:
        return set()
    names = [column.name for column in table.columns]
    key = sql.Identifier(names[0])
    staging = sql.Identifier(STAGING.format(table=table.name))
    target = sql.Identifier(table.name)
    with _driver(conn) as driver, driver.cursor() as cursor:
        # Kept for the session and emptied at each commit, in place: a table made and
        # dropped per batch costs catalog writes, which small batches (HTTP) would feel.
        cursor.execute(
            sql.SQL(
                "CREATE TEMPORARY TABLE IF NOT EXISTS {} (LIKE {}) ON COMMIT DELETE ROWS"
            ).format(staging, target)
        )
        _copy(cursor, staging, names, rows)
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


def _copy(cursor: Any, table: sql.Composable, columns: Sequence[str], rows: Sequence[Row]) -> None:
    names = sql.SQL(", ").join(sql.Identifier(name) for name in columns)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(table, names)
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


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
