"""Keyword-only queries: what the rest of Hotlead asks of the store."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection, bindparam, text

from storage.db import OUT_OF_PLAY, json_dumps, julian, mark, marks
from storage.derived import ACTIVITY_KINDS, PAGE_BITS

# a stored moment becomes a julian day number (storage.db.julian); every time feature is a difference.
LEAD_COLUMNS = (
    "l.id", "l.account_id", "l.seniority", "l.source", "l.created_at", "l.attributes", "a.industry",
    "a.employees", "a.country",
)


def _code(conn: Connection, column: str, vocabulary: Sequence[str], other: int) -> tuple[str, tuple[str, ...]]:
    """SQL turning a text column into the position of its value in `vocabulary` (else `other`)."""
    whens = " ".join(f"WHEN {mark(conn)} THEN {i}" for i in range(len(vocabulary)))
    return f"CASE {column} {whens} ELSE {other} END", tuple(vocabulary)


def scope_leads(*, conn: Connection, lead_ids: Iterable[int]) -> None:
    """Remember a set of leads (in a temporary table of this connection) for the `scoped` queries."""
    conn.exec_driver_sql("CREATE TEMP TABLE IF NOT EXISTS hl_scope (id INTEGER PRIMARY KEY)")
    conn.exec_driver_sql("DELETE FROM hl_scope")
    ids = "[" + ",".join(map(str, map(int, lead_ids))) + "]"
    if conn.dialect.name == "sqlite":  # one JSON text instead of a bound parameter per lead
        conn.exec_driver_sql(f"INSERT OR IGNORE INTO hl_scope (id) SELECT value FROM json_each({mark(conn)})", (ids,))
    else:  # one array; then statistics, without which the planner guesses 2,550 rows and hashes whole tables
        conn.exec_driver_sql("INSERT INTO hl_scope (id) SELECT DISTINCT unnest(%s::int[])",
                             ([int(i) for i in json.loads(ids)],))
        conn.exec_driver_sql("ANALYZE hl_scope")


def open_lead_ids(*, conn: Connection, among: Sequence[int] | None = None) -> list[int]:
    """Every lead still in play (no outcome; not won, lost or deleted in the CRM), or those of `among`, by id."""
    sql = ("SELECT l.id FROM lead l LEFT JOIN outcome o ON o.lead_id = l.id "
           f"WHERE o.id IS NULL AND l.status NOT IN {OUT_OF_PLAY}")
    if among is None:
        return [row[0] for row in _fetch(conn, sql + " ORDER BY l.id")]
    statement = text(sql + " AND l.id IN :ids ORDER BY l.id").bindparams(bindparam("ids", expanding=True))
    return [int(row[0]) for row in conn.execute(statement, {"ids": list(among)})]


def lead_ids_open_at(*, conn: Connection, moment: str) -> list[int]:
    """Every lead that was in play at `moment` (a stamp): created by then and not decided by then, by id."""
    sql = ("SELECT l.id FROM lead l LEFT JOIN outcome o ON o.lead_id = l.id WHERE l.created_at <= :moment AND "
           f"((o.id IS NULL AND l.status NOT IN {OUT_OF_PLAY}) OR o.closed_at > :moment) ORDER BY l.id")
    return [int(row[0]) for row in conn.execute(text(sql), {"moment": moment})]


def _fetch(conn: Connection, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Plain tuples straight from the driver: these queries return up to millions of rows."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


SCOPE = "IN (SELECT id FROM hl_scope)"


def _indexed(conn: Connection, index: str) -> str:
    """SQLite's INDEXED BY hint (its planner otherwise picks a worse index here); nothing elsewhere."""
    return f"INDEXED BY {index}" if conn.dialect.name == "sqlite" else ""


def _count_if(conn: Connection, condition: str) -> str:
    """How many rows meet a condition: SQLite sums the 0/1 it gives; PostgreSQL counts with FILTER."""
    return f"sum({condition})" if conn.dialect.name == "sqlite" else f"count(*) FILTER (WHERE {condition})"


