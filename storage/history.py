"""Keyword-only queries the chat asks: names, score history, what a rep did about a lead."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, text

from storage.db import OUT_OF_PLAY, json_loads, marks


class LeadName(NamedTuple):
    """A lead as the chat names it."""

    id: int
    external_id: str
    name: str
    account: str | None
    owner_id: int | None


class AccountName(NamedTuple):
    """An account as the chat names it."""

    id: int
    name: str
    domain: str | None
    industry: str | None
    country: str | None


class ScoreRow(NamedTuple):
    """One row of a lead's score history."""

    lead_id: int
    scored_at: str
    probability: float
    percentile: float
    band: str
    reasons: list[dict[str, Any]]
    model_version_id: int | None = None


def stamp(moment: datetime) -> str:
    """A UTC datetime as the store writes it (comparable as text)."""
    return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def utc(value: Any) -> datetime:
    """A moment read back from the store (a stamp, or a datetime) as an aware UTC datetime: `stamp`'s inverse."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


NAMES_CHANGED = "names_changed"  # meta key: a new token each time an import writes leads or accounts


def name_version(*, conn: Connection) -> tuple[Any, ...]:
    """Changes whenever leads or accounts change, in any process (index lookups only): every import of leads,
    accounts or a CRM export writes a new NAMES_CHANGED token as it commits (a rename or an owner changed in place
    included), and the newest ids show rows added by any other writer."""
    return tuple(conn.execute(text(
        "SELECT (SELECT value FROM meta WHERE key = :key), (SELECT max(id) FROM lead), (SELECT max(id) FROM account)"
    ), {"key": NAMES_CHANGED}).one())


def names_changed(*, conn: Connection) -> None:
    """Record, in the writer's transaction, that leads or accounts changed (see name_version); run it last before
    the commit, so that the meta row is locked (PostgreSQL) for no longer than the commit takes."""
    conn.execute(text(
        "INSERT INTO meta (key, value) VALUES (:key, :token) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
    ), {"key": NAMES_CHANGED, "token": uuid.uuid4().hex})


def lead_names(*, conn: Connection) -> list[LeadName]:
    """Every lead with its account's name."""
    rows = conn.execute(text(
        "SELECT l.id, l.external_id, l.name, a.name, l.owner_id FROM lead l LEFT JOIN account a ON a.id = l.account_id"
    ))
    return [LeadName(*row) for row in rows]


def account_names(*, conn: Connection) -> list[AccountName]:
    """Every account."""
    return [AccountName(*row) for row in conn.execute(text(
        "SELECT id, name, domain, industry, country FROM account"
    ))]


_COLUMNS = "lead_id, scored_at, probability, percentile, band, reasons, model_version_id"


def _rows(conn: Connection, sql: str, lead_ids: Sequence[int], **params: Any) -> dict[int, ScoreRow]:
    statement = text(sql).bindparams(bindparam("ids", expanding=True))
    found = conn.execute(statement, {"ids": list(lead_ids), **params})
    return {row[0]: ScoreRow(row[0], row[1], row[2], row[3], row[4], json_loads(row[5]) or [], row[6])
            for row in found}


def latest_scores(*, conn: Connection, lead_ids: Sequence[int]) -> dict[int, ScoreRow]:
    """The newest score of each lead that has one."""
    return _rows(conn, f"SELECT {_COLUMNS} FROM score WHERE id IN "
                       "(SELECT max(id) FROM score WHERE lead_id IN :ids GROUP BY lead_id)", lead_ids)


def insert_scores(*, conn: Connection, records: Sequence[tuple[Any, ...]]) -> None:
    """Append score history rows: (lead id, model version id, scored at, probability, percentile, band, reasons
    as JSON text) each."""
    if records:
        conn.exec_driver_sql(
            "INSERT INTO score (lead_id, model_version_id, scored_at, probability, percentile, band, reasons) "
            f"VALUES ({marks(conn, 7)})", list(records))


def scores_at(*, conn: Connection, lead_ids: Sequence[int], moment: datetime) -> dict[int, ScoreRow]:
    """Each lead's score as it stood at `moment` (its newest row scored then or before)."""
    return _rows(conn, f"SELECT {_COLUMNS} FROM score WHERE id IN (SELECT max(id) FROM score "
                       "WHERE lead_id IN :ids AND scored_at <= :moment GROUP BY lead_id)",
                 lead_ids, moment=stamp(moment))


