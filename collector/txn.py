"""Write transactions on a store for the modules beside store.py (alerts, outbox), with
database errors converted to StoreError at this boundary. They read with Store.reading."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from collector.errors import StoreError, driver_message
from collector.store import Store


@contextmanager
def writing(store: Store) -> Iterator[Connection]:
    """One write transaction, committed at the end; SQLite takes its write lock up front."""
    try:
        with store.engine.begin() as conn:
            yield conn
    except OperationalError as exc:
        raise StoreError(f"database unavailable: {driver_message(exc)}") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"database write failed: {driver_message(exc)}") from exc


def upsert(store: Store, table: Table) -> Any:
    """An INSERT of the store's dialect, which takes ``on_conflict_do_nothing``."""
    return sqlite_insert(table) if store.sqlite else pg_insert(table)
