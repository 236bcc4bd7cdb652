"""Real-time intake: activities and conversation lines posted one by one (or a few at a time) as JSON, checked
with the importers' own column rules, stored idempotently in one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from storage.db import json_dumps, mark, marks
from storage.errors import NotFoundError
from storage.importers import cells
from storage.importers.tables import References, spec_for

KINDS = {"events": "activities", "messages": "messages"}


class FieldError(ValueError):
    """A field of a posted item is missing or invalid; `field` names it (e.g. `[2].occurred_at`)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class Stored:
    """One accepted item: its row id, its lead, whether it was new, and the values stored."""

    id: int
    lead_id: int
    new: bool
    values: dict[str, Any]


class _OneByOne(References):
    """References that look each lead up by its key (a request names a few leads, not the whole table), unless
    the caller knows it already (`known`: external id → id)."""

    def __init__(self, conn: Connection, known: Mapping[str, int] | None = None) -> None:
        super().__init__(conn, {})
        self.known = known or {}

    def lead(self, value: Any) -> int:
        """A lead's id from its external id."""
        found = self.known.get(value) if isinstance(value, str) else None
        if found is not None:
            return found
        external_id = str(value).strip()
        found = self.conn.execute(text("SELECT id FROM lead WHERE external_id = :key"), {"key": external_id}).scalar()
        if found is None:
            raise cells.CellError(f"unknown lead {external_id!r}")
        return int(found)


def _values(spec_kind: str, refs: References, item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise FieldError(where or "body", "expected a JSON object")
    spec = spec_for(spec_kind, refs)
    detail = item.get("detail", {})
    if detail is None:
        detail = {}
    if not isinstance(detail, dict):
        raise FieldError(f"{where}detail", "expected a JSON object")
    for name, value in item.items():  # PostgreSQL stores no NUL character, in text or JSON: refused on both engines
        if _has_nul(name) or _has_nul(value):
            raise FieldError(f"{where}{str(name).replace(chr(0), '')}", "contains a NUL character (\\u0000)")
    source = {**item, "page_type": item.get("page_type", detail.get("page_type"))}
    values: dict[str, Any] = {}
    for column in spec.columns:
        raw = source.get(column.name)
        if cells.is_missing(raw):
            if column.required:
                raise FieldError(f"{where}{column.name}", "is required")
            values[column.target] = None
            continue
        try:
            values[column.target] = column.parse(raw)
        except cells.CellError as exc:
            if column.name == "lead":
                raise NotFoundError(f"{where}lead: {exc}") from None
            raise FieldError(f"{where}{column.name}", str(exc)) from None
    for name, default in spec.insert_defaults.items():
        if values.get(name) is None:
            values[name] = default
    if spec.extras_target:
        values[spec.extras_target] = json_dumps({k: v for k, v in detail.items() if k != "page_type"})
    if spec.derive:
        spec.derive(values)
    return values


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def store(conn: Connection, kind: str, body: Any, leads: Mapping[str, int] | None = None) -> list[Stored]:
    """Check every item of `body` (one object or a list) and store them; FieldError or NotFoundError before
    anything is written when one item is wrong. Items already stored (same natural key) are not stored again.
    `leads` (external id → id) spares the lookups of leads the caller knows already."""
    items = body if isinstance(body, list) else [body]
    if not items:
        raise FieldError("body", "expected an object or a non-empty list of objects")
    refs = _OneByOne(conn, leads)
    spec_kind = KINDS[kind]
    prepared = [_values(spec_kind, refs, item, f"[{i}]." if isinstance(body, list) else "")
                for i, item in enumerate(items)]
    table = spec_for(spec_kind, refs)
    key = ("lead_id", "occurred_at", "kind", "page_type", "detail") if kind == "events" else ("source_ref",)
    stored = []
    for values in prepared:
        names = [name for name in values if values[name] is not None or name in key]
        insert = (f"INSERT INTO {table.table} ({', '.join(names)}) VALUES ({marks(conn, len(names))}) "
                  "ON CONFLICT DO NOTHING RETURNING id")
        row = conn.exec_driver_sql(insert, tuple(_sql(values[n]) for n in names)).first()
        if row is not None:
            stored.append(Stored(int(row[0]), values["lead_id"], True, values))
            continue
        where = " AND ".join(f"{k} = {mark(conn)}" for k in key)
        found = conn.exec_driver_sql(f"SELECT id FROM {table.table} WHERE {where}",
                                     tuple(_sql(values[k]) for k in key)).scalar_one()
        stored.append(Stored(int(found), values["lead_id"], False, values))
    return stored


def _sql(value: Any) -> Any:
    """Times as the store writes them (UTC text, comparable as text)."""
    if hasattr(value, "isoformat") and hasattr(value, "tzinfo"):
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return value
