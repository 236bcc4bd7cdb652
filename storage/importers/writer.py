"""Bulk writers used by every importer: keyed upserts and append-only inserts, counted.

They speak to the DB-API cursor through SQLAlchemy's connection (parameterised SQL only) because the ORM's
per-row bookkeeping would cap imports far below the rate a million-row activity export needs.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from storage.db import json_dumps, mark, marks

BATCH_ROWS = 5000


@dataclass
class Counts:
    """How many rows an import inserted, updated or left unchanged."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0  # rows whose key came again later in the same batch: the later row wins
    created: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """Rows read and written (or found unchanged)."""
        return self.inserted + self.updated + self.unchanged + self.duplicates


def insert_ignoring_conflicts(conn: Connection, table: str, columns: Sequence[str], rows: list[tuple]) -> int:
    """Insert rows, skipping those whose natural key exists already; returns how many were new."""
    if not rows:
        return 0
    names = ", ".join(columns)
    if conn.dialect.name == "sqlite":
        sql = f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({marks(conn, len(columns))})"
    else:
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks(conn, len(columns))}) ON CONFLICT DO NOTHING"
    result = conn.exec_driver_sql(sql, rows)
    return max(result.rowcount, 0)


def copy_ignoring_conflicts(
    conn: Connection, table: str, columns: Sequence[str], batches: Iterable[list[tuple]],
) -> int:
    """PostgreSQL's bulk path: COPY every row into a temporary table (dropped at commit), then one INSERT …
    SELECT that skips rows whose natural key exists already; returns how many were new. Inside the caller's
    transaction: a failure or a kill leaves nothing written."""
    names = ", ".join(columns)
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE hl_staged ON COMMIT DROP AS SELECT {names} FROM {table} "
                         "WITH NO DATA")
    raw: Any = conn.connection.dbapi_connection  # psycopg's connection: its cursor has copy()
    with raw.cursor() as cursor, cursor.copy(f"COPY hl_staged ({names}) FROM STDIN") as copy:
        for batch in batches:
            for row in batch:
                copy.write_row(row)
    result = conn.exec_driver_sql(f"INSERT INTO {table} ({names}) SELECT {names} FROM hl_staged "
                                  "ON CONFLICT DO NOTHING")
    return max(result.rowcount, 0)


def insert_one(conn: Connection, table: str, values: dict[str, Any]) -> int:
    """Insert one row and return its id."""
    names = ", ".join(values)
    sql = f"INSERT INTO {table} ({names}) VALUES ({marks(conn, len(values))}) RETURNING id"
    return int(conn.exec_driver_sql(sql, tuple(values.values())).scalar_one())


class AppendWriter:
    """Insert-only rows whose every column is part of the natural key (activities).

    Each batch is sorted in the key index's order before it is written, so the inserts walk the index
    instead of jumping around it: faster, and with a smaller page cache.
    """

    def __init__(
        self, conn: Connection, table: str, columns: Sequence[str], counts: Counts, order: Sequence[str] = ()
    ) -> None:
        self.conn, self.table, self.columns, self.counts = conn, table, list(columns), counts
        self._rows: list[tuple] = []
        self._order = itemgetter(*[self.columns.index(c) for c in order]) if order else None

    def add(self, values: dict[str, Any]) -> None:
        """Queue one row; absent optional columns are NULL."""
        self._rows.append(tuple([values.get(c) for c in self.columns]))
        if len(self._rows) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        """Write what is queued."""
        if self._order is not None:
            self._rows.sort(key=self._order)
        new = insert_ignoring_conflicts(self.conn, self.table, self.columns, self._rows)
        self.counts.inserted += new
        self.counts.unchanged += len(self._rows) - new
        self._rows.clear()

    def close(self) -> None:
        """Drop anything queued (the import is done or abandoned)."""
        self._rows.clear()


