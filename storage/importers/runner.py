"""Run one table import: stream, validate, write in one transaction; any bad row writes nothing.

Append-only bulk kinds (activities: files of a million rows) are read, checked and parsed into a scratch SQLite
file first, with no lock on the store; only a file found good throughout is then written to the store, in one
short transaction (one INSERT … SELECT in the key's order): the server's writes wait a second, not the whole
import, and a refused or killed import leaves the store exactly as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine
from sqlmodel import SQLModel

from storage import models  # noqa: F401  (the tables' indexes are read from the models)
from storage.db import begin_now
from storage.errors import ImportFileError, RowError
from storage.history import names_changed
from storage.importers import cells
from storage.importers.reading import Row, RowSource
from storage.importers.tables import APPEND_ONLY_KINDS, Column, ExtrasEncoder, References, TableSpec, spec_for
from storage.importers.writer import AppendWriter, Counts, StagedRows, UpsertWriter, copy_ignoring_conflicts

Progress = Callable[[int, int], None]  # (bytes done, bytes total)
PROGRESS_EVERY = 5000


@dataclass
class ImportResult:
    """What one import did."""

    kind: str
    file: str
    counts: Counts
    seconds: float
    ignored_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the user."""
        c = self.counts
        line = (
            f"{self.file}: {c.rows:,} {self.kind} rows: {c.inserted:,} inserted, {c.updated:,} updated, "
            f"{c.unchanged:,} unchanged ({self.seconds:.1f} s)"
        )
        if c.duplicates:
            line += f"; {c.duplicates:,} rows repeated an earlier row's key (the last one was kept)"
        for what, count in sorted(c.created.items()):
            line += f"; {count:,} new {what} created"
        if self.ignored_columns:
            line += f"; ignored columns: {', '.join(self.ignored_columns)}"
        return "\n".join([line, *self.notes])