def account_leads(*, conn: Connection, account_id: int) -> list[LeadName]:
    """The leads of an account that are still open."""
    rows = conn.execute(text(
        "SELECT l.id, l.external_id, l.name, a.name, l.owner_id FROM lead l JOIN account a ON a.id = l.account_id "
        "LEFT JOIN outcome o ON o.lead_id = l.id "
        f"WHERE l.account_id = :account AND o.id IS NULL AND l.status NOT IN {OUT_OF_PLAY}"
    ), {"account": account_id})
    return [LeadName(*row) for row in rows]


# a rep's judgement of a lead, the latest one standing: not a fit (a stop), a fit after all (back to the model),
# hotter than its score and "talked: no budget" (each pins the band until its `until`)
VERDICTS = ("not_fit", "fit", "hotter", "no_budget")


def record_action(
    *, conn: Connection, lead_id: int, rep_id: int | None, action: str, moment: datetime,
    until: datetime | None = None, note: str | None = None,
) -> None:
    """Remember that a rep snoozed a lead, marked it contacted (both shown in the lead's status) or judged it
    (VERDICTS, with their words in `note`)."""
    conn.execute(text(
        "INSERT INTO lead_action (lead_id, rep_id, action, created_at, until, note) "
        "VALUES (:lead, :rep, :action, :at, :until, :note)"
    ), {"lead": lead_id, "rep": rep_id, "action": action, "at": stamp(moment),
        "until": stamp(until) if until else None, "note": note})
    if action in VERDICTS:
        return
    status = "snoozed" if action == "snooze" else "contacted"
    conn.execute(text(f"UPDATE lead SET status = :status WHERE id = :lead AND status NOT IN {OUT_OF_PLAY}"),
                 {"status": status, "lead": lead_id})


class Verdict(NamedTuple):
    """A rep's judgement of a lead: `action` one of VERDICTS, by whom (None: not a registered rep), when, why, and
    until when it pins the band (None: no end, or no pin)."""

    lead_id: int
    action: str
    created_at: datetime
    rep: str | None
    note: str | None
    until: datetime | None = None


def any_verdict(*, conn: Connection) -> bool:
    """Whether reps ever judged a lead (one index lookup)."""
    statement = text("SELECT 1 FROM lead_action WHERE action IN :actions LIMIT 1").bindparams(
        bindparam("actions", expanding=True))
    return conn.execute(statement, {"actions": list(VERDICTS)}).first() is not None


SCOPED_UP_TO = 1000  # leads: a scoring of more reads every verdict (a few per rep and week) in one go


def verdicts(*, conn: Connection, lead_id: int | None = None,
             lead_ids: Sequence[int] | None = None) -> list[Verdict]:
    """Every verdict reps gave, oldest first: on one lead, or on `lead_ids` when they are few (else all)."""
    scope = [lead_id] if lead_id is not None else list(lead_ids) if lead_ids is not None \
        and len(lead_ids) <= SCOPED_UP_TO else None
    statement = text(
        "SELECT a.lead_id, a.action, a.created_at, r.name, a.note, a.until FROM lead_action a "
        "LEFT JOIN rep r ON r.id = a.rep_id WHERE a.action IN :actions "
        + ("AND a.lead_id IN :ids " if scope is not None else "") + "ORDER BY a.created_at, a.id"
    ).bindparams(bindparam("actions", expanding=True))
    params: dict[str, Any] = {"actions": list(VERDICTS)}
    if scope is not None:
        statement = statement.bindparams(bindparam("ids", expanding=True))
        params["ids"] = [int(i) for i in scope]
    return [Verdict(lead, action, utc(at), rep, note, utc(until) if until is not None else None)
            for lead, action, at, rep, note, until in conn.execute(statement, params)]