class UpsertWriter:
    """Rows with a one-column natural key: insert new ones, update changed ones, count the rest."""

    def __init__(
        self,
        conn: Connection,
        table: str,
        key: str,
        columns: Sequence[str],
        counts: Counts,
        insert_defaults: dict[str, Any] | None = None,
    ) -> None:
        self.conn, self.table, self.key, self.counts = conn, table, key, counts
        self.columns = [c for c in columns if c != key]
        self.defaults = {k: v for k, v in (insert_defaults or {}).items() if k not in columns}
        self._rows: dict[Any, dict[str, Any]] = {}

    def add(self, values: dict[str, Any]) -> None:
        """Queue one row; a later row with the same key replaces an earlier one."""
        key = values[self.key]
        if key in self._rows:
            self.counts.duplicates += 1
        self._rows[key] = values
        if len(self._rows) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        """Write what is queued."""
        if not self._rows:
            return
        existing = self._existing(list(self._rows))
        inserts: list[tuple] = []
        updates: list[tuple] = []
        insert_columns = [self.key, *self.columns, *self.defaults]
        for key, values in self._rows.items():
            new = tuple(values.get(c) for c in self.columns)
            old = existing.get(key)
            if old is None:
                inserts.append((key, *new, *self.defaults.values()))
            elif old != new:
                updates.append((*new, key))
            else:
                self.counts.unchanged += 1
        if inserts:
            names = ", ".join(insert_columns)
            sql = f"INSERT INTO {self.table} ({names}) VALUES ({marks(self.conn, len(insert_columns))})"
            self.conn.exec_driver_sql(sql, inserts)
            self.counts.inserted += len(inserts)
        if updates and self.columns:
            one = mark(self.conn)
            sets = ", ".join(f"{c} = {one}" for c in self.columns)
            self.conn.exec_driver_sql(f"UPDATE {self.table} SET {sets} WHERE {self.key} = {one}", updates)
            self.counts.updated += len(updates)
        self._rows.clear()

    def close(self) -> None:
        """Nothing runs in the background here."""
        self._rows.clear()

    def _existing(self, keys: list[Any]) -> dict[Any, tuple]:
        found: dict[Any, tuple] = {}
        names = ", ".join([self.key, *self.columns])
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            sql = f"SELECT {names} FROM {self.table} WHERE {self.key} IN ({marks(self.conn, len(chunk))})"
            for record in self.conn.exec_driver_sql(sql, tuple(chunk)):
                found[record[0]] = tuple(_as_written(value) for value in record[1:])
        return found


def _as_written(value: Any) -> Any:
    """A stored value in the form the importer writes it, so that an unchanged row compares equal: PostgreSQL
    gives JSONB back as Python objects and timestamptz as datetimes, SQLite gives back the text written."""
    if isinstance(value, dict | list):
        return json_dumps(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return value


class StagedRows:
    """Checked rows of an append-only import, kept in a scratch SQLite file (no index, no journal) until the whole
    file is known good; the store is not touched, so nothing waits for the import while it reads."""

    def __init__(self, columns: Sequence[str], order: Sequence[str] = ()) -> None:
        self.columns, self.order = list(columns), list(order)
        self._dir = tempfile.TemporaryDirectory(prefix="hotlead-import-")
        self.path = Path(self._dir.name) / "rows.db"
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(f"CREATE TABLE rows ({', '.join(self.columns)})")
        self._insert = f"INSERT INTO rows VALUES ({', '.join('?' * len(self.columns))})"
        self._rows: list[tuple] = []
        self.count = 0

    def add(self, values: dict[str, Any]) -> None:
        """Keep one row; absent optional columns are NULL."""
        self._rows.append(tuple([values.get(c) for c in self.columns]))
        if len(self._rows) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        """Write what is kept in memory to the scratch file."""
        if self._rows:
            self._db.executemany(self._insert, self._rows)
            self._db.commit()
            self.count += len(self._rows)
            self._rows.clear()

    def sort(self) -> None:
        """Put the rows in the key's order, into table `sorted` (before the store's lock is taken: a write in
        the key's order walks the store's index instead of sorting inside the transaction)."""
        order = ", ".join(self.order) or "rowid"
        self._db.execute(f"CREATE TABLE sorted AS SELECT * FROM rows ORDER BY {order}")
        self._db.execute("DROP TABLE rows")
        self._db.commit()

    def batches(self, size: int = BATCH_ROWS) -> Iterator[list[tuple]]:
        """The sorted rows, `size` at a time (for stores that cannot ATTACH the scratch file)."""
        cursor = self._db.execute(f"SELECT {', '.join(self.columns)} FROM sorted ORDER BY rowid")
        while batch := cursor.fetchmany(size):
            yield batch

    def close(self) -> None:
        """Delete the scratch file."""
        self._rows.clear()
        self._db.close()
        self._dir.cleanup()
