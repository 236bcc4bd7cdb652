"""Keyword-only queries: what the rest of Hotlead asks of the store."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlmodel import Session, select

from storage import models

# SQLite's julianday() turns the stored UTC text into a day number; every time feature is a difference.
LEAD_COLUMNS = (
    "l.id", "l.external_id", "l.name", "l.account_id", "l.seniority", "l.source", "julianday(l.created_at)",
    "l.status", "l.attributes", "a.name", "a.industry", "a.employees", "a.country", "o.converted",
    "julianday(o.closed_at)",
)


def _in(conn: Connection, column: str, ids: Sequence[int] | None) -> tuple[str, tuple[Any, ...]]:
    if ids is None:
        return "", ()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return f" WHERE {column} IN ({', '.join([mark] * len(ids))})", tuple(ids)


def lead_rows(*, conn: Connection, lead_ids: Sequence[int] | None = None) -> list[tuple[Any, ...]]:
    """Leads with their account and outcome, in LEAD_COLUMNS order."""
    where, params = _in(conn, "l.id", lead_ids)
    sql = (
        f"SELECT {', '.join(LEAD_COLUMNS)} FROM lead l LEFT JOIN account a ON a.id = l.account_id "
        f"LEFT JOIN outcome o ON o.lead_id = l.id{where} ORDER BY l.id"
    )
    return list(conn.exec_driver_sql(sql, params).all())


def activity_rows(*, conn: Connection, lead_ids: Sequence[int] | None = None) -> list[tuple[Any, ...]]:
    """(lead_id, kind, page_type, day number) of every activity."""
    where, params = _in(conn, "lead_id", lead_ids)
    sql = f"SELECT lead_id, kind, page_type, julianday(occurred_at) FROM activity{where}"
    return list(conn.exec_driver_sql(sql, params).all())


def message_rows(*, conn: Connection, lead_ids: Sequence[int] | None = None) -> list[tuple[Any, ...]]:
    """(lead_id, inbound?, day number, has a question?, sentiment, urgency, entities JSON) per message."""
    where, params = _in(conn, "m.lead_id", lead_ids)
    sql = (
        "SELECT m.lead_id, m.direction = 'inbound', julianday(m.occurred_at), instr(m.text, '?') > 0, "
        f"s.sentiment, s.urgency, s.entities FROM message m LEFT JOIN signal s ON s.message_id = m.id{where}"
    )
    return list(conn.exec_driver_sql(sql, params).all())


def engagement_rows(
    *, conn: Connection, account_ids: Sequence[int], skip: Sequence[str]
) -> list[tuple[Any, ...]]:
    """(account_id, lead_id, seniority, day number) of every engagement at the given accounts."""
    if not account_ids:
        return []
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = (
        "SELECT l.account_id, l.id, l.seniority, julianday(a.occurred_at) FROM activity a "
        f"JOIN lead l ON l.id = a.lead_id WHERE l.account_id IN ({', '.join([mark] * len(account_ids))}) "
        f"AND a.kind NOT IN ({', '.join([mark] * len(skip))})"
    )
    return list(conn.exec_driver_sql(sql, (*account_ids, *skip)).all())


def attribute_kinds(*, conn: Connection) -> dict[str, str]:
    """Inferred kinds of imported CRM columns."""
    return dict(conn.exec_driver_sql("SELECT name, kind FROM attribute").all())  # type: ignore[arg-type]


def lead_by_external_id(*, session: Session, external_id: str) -> models.Lead | None:
    """One lead by its CRM id."""
    return session.exec(select(models.Lead).where(models.Lead.external_id == external_id)).first()


def lead_ids_by_external_id(*, conn: Connection, external_ids: Iterable[str]) -> dict[str, int]:
    """Map external ids to lead ids (unknown ids are left out)."""
    wanted = list(external_ids)
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        where, params = _in(conn, "external_id", chunk)  # type: ignore[arg-type]
        found.update(conn.exec_driver_sql(f"SELECT external_id, id FROM lead{where}", params).all())  # type: ignore[arg-type]
    return found