def lead_rows(*, conn: Connection, attributes: bool = True) -> list[tuple[Any, ...]]:
    """Scoped leads with their account, in LEAD_COLUMNS order (attributes NULL unless asked for)."""
    shown = {"l.created_at": julian(conn, "l.created_at"), "l.attributes": "l.attributes" if attributes else "NULL"}
    columns = [shown.get(c, c) for c in LEAD_COLUMNS]
    sql = (
        f"SELECT {', '.join(columns)} FROM lead l LEFT JOIN account a ON a.id = l.account_id "
        f"WHERE l.id {SCOPE} ORDER BY l.id"
    )
    return _fetch(conn, sql)


ACTIVITY_RECORD = np.dtype([("lead_id", ">u8"), ("code", ">u2"), ("ms", ">u8")])
"""One record of `activity_records`: julian day = ms / 86,400,000 (how SQLite computes it, so exactly)."""


def activity_records(*, conn: Connection) -> np.ndarray:
    """(lead_id, code, julian day in milliseconds) of every activity of the scoped leads, as ACTIVITY_RECORD
    records; `code` is the kind's position in ACTIVITY_KINDS shifted left by PAGE_BITS, plus the page type's
    code (see storage.derived). SQLite writes them as one hex text: a Python tuple per row would cost more
    than the query itself, and this way the work runs without the GIL."""
    if conn.dialect.name != "sqlite":  # rows, turned into the same records
        rows = _fetch(conn, f"SELECT lead_id, code, CAST(round(day * 86400000) AS bigint) FROM activity "
                            f"WHERE lead_id {SCOPE}")
        return np.array(rows, dtype=[("lead_id", "<u8"), ("code", "<u2"), ("ms", "<u8")]).astype(ACTIVITY_RECORD)
    sql = (
        "SELECT group_concat(printf('%016x%04x%016x', lead_id, code, CAST(round(day * 86400000) AS INTEGER)), '') "
        f"FROM activity INDEXED BY ix_activity_lead_day WHERE lead_id {SCOPE}"
    )
    text = _fetch(conn, sql)[0][0]
    return np.frombuffer(bytes.fromhex(text or ""), dtype=ACTIVITY_RECORD)


def kind_codes(kinds: Sequence[str]) -> str:
    """A SQL list of the kind codes of `kinds` (names from a fixed vocabulary, never user input)."""
    return ", ".join(str(ACTIVITY_KINDS.index(k)) for k in kinds)


def engagement_rows(
    *, conn: Connection, skip: Sequence[str], seniorities: Sequence[str], since: float
) -> list[tuple[Any, ...]]:
    """(account_id, lead_id, seniority code, julian day) of every engagement since `since` (a julian day) by
    anyone at the scoped leads' accounts: the buying committee. Kinds in `skip` are not engagement."""
    level_sql, level_params = _code(conn, "l.seniority", seniorities, len(seniorities))
    sql = (
        f"SELECT l.account_id, l.id, {level_sql}, a.day FROM lead l "
        f"JOIN activity a {_indexed(conn, 'ix_activity_lead_day')} ON a.lead_id = l.id AND a.day >= {mark(conn)} "
        f"AND a.code >> {PAGE_BITS} NOT IN ({kind_codes(skip)}) "
        f"WHERE l.account_id IN (SELECT DISTINCT account_id FROM lead WHERE id {SCOPE})"
    )
    return _fetch(conn, sql, (*level_params, since))


