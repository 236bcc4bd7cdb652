"""The intake spool: checked `/api/*` bodies that wait in a small SQLite file beside the database
(`<database>.spool`) while the database is busy (a bulk import holds SQLite's one write lock for seconds).

A separate file, because the main database's lock is exactly what the intake must not wait for; WAL and a full
sync, because every body in it was answered 202. Several server processes may share it: each appends under
the spool's own (short) lock, and each drains oldest first; the store is idempotent, so a body two drainers
both store is stored once. A body the store refuses when drained stays here, marked with its error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc

_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA busy_timeout=5000")
_SCHEMA = ("CREATE TABLE IF NOT EXISTS spooled (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, "
           "body TEXT NOT NULL, items INTEGER NOT NULL, received_at TEXT NOT NULL, failed_at TEXT, error TEXT)")


@dataclass(frozen=True)
class Spooled:
    """One posted body waiting in the spool: its spool id, its kind ("events" or "messages") and the body."""

    id: int
    kind: str
    body: Any
    received_at: str


def spool_path(engine: Engine) -> Path | None:
    """`<database>.spool` for a SQLite file; None for an in-memory database or another dialect (PostgreSQL
    takes row locks, so an intake never waits on a bulk import there)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(f"{database}.spool")


class Spool:
    """The spool file: `append` a checked body, `pending` in arrival order, then `done` or `failed`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})

        @event.listens_for(self.engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            for pragma in _PRAGMAS:
                cursor.execute(pragma)
            cursor.close()

        with self.engine.begin() as conn:
            conn.exec_driver_sql(_SCHEMA)

    def append(self, kind: str, body: Any, items: int) -> int:
        """Keep one checked body (a JSON object or list); its spool id."""
        with self.engine.begin() as conn:
            return int(conn.exec_driver_sql(
                "INSERT INTO spooled (kind, body, items, received_at) VALUES (?, ?, ?, ?) RETURNING id",
                (kind, json.dumps(body, ensure_ascii=True), items, _now())).scalar_one())

    def pending(self, limit: int = 100) -> list[Spooled]:
        """The oldest bodies not yet stored (those that failed are left aside)."""
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT id, kind, body, received_at FROM spooled WHERE failed_at IS NULL "
                                        "ORDER BY id LIMIT ?", (limit,)).all()
        return [Spooled(int(r[0]), str(r[1]), json.loads(r[2]), str(r[3])) for r in rows]

    def done(self, spool_id: int) -> None:
        """The body is in the database: forget it."""
        with self.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM spooled WHERE id = ?", (spool_id,))

    def failed(self, spool_id: int, error: str) -> None:
        """The store refused the body: keep it, with why, out of the drain."""
        with self.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE spooled SET failed_at = ?, error = ? WHERE id = ?",
                                 (_now(), error, spool_id))

    def counts(self) -> dict[str, int]:
        """How many bodies wait (`pending`) and how many the store refused (`failed`)."""
        with self.engine.connect() as conn:
            pending, failed = conn.exec_driver_sql(
                "SELECT count(*) - count(failed_at), count(failed_at) FROM spooled").one()
        return {"pending": int(pending), "failed": int(failed)}

    def close(self) -> None:
        """Close the spool's connections."""
        self.engine.dispose()


@contextmanager
def lock_wait(conn: Connection, seconds: float) -> Iterator[None]:
    """Within the block, a SQLite connection waits at most `seconds` for the write lock (then raises the
    OperationalError `is_busy` recognises) instead of the engine's busy_timeout; other dialects are unchanged."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
    conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(seconds * 1000)}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(before or 0)}")


def is_busy(error: BaseException) -> bool:
    """Whether `error` says the database was locked by another writer (SQLITE_BUSY, and its WAL variants)."""
    return isinstance(error, exc.OperationalError) and any(
        word in str(error.orig).lower() for word in ("database is locked", "database is busy"))


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
