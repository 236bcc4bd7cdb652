"""Keyword-only queries: what the rest of Hotlead asks of the store."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection

from storage.db import mark, marks

# SQLite's julianday() turns the stored UTC text into a day number; every time feature is a difference.
LEAD_COLUMNS = (
    "l.id", "l.external_id", "l.name", "l.account_id", "l.seniority", "l.source", "julianday(l.created_at)",
    "l.status", "l.attributes", "a.name", "a.industry", "a.employees", "a.country", "o.converted",
    "julianday(o.closed_at)",
)


def _code(conn: Connection, column: str, vocabulary: Sequence[str], other: int) -> tuple[str, tuple[str, ...]]:
    """SQL turning a text column into the position of its value in `vocabulary` (else `other`)."""
    whens = " ".join(f"WHEN {mark(conn)} THEN {i}" for i in range(len(vocabulary)))
    return f"CASE {column} {whens} ELSE {other} END", tuple(vocabulary)


def scope_leads(*, conn: Connection, lead_ids: Iterable[int]) -> None:
    """Remember a set of leads (in a temporary table of this connection) for the `scoped` queries."""
    conn.exec_driver_sql("CREATE TEMP TABLE IF NOT EXISTS hl_scope (id INTEGER PRIMARY KEY)")
    conn.exec_driver_sql("DELETE FROM hl_scope")
    conn.exec_driver_sql(f"INSERT INTO hl_scope (id) VALUES ({mark(conn)})", [(int(i),) for i in lead_ids])


def _fetch(conn: Connection, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Plain tuples straight from the driver: these queries return up to millions of rows."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


SCOPE = "IN (SELECT id FROM hl_scope)"


def lead_rows(*, conn: Connection) -> list[tuple[Any, ...]]:
    """Scoped leads with their account and outcome, in LEAD_COLUMNS order."""
    sql = (
        f"SELECT {', '.join(LEAD_COLUMNS)} FROM lead l LEFT JOIN account a ON a.id = l.account_id "
        f"LEFT JOIN outcome o ON o.lead_id = l.id WHERE l.id {SCOPE} ORDER BY l.id"
    )
    return _fetch(conn, sql)


def activity_rows(*, conn: Connection, kinds: Sequence[str], pages: Sequence[str]) -> list[tuple[Any, ...]]:
    """(lead_id, kind code, page-type code, day number) of every activity of the scoped leads; codes are
    positions in `kinds` / `pages` (their length for anything else; -1 for no page type)."""
    kind_sql, kind_params = _code(conn, "kind", kinds, len(kinds))
    page_sql, page_params = _code(conn, "page_type", ["", *pages], len(pages) + 1)
    sql = f"SELECT lead_id, {kind_sql}, {page_sql} - 1, julianday(occurred_at) FROM activity WHERE lead_id {SCOPE}"
    return _fetch(conn, sql, (*kind_params, *page_params))


def engagement_rows(
    *, conn: Connection, skip: Sequence[str], seniorities: Sequence[str], since: str
) -> list[tuple[Any, ...]]:
    """(account_id, lead_id, seniority code, day number) of every engagement since `since` (stored time text)
    by anyone at the scoped leads' accounts: the buying committee."""
    level_sql, level_params = _code(conn, "l.seniority", seniorities, len(seniorities))
    sql = f"SELECT l.account_id, l.id, {level_sql}, julianday(a.occurred_at) {_committee(conn, len(skip), 1)}"
    return _fetch(conn, sql, (*level_params, since, *skip))


def _committee(conn: Connection, skipped: int, bounds: int) -> str:
    """FROM/WHERE of engagement by anyone at the scoped leads' accounts: `bounds` placeholders bound the time
    (since, then until), then `skipped` placeholders name the kinds that are not engagement."""
    one = mark(conn)
    window = f"a.occurred_at >= {one}" + (f" AND a.occurred_at < {one}" if bounds == 2 else "")
    return (
        f"FROM lead l JOIN activity a ON a.lead_id = l.id AND {window} AND a.kind NOT IN ({marks(conn, skipped)}) "
        f"WHERE l.account_id IN (SELECT DISTINCT account_id FROM lead WHERE id {SCOPE})"
    )


def account_summary_rows(
    *, conn: Connection, skip: Sequence[str], seniorities: Sequence[str], month: str, week: str, until: str,
    four_weeks: str,
) -> list[tuple[Any, ...]]:
    """Per account of the scoped leads, engagement in time ranges given as stored time text ending at `until`:
    (account_id, distinct contacts since `month`, distinct seniority codes since `month`, events since `week`,
    events since `four_weeks`)."""
    level_sql, level_params = _code(conn, "l.seniority", seniorities, len(seniorities))
    one = mark(conn)
    sql = (
        f"SELECT l.account_id, count(DISTINCT CASE WHEN a.occurred_at >= {one} THEN l.id END), "
        f"count(DISTINCT CASE WHEN a.occurred_at >= {one} THEN {level_sql} END), "
        f"sum(a.occurred_at >= {one}), sum(a.occurred_at >= {one}) "
        f"{_committee(conn, len(skip), 2)} GROUP BY l.account_id"
    )
    earliest = min(month, four_weeks)
    params = (month, month, *level_params, week, four_weeks, earliest, until, *skip)
    return _fetch(conn, sql, params)


def message_rows(*, conn: Connection) -> list[tuple[Any, ...]]:
    """(lead_id, inbound?, day number, has a question?, sentiment, urgency, entities JSON) per scoped message."""
    sql = (
        "SELECT m.lead_id, m.direction = 'inbound', julianday(m.occurred_at), instr(m.text, '?') > 0, "
        f"s.sentiment, s.urgency, s.entities FROM message m LEFT JOIN signal s ON s.message_id = m.id "
        f"WHERE m.lead_id {SCOPE}"
    )
    return _fetch(conn, sql)


def attribute_kinds(*, conn: Connection) -> dict[str, str]:
    """Inferred kinds of imported CRM columns."""
    return dict(conn.exec_driver_sql("SELECT name, kind FROM attribute").all())  # type: ignore[arg-type]


def lead_ids_by_external_id(*, conn: Connection, external_ids: Iterable[str]) -> dict[str, int]:
    """Map external ids to lead ids (unknown ids are left out)."""
    wanted = list(external_ids)
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        sql = f"SELECT external_id, id FROM lead WHERE external_id IN ({marks(conn, len(chunk))})"
        found.update(conn.exec_driver_sql(sql, tuple(chunk)).all())  # type: ignore[arg-type]
    return found