def account_summary_rows(
    *, conn: Connection, skip: Sequence[str], seniorities: Sequence[str], until: float, month: float, week: float,
    four_weeks: float,
) -> list[tuple[Any, ...]]:
    """Per account of the scoped leads, engagement in julian-day ranges ending before `until`: (account_id,
    contacts engaged since `month`, their distinct seniority codes, events since `week`, events since
    `four_weeks`). Kinds in `skip` are not engagement; `month` must be the earliest start."""
    level_sql, level_params = _code(conn, "l.seniority", seniorities, len(seniorities))
    one = mark(conn)
    # each colleague summed first (one index range each), then each account: no sort of the events themselves
    sql = (
        f"SELECT l.account_id, count(*), count(DISTINCT {level_sql}), sum(x.week), sum(x.four_weeks) FROM ("
        f"SELECT a.lead_id, {_count_if(conn, f'a.day >= {one}')} AS week, "
        f"{_count_if(conn, f'a.day >= {one}')} AS four_weeks "
        f"FROM activity a {_indexed(conn, 'ix_activity_lead_day')} WHERE a.lead_id IN (SELECT id FROM lead "
        f"WHERE account_id IN (SELECT account_id FROM lead WHERE id {SCOPE})) AND a.day >= {one} AND a.day < {one} "
        f"AND a.code >> {PAGE_BITS} NOT IN ({kind_codes(skip)}) GROUP BY a.lead_id"
        f") x JOIN lead l ON l.id = x.lead_id GROUP BY l.account_id"
    )
    return _fetch(conn, sql, (*level_params, week, four_weeks, month, until))


NO_SIGNAL = 9e99  # message_rows' sentiment and urgency of a message without a signal: numbers stay numbers


def message_rows(*, conn: Connection) -> list[tuple[Any, ...]]:
    """(lead_id, inbound?, julian day, has a question?, sentiment, urgency) per scoped message; sentiment and
    urgency are NO_SIGNAL where the message has no signal yet."""
    sql = (
        f"SELECT m.lead_id, m.inbound, m.day, m.question, coalesce(s.sentiment, {NO_SIGNAL}), "
        f"coalesce(s.urgency, {NO_SIGNAL}) FROM message m {_indexed(conn, 'ix_message_lead_time')} "
        f"LEFT JOIN signal s ON s.message_id = m.id WHERE m.lead_id {SCOPE}"
    )
    return _fetch(conn, sql)