class RowChecker:
    """Collects bad cells for one file and stops after enough have been seen."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[RowError] = []
        self.more = False

    def add(self, row: Row, column: str, problem: str) -> None:
        """Record one bad cell."""
        if len(self.errors) >= ImportFileError.MAX_SHOWN:
            self.more = True
            return
        where = f" (line {row.line})" if row.line != row.number + 1 else ""
        self.errors.append(RowError(self.file, row.number, column, problem + where))

    @property
    def full(self) -> bool:
        """True once more errors than are shown have been found."""
        return self.more

    def raise_if_any(self) -> None:
        """Abort the import (and so its transaction) when anything was wrong."""
        if self.errors:
            raise ImportFileError(self.file, self.errors, self.more)


def parse_row(row: Row, present: list[tuple[int, Column]], checker: RowChecker) -> dict[str, Any] | None:
    """Parse the known cells of one row, recording every bad one; None when any was bad.

    Parsers of required columns reject empty cells themselves, so the happy path does one call per cell.
    """
    values: dict[str, Any] = {}
    ok = True
    cells_ = row.cells
    for index, column in present:
        raw = cells_[index]
        try:
            values[column.target] = column.parse(raw)
        except cells.CellError as exc:
            empty = column.required and cells.is_missing(raw)
            checker.add(row, column.name, "is empty, and it is required" if empty else str(exc))
            ok = False
    return values if ok else None


def import_table(
    engine: Engine, kind: str, path: Path, *, progress: Progress | None = None, delimiter: str | None = None
) -> ImportResult:
    """Import one CSV or JSON Lines file of `kind` atomically and idempotently."""
    started = time.perf_counter()
    source = RowSource(path, delimiter)
    counts = Counts()
    if kind in APPEND_ONLY_KINDS:
        ignored = _import_staged(engine, kind, path, source, counts, progress)
        if progress:
            progress(source.size, source.size)
        return ImportResult(kind, source.name, counts, time.perf_counter() - started, ignored)
    with engine.connect() as conn, _references_checked_here(conn, kind), conn.begin():
        spec = spec_for(kind, References(conn, counts.created))
        with _indexes_built_after(conn, spec, path):
            ignored = _stream_rows(conn, spec, source, counts, progress)
    if progress:
        progress(source.size, source.size)
    return ImportResult(kind, source.name, counts, time.perf_counter() - started, ignored)


def _import_staged(
    engine: Engine, kind: str, path: Path, source: RowSource, counts: Counts, progress: Progress | None
) -> list[str]:
    """Check and parse the whole file into a scratch file (reads only), then write it to the store at once."""
    with engine.connect() as conn:
        spec = spec_for(kind, References(conn, counts.created))
        staged = StagedRows(append_columns(spec), order=spec.index_order)
        try:
            ignored = _stream_rows(conn, spec, source, counts, progress, writer=staged)
            conn.rollback()  # reads only: nothing to keep, no snapshot held while writing
            with _references_checked_here(conn, kind):
                _write_staged(conn, spec, staged, path, counts)
        finally:
            staged.close()
    return ignored


def _write_staged(conn: Connection, spec: TableSpec, staged: StagedRows, path: Path, counts: Counts) -> None:
    """Write the staged rows to the store in one transaction: on SQLite one INSERT … SELECT from the attached
    scratch file in the key's order (about a second for 200,000 rows); on PostgreSQL COPY into a temporary table
    and one INSERT … SELECT from it."""
    names = ", ".join(staged.columns)
    staged.sort()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("ATTACH DATABASE ? AS staged", (str(staged.path),))
        conn.commit()  # ATTACH runs outside any transaction
        try:
            with conn.begin():
                begin_now(conn, immediate=True)  # the write lock now: the import's only wait for others
                with _indexes_built_after(conn, spec, path):
                    new = max(conn.exec_driver_sql(
                        f"INSERT OR IGNORE INTO {spec.table} ({names}) SELECT {names} FROM staged.sorted "
                        "ORDER BY rowid").rowcount, 0)
        finally:
            conn.exec_driver_sql("DETACH DATABASE staged")
            conn.commit()
    else:
        with conn.begin():
            new = copy_ignoring_conflicts(conn, spec.table, staged.columns, staged.batches())
    counts.inserted += new
    counts.unchanged += staged.count - new


@contextmanager
def _references_checked_here(conn: Connection, kind: str) -> Iterator[None]:
    """For append-only bulk kinds on SQLite, skip SQLite's per-row foreign-key probe (about 1 µs a row):
    every lead reference was already resolved against the lead table by References inside the same
    transaction, and a reference that does not resolve is a reported bad row."""
    bulk = conn.dialect.name == "sqlite" and kind in APPEND_ONLY_KINDS
    if bulk:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction, so set it before
        conn.commit()
    try:
        yield
    finally:
        if bulk:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()


NAMED_TABLES = ("lead", "account")  # what the chat's name index is built from
BYTES_PER_ROW = 60  # a rough size of an activity row in an export, to guess a file's rows from its size


@contextmanager
def _indexes_built_after(conn: Connection, spec: TableSpec, path: Path) -> Iterator[None]:
    """For a bulk append (a file about as big as the table or bigger), drop the table's secondary indexes and
    build them once at the end, in the same transaction: SQLite sorts once instead of inserting every row into
    each index. The natural-key index stays: it is what makes re-imports idempotent."""
    table = SQLModel.metadata.tables[spec.table]
    indexes = [index for index in table.indexes if not index.unique]
    rows = conn.exec_driver_sql(f"SELECT count(*) FROM {spec.table}").scalar_one() if indexes else 0
    bulk = spec.kind in APPEND_ONLY_KINDS and indexes and path.stat().st_size / BYTES_PER_ROW >= rows
    if bulk:
        begin_now(conn)  # the drop is part of the import's transaction: a failure or a kill -9 undoes it, and
        for index in indexes:  # other connections keep seeing the index until the import commits
            index.drop(conn)
    yield  # a failure rolls the whole transaction back, the drop included
    if bulk:
        for index in indexes:
            index.create(conn)


def _stream_rows(
    conn: Connection, spec: TableSpec, source: RowSource, counts: Counts, progress: Progress | None,
    writer: StagedRows | None = None,
) -> list[str]:
    """Parse and write every row (to `writer` when given, else to the store); raise ImportFileError (rolling the
    transaction back) on bad rows."""
    checker = RowChecker(source.name)
    into: AppendWriter | UpsertWriter | StagedRows | None = None
    present: list[tuple[int, Column]] = []
    extras: list[tuple[int, str]] = []
    extra_indexes: list[int] = []
    encoder = ExtrasEncoder([])
    ignored: list[str] = []
    try:
        for row in source:
            if into is None:
                present, extras, ignored = _check_header(spec, source)
                into = writer or _writer(conn, spec, [column for _, column in present], counts)
                extra_indexes = [index for index, _ in extras]
                encoder = ExtrasEncoder([name for _, name in extras])
            if row.problem:
                checker.add(row, "-", row.problem)
                continue
            values = parse_row(row, present, checker)
            if checker.full:
                break
            if values is None or checker.errors:
                continue
            if spec.extras_target:
                values[spec.extras_target] = encoder.encode(tuple([row.cells[i] for i in extra_indexes]))
            if spec.derive:
                spec.derive(values)
            into.add(values)
            if progress and row.number % PROGRESS_EVERY == 0:
                progress(source.bytes_read, source.size)
        if into is None:
            _check_header(spec, source)
        checker.raise_if_any()
        if into is not None:
            into.flush()
        if writer is None and spec.table in NAMED_TABLES:
            names_changed(conn=conn)  # every process's name index follows (renames, owners changed in place)
    finally:
        if into is not None and writer is None:
            into.close()
    return ignored


def _check_header(
    spec: TableSpec, source: RowSource
) -> tuple[list[tuple[int, Column]], list[tuple[int, str]], list[str]]:
    """Known columns with their index, unknown columns kept as extras, and unknown columns ignored."""
    header = source.header
    missing = [c.name for c in spec.columns if c.required and c.name not in header]
    if missing:
        found = ", ".join(header) or "nothing"
        raise ImportFileError(
            source.name,
            [RowError(source.name, 0, name, f"required column is missing from the header (found: {found})")
             for name in missing],
        )
    known = {c.name for c in spec.columns}
    present = [(header.index(c.name), c) for c in spec.columns if c.name in header]
    unknown = [(index, name) for index, name in enumerate(header) if name not in known and name]
    if spec.extras_target:
        return present, unknown, []
    return present, [], [name for _, name in unknown]


def append_columns(spec: TableSpec) -> list[str]:
    """Every column an append-only kind writes, in order."""
    columns = [c.target for c in spec.columns]
    if spec.extras_target:
        columns.append(spec.extras_target)
    return [*columns, *spec.derived]


def _writer(conn: Any, spec: TableSpec, present: list[Column], counts: Counts) -> AppendWriter | UpsertWriter:
    if spec.key is None:
        return AppendWriter(conn, spec.table, append_columns(spec), counts, order=spec.index_order)
    columns = [c.target for c in present]
    for extra in (spec.key, spec.extras_target, *spec.derived):
        if extra and extra not in columns:
            columns.append(extra)
    return UpsertWriter(conn, spec.table, spec.key, columns, counts, spec.insert_defaults)