def activity_counts(*, conn: Connection, lead_ids: Sequence[int], since: datetime) -> dict[str, int]:
    """Activities of these leads since a moment, by kind (page views by page type), and their messages by
    channel."""
    statement = text(
        "SELECT CASE WHEN page_type != '' THEN page_type || ' page' ELSE kind END, count(*) FROM activity "
        "WHERE lead_id IN :ids AND occurred_at >= :since GROUP BY 1 ORDER BY 2 DESC"
    ).bindparams(bindparam("ids", expanding=True))
    counts = {kind: n for kind, n in conn.execute(statement, {"ids": list(lead_ids), "since": stamp(since)})}
    said = text(
        "SELECT channel || ' message', count(*) FROM message WHERE lead_id IN :ids AND occurred_at >= :since "
        "AND direction = 'inbound' GROUP BY 1 ORDER BY 2 DESC"
    ).bindparams(bindparam("ids", expanding=True))
    counts.update({kind: n for kind, n in conn.execute(said, {"ids": list(lead_ids), "since": stamp(since)})})
    return counts


class RepRow(NamedTuple):
    """A member of the sales team as the chat knows them."""

    id: int
    name: str
    role: str
    slack_user_id: str | None
    whatsapp: str | None
    timezone: str
    whatsapp_seen_at: str | datetime | None  # a stamp on SQLite, a datetime on PostgreSQL


REP_KEYS = ("slack_user_id", "whatsapp", "name", "id")
_REP = "SELECT id, name, role, slack_user_id, whatsapp, timezone, whatsapp_seen_at FROM rep"


def find_rep(*, conn: Connection, key: str, value: str | int) -> RepRow | None:
    """The rep whose `key` (one of REP_KEYS) is `value` (names case-insensitively)."""
    if key not in REP_KEYS:
        raise ValueError(f"reps are found by one of {REP_KEYS}, not {key!r}")
    condition = f"lower({key}) = lower(:value)" if key == "name" else f"{key} = :value"
    row = conn.execute(text(f"{_REP} WHERE {condition}"), {"value": value}).first()
    return RepRow(*row) if row else None


def all_reps(*, conn: Connection) -> list[RepRow]:
    """Every rep, in the order they were added."""
    return [RepRow(*row) for row in conn.execute(text(f"{_REP} ORDER BY id"))]


def ranked_leads(
    *, conn: Connection, limit: int, band: str | None = None, industry: str | None = None,
    country: str | None = None, owner_ids: Sequence[int] | None = None, aside_at: datetime | None = None,
    contacted_days: float = 3.0,
) -> list[tuple[LeadName, ScoreRow]]:
    """Open leads by their latest score, best first, filtered by band, the account's industry or country, the
    owner; with `aside_at`, leaving out leads snoozed or recently contacted (see `set_aside`)."""
    sql = (
        "SELECT l.id, l.external_id, l.name, a.name, l.owner_id, s.lead_id, s.scored_at, s.probability, "
        "s.percentile, s.band, s.reasons FROM score s JOIN (SELECT max(id) AS id FROM score GROUP BY lead_id) m "
        "ON m.id = s.id JOIN lead l ON l.id = s.lead_id LEFT JOIN account a ON a.id = l.account_id "
        f"LEFT JOIN outcome o ON o.lead_id = l.id WHERE o.id IS NULL AND l.status NOT IN {OUT_OF_PLAY}"
    )
    params: dict[str, Any] = {"limit": limit}
    for clause, name, value in (
        (" AND s.band = :band", "band", band),
        (" AND lower(a.industry) = lower(:industry)", "industry", industry),
        (" AND lower(a.country) = lower(:country)", "country", country),
    ):
        if value:
            sql += clause
            params[name] = value
    if owner_ids is not None:
        sql += " AND l.owner_id IN :owners"
        params["owners"] = list(owner_ids)
    if aside_at is not None:
        sql += (" AND l.id NOT IN (SELECT lead_id FROM lead_action WHERE (action = 'snooze' AND until > :now) OR "
                "(action = 'contacted' AND created_at > :contacted_since))")
        params.update(now=stamp(aside_at), contacted_since=stamp(aside_at - timedelta(days=contacted_days)))
    statement = text(sql + " ORDER BY s.probability DESC, l.id LIMIT :limit")
    if owner_ids is not None:
        statement = statement.bindparams(bindparam("owners", expanding=True))
    return [(LeadName(*row[:5]), ScoreRow(row[5], row[6], row[7], row[8], row[9], json_loads(row[10]) or []))
            for row in conn.execute(statement, params)]