def message_entities(*, conn: Connection) -> list[tuple[Any, ...]]:
    """(lead_id, julian day, entities JSON) of the scoped leads' inbound messages whose signal found any span
    (an object inside the entities object: most messages have none, and their JSON need not be read)."""
    # SQLite: a "{" after the first character of the text; PostgreSQL: the same test on the JSONB itself (printing
    # every signal's document as text to look for "{" took most of a rescore's time there)
    spans = ("instr(substr(s.entities, 2), '{') > 0" if conn.dialect.name == "sqlite"
             else """jsonb_path_exists(s.entities, '$.*[*] ? (@.type() == "object")')""")
    sql = (
        f"SELECT m.lead_id, m.day, s.entities FROM message m {_indexed(conn, 'ix_message_lead_time')} "
        f"JOIN signal s ON s.message_id = m.id WHERE m.lead_id {SCOPE} AND m.inbound = 1 AND {spans}"
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


def decisions(*, conn: Connection) -> list[tuple[int, str, int, float | None]]:
    """(lead id, external id, converted, julian day of the decision or None) of every decided lead, in decision
    order (undated decisions last, in lead order)."""
    return [tuple(row) for row in conn.execute(text(  # type: ignore[misc]
        f"SELECT l.id, l.external_id, o.converted, {julian(conn, 'o.closed_at')} FROM outcome o "
        "JOIN lead l ON l.id = o.lead_id ORDER BY o.closed_at IS NULL, o.closed_at, l.id"))]


def won_amounts(*, conn: Connection) -> dict[int, float]:
    """Lead id → amount of every won deal with an amount above zero."""
    return {int(lead): float(amount) for lead, amount in conn.execute(text(
        "SELECT lead_id, amount FROM outcome WHERE converted = 1 AND amount > 0"))}


def latest_with_lead_reason(*, conn: Connection, group: str) -> list[tuple[int, float, str, str | None]]:
    """(lead id, probability, band, text of its first reason when that reason is of `group`, else None) of every
    lead's latest score. Only the few rows that lead with such a reason have their reasons read."""
    if conn.dialect.name == "sqlite":  # the stored JSON text starts the same way for all of them: no parse
        start = json_dumps([{"contribution": 0.0, "group": group, "text": ""}])[:-4]
        rows = _fetch(conn, f"SELECT lead_id, probability, band, CASE WHEN substr(reasons, 1, {mark(conn)}) = "
                            f"{mark(conn)} THEN reasons END FROM score WHERE id IN "
                            "(SELECT max(id) FROM score GROUP BY lead_id)", (len(start), start))
        return [(lead, p, band, json.loads(reasons)[0]["text"] if reasons else None) for lead, p, band, reasons in rows]
    return [tuple(row) for row in conn.execute(text(  # type: ignore[misc]
        "SELECT lead_id, probability, band, CASE WHEN reasons -> 0 ->> 'group' = :group THEN reasons -> 0 ->> 'text' "
        "END FROM score WHERE id IN (SELECT max(id) FROM score GROUP BY lead_id)"), {"group": group})]


def lead_by_key(*, conn: Connection, key: str) -> list[tuple[int, str, str, str | None, float | None]]:
    """(id, external id, name, account, julian day of its decision or None) of the lead with this external id,
    else of up to two leads with this name (any case)."""
    head = (f"SELECT l.id, l.external_id, l.name, a.name, {julian(conn, 'o.closed_at')} FROM lead l "
            "LEFT JOIN account a ON a.id = l.account_id LEFT JOIN outcome o ON o.lead_id = l.id WHERE ")
    rows = conn.execute(text(head + "l.external_id = :key"), {"key": key}).all()  # the indexed, common case
    if not rows:
        rows = conn.execute(text(head + "lower(l.name) = lower(:key) LIMIT 2"), {"key": key}).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def lead_keys(*, conn: Connection) -> list[str]:
    """Every lead's external id and name (for "did you mean")."""
    return [row[0] for row in conn.execute(text("SELECT external_id FROM lead UNION ALL SELECT name FROM lead"))]


def population_version(*, conn: Connection) -> tuple[Any, ...]:
    """Changes whenever a score is written or an outcome recorded or removed, by any process: the newest score id
    (an index lookup) and the outcomes' newest id and count (what decides which leads are still open)."""
    return tuple(conn.execute(text(
        "SELECT (SELECT max(id) FROM score), (SELECT max(id) FROM outcome), (SELECT count(*) FROM outcome)"
    )).one())


def open_latest_probabilities(*, conn: Connection) -> list[float]:
    """The latest probability of every undecided lead."""
    return [row[0] for row in conn.execute(text(
        "SELECT s.probability FROM score s JOIN (SELECT max(id) AS id FROM score GROUP BY lead_id) m ON m.id = s.id "
        "JOIN lead l ON l.id = s.lead_id LEFT JOIN outcome o ON o.lead_id = l.id WHERE o.id IS NULL"))]


_LATEST_OPEN = (
    "WITH ranked AS (SELECT id, lead_id, probability, percentile, band, reasons, "
    "ROW_NUMBER() OVER (PARTITION BY lead_id ORDER BY id DESC) AS rn FROM score) "
    "SELECT l.external_id, l.name, a.name, cur.probability, cur.percentile, cur.band, cur.reasons, "
    "prev.probability, l.id FROM ranked cur JOIN lead l ON l.id = cur.lead_id "
    "LEFT JOIN account a ON a.id = l.account_id LEFT JOIN ranked prev ON prev.lead_id = cur.lead_id AND prev.rn = 2 "
    f"LEFT JOIN outcome o ON o.lead_id = l.id WHERE cur.rn = 1 AND o.id IS NULL AND l.status NOT IN {OUT_OF_PLAY}"
)


def latest_open_scores(*, conn: Connection, band: str | None = None, limit: int | None = None,
                       with_account: bool = False) -> list[tuple[Any, ...]]:
    """(external id, name, account, probability, percentile, band, reasons, previous probability, lead id) of the
    open leads' latest scores, best first; of one band, only leads with an account, or the first `limit`, if
    asked."""
    sql = _LATEST_OPEN + (" AND cur.band = :band" if band else "") + (" AND a.name IS NOT NULL" if with_account else "")
    sql += " ORDER BY cur.probability DESC, l.id" + (" LIMIT :limit" if limit is not None else "")
    return [tuple(row) for row in conn.execute(text(sql), {"band": band, "limit": limit})]

