"""Import an arbitrary CRM export: one label column, every other column a typed lead attribute."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from storage import queries
from storage.db import json_dumps
from storage.errors import ImportFileError, RowError
from storage.importers import cells
from storage.importers.reading import RowSource
from storage.importers.runner import ImportResult, Progress, RowChecker
from storage.importers.writer import BATCH_ROWS, Counts, UpsertWriter

KINDS = ("number", "category", "boolean", "date", "text")
_DISTINCT_CAP = 2000


@dataclass
class ColumnProfile:
    """What one pass over a column saw, enough to infer its type."""

    name: str
    filled: int = 0
    numeric: bool = True
    boolean: bool = True
    date: bool = True
    distinct: set[str] = field(default_factory=set)
    total_length: int = 0

    def see(self, value: str) -> None:
        """Account for one non-missing cell."""
        self.filled += 1
        self.total_length += len(value)
        if len(self.distinct) <= _DISTINCT_CAP:
            self.distinct.add(value.strip().lower())
        if self.numeric:
            try:
                cells.number(value)  # the same reading as typed_value: inf, 1,234 (ambiguous)… are not numbers
            except cells.CellError:
                self.numeric = False
        if self.boolean and value.strip().lower() not in cells.TRUE_WORDS | cells.FALSE_WORDS:
            self.boolean = False
        if self.date and not self.numeric:
            try:
                cells.parse_datetime(value)
            except cells.CellError:
                self.date = False

    def kind(self) -> str:
        """number, category, boolean, date or text."""
        if self.filled == 0:
            return "category"
        if self.boolean and len(self.distinct) <= 2:
            return "boolean"
        if self.numeric:
            return "number"
        if self.date:
            return "date"
        mean_length = self.total_length / self.filled
        if len(self.distinct) > max(50, self.filled // 2) and mean_length >= 20:
            return "text"
        return "category"


def infer_types(source: RowSource, skip: Iterable[str]) -> dict[str, str]:
    """First pass: the inferred kind of every column but `skip`."""
    profiles: dict[int, ColumnProfile] = {}
    skipped = set(skip)
    for row in source:
        if not profiles:
            profiles = {i: ColumnProfile(name) for i, name in enumerate(source.header) if name not in skipped}
        if row.problem:
            continue
        for index, profile in profiles.items():
            value = row.cells[index]
            if not cells.is_missing(value):
                profile.see(str(value))
    return {p.name: p.kind() for p in profiles.values()}


def typed_value(kind: str, raw: Any) -> Any:
    """One attribute cell as its inferred type (None when missing)."""
    if cells.is_missing(raw):
        return None
    if kind == "number":
        number = cells.number(raw)
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "boolean":
        return cells.boolean(raw)
    if kind == "date":
        return cells.parse_datetime(raw).isoformat()
    if kind == "category":
        return str(raw).strip().lower()
    return str(raw).strip()


def import_crm(
    engine: Engine,
    path: Path,
    *,
    label: str,
    id_column: str | None = None,
    time_column: str | None = None,
    positive: str | None = None,
    delimiter: str | None = None,
    drop: Iterable[str] = (),
    progress: Progress | None = None,
) -> ImportResult:
    """Import a CRM export: leads with typed attributes and, where the label is set, their outcomes."""
    started = time.perf_counter()
    source = RowSource(path, delimiter)
    special = [c for c in (label, id_column, time_column) if c]
    dropped = list(drop)
    kinds = infer_types(source, [*special, *dropped])
    missing = [c for c in [*special, *dropped] if c not in source.header]
    if missing:
        found = ", ".join(source.header)
        raise ImportFileError(
            source.name, [RowError(source.name, 0, c, f"no such column (found: {found})") for c in missing]
        )
    lead_counts, outcome_counts = Counts(), Counts()
    with engine.begin() as conn:
        _write_schema(conn, kinds, source.name)
        run = _CrmRun(conn, source, kinds, label, id_column, time_column, positive, lead_counts, outcome_counts)
        run.stream(progress)
    notes = [
        f"{source.name}: outcomes: {outcome_counts.inserted:,} inserted, {outcome_counts.updated:,} updated, "
        f"{outcome_counts.unchanged:,} unchanged",
        f"{source.name}: attributes: "
        + ", ".join(f"{name} ({kind})" for name, kind in kinds.items()),
    ]
    return ImportResult("crm", source.name, lead_counts, time.perf_counter() - started, notes=notes)


def _write_schema(conn: Connection, kinds: dict[str, str], source: str) -> None:
    writer = UpsertWriter(conn, "attribute", "name", ["name", "kind", "source"], Counts())
    for name, kind in kinds.items():
        writer.add({"name": name, "kind": kind, "source": source})
    writer.flush()


class _CrmRun:
    """Second pass: validate the label, build lead rows and outcomes, write them in batches."""

    def __init__(
        self, conn: Connection, source: RowSource, kinds: dict[str, str], label: str, id_column: str | None,
        time_column: str | None, positive: str | None, lead_counts: Counts, outcome_counts: Counts,
    ) -> None:
        self.conn, self.source, self.kinds = conn, source, kinds
        self.label, self.id_column, self.time_column = label, id_column, time_column
        self.positive = positive.strip().lower() if positive else None
        self.checker = RowChecker(source.name)
        self.imported_at = cells.sql_datetime(datetime.now(UTC).replace(tzinfo=None, microsecond=0))
        columns = ["external_id", "name", "attributes"] + (["created_at"] if time_column else [])
        defaults = {"status": "open"} | ({} if time_column else {"created_at": self.imported_at})
        self.leads = UpsertWriter(conn, "lead", "external_id", columns, lead_counts, defaults)
        self.outcomes = UpsertWriter(conn, "outcome", "lead_id", ["lead_id", "converted", "closed_at"], outcome_counts)
        self.pending: list[tuple[str, int, str | None]] = []
        self.seen: dict[str, int] = {}

    def stream(self, progress: Progress | None) -> None:
        """Read every row; raise ImportFileError (so nothing is written) when any was bad."""
        header = self.source.header
        index = {name: i for i, name in enumerate(header)}
        attributes = [(index[name], name, kind) for name, kind in self.kinds.items()]
        stem = self.source.path.stem
        for row in self.source:
            if row.problem:
                self.checker.add(row, "-", row.problem)
                continue
            if self.checker.full:
                break
            external_id = (
                str(row.cells[index[self.id_column]]).strip() if self.id_column else f"{stem}-{row.number}"
            )
            if not self._unique(row, external_id):
                continue
            converted = self._label(row, row.cells[index[self.label]])
            moment = self._time(row, row.cells[index[self.time_column]]) if self.time_column else None
            typed = self._attributes(row, attributes)
            if self.checker.errors:
                continue
            values: dict[str, str | None] = {
                "external_id": external_id,
                "name": external_id,
                "attributes": json_dumps(typed),
            }
            if self.time_column:
                values["created_at"] = moment
            self.leads.add(values)
            if converted is not None:
                self.pending.append((external_id, converted, moment))
            if len(self.pending) >= BATCH_ROWS:
                self._flush_outcomes()
            if progress and row.number % BATCH_ROWS == 0:
                progress(self.source.bytes_read, self.source.size)
        self.checker.raise_if_any()
        self._flush_outcomes()

    def _attributes(self, row: Any, attributes: list[tuple[int, str, str]]) -> dict[str, Any]:
        typed: dict[str, Any] = {}
        for index, name, kind in attributes:
            try:
                value = typed_value(kind, row.cells[index])
            except cells.CellError as exc:  # a type inferred from every row fits every row; this guards the rest
                self.checker.add(row, name, str(exc))
                continue
            if value is not None:
                typed[name] = value
        return typed

    def _unique(self, row: Any, external_id: str) -> bool:
        first = self.seen.setdefault(external_id, row.number)
        if first != row.number:
            column = self.id_column or "-"
            self.checker.add(row, column, f"duplicate id {external_id!r} (first on row {first})")
            return False
        if not external_id:
            self.checker.add(row, self.id_column or "-", "is empty, and it is the id column")
            return False
        return True

    def _label(self, row: Any, raw: Any) -> int | None:
        if cells.is_missing(raw):
            return None  # still open: scored, not learned from
        if self.positive is not None:
            return int(str(raw).strip().lower() == self.positive)
        try:
            return cells.boolean(raw)
        except cells.CellError as exc:
            self.checker.add(row, self.label, f"{exc}; or name the winning value with --positive")
            return None

    def _time(self, row: Any, raw: Any) -> str | None:
        try:
            return cells.timestamp(raw)
        except cells.CellError as exc:
            self.checker.add(row, self.time_column or "-", str(exc))
            return None

    def _flush_outcomes(self) -> None:
        self.leads.flush()
        if not self.pending:
            return
        ids = queries.lead_ids_by_external_id(conn=self.conn, external_ids=(e for e, _, _ in self.pending))
        for external_id, converted, moment in self.pending:
            self.outcomes.add({"lead_id": ids[external_id], "converted": converted, "closed_at": moment})
        self.outcomes.flush()
        self.pending.clear()
