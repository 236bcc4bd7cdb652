"""Live-demo windows (`demo_session`): one per lead and rep at a time. A window that overlaps or touches one the
same rep already has with the same lead extends it instead of opening a second (a calendar imported twice, or a
`demo-session start` repeated, must not send every alert twice)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, text

from storage.history import stamp


class Opened(NamedTuple):
    """The session a window went into, and whether it joined one that was there."""

    id: int
    merged: bool


def open_session(conn: Connection, *, lead_id: int, rep_id: int, starts_at: datetime, ends_at: datetime,
                 source: str) -> Opened:
    """Open the window [starts_at, ends_at) for the lead and rep, or widen the session(s) it overlaps or touches
    to cover both (the oldest is kept, the others folded into it)."""
    begin, end = stamp(starts_at), stamp(ends_at)
    found = conn.execute(text(
        "SELECT id, starts_at, ends_at FROM demo_session WHERE lead_id = :lead AND rep_id = :rep "
        "AND starts_at <= :end AND ends_at >= :begin ORDER BY id"),
        {"lead": lead_id, "rep": rep_id, "begin": begin, "end": end}).all()
    if not found:
        return Opened(int(conn.execute(text(
            "INSERT INTO demo_session (lead_id, rep_id, starts_at, ends_at, source) VALUES (:lead, :rep, :begin, "
            ":end, :source) RETURNING id"),
            {"lead": lead_id, "rep": rep_id, "begin": begin, "end": end, "source": source}).scalar_one()), False)
    keep = int(found[0].id)
    first = min([begin, *(_text(row.starts_at) for row in found)])
    last = max([end, *(_text(row.ends_at) for row in found)])
    conn.execute(text("UPDATE demo_session SET starts_at = :first, ends_at = :last WHERE id = :id"),
                 {"first": first, "last": last, "id": keep})
    for row in found[1:]:
        conn.execute(text("DELETE FROM demo_session WHERE id = :id"), {"id": int(row.id)})
    return Opened(keep, True)


def _text(value: Any) -> str:
    """A stored moment as `stamp` writes it (PostgreSQL gives datetimes back, SQLite the text)."""
    return stamp(value) if isinstance(value, datetime) else str(value)


def open_sessions(conn: Connection, *, now: datetime) -> list[tuple[Any, ...]]:
    """Sessions whose window contains `now`: id, lead id, account id, lead name, account name, rep id, the rep's
    WhatsApp number, end."""
    return [tuple(row) for row in conn.execute(text(
        "SELECT d.id, d.lead_id, l.account_id, l.name, a.name, d.rep_id, r.whatsapp, d.ends_at FROM demo_session d "
        "JOIN lead l ON l.id = d.lead_id LEFT JOIN account a ON a.id = l.account_id JOIN rep r ON r.id = d.rep_id "
        "WHERE d.starts_at <= :now AND d.ends_at > :now ORDER BY d.id"), {"now": stamp(now)}).all()]


def recent_sessions(conn: Connection, *, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
    """The newest sessions: id, lead, name, rep, starts_at, ends_at, source and whether it is open at `now`."""
    rows = conn.execute(text(
        "SELECT d.id, l.external_id, l.name, r.name, d.starts_at, d.ends_at, d.source, "
        "d.starts_at <= :now AND d.ends_at > :now FROM demo_session d JOIN lead l ON l.id = d.lead_id "
        "JOIN rep r ON r.id = d.rep_id ORDER BY d.id DESC LIMIT :limit"), {"now": stamp(now), "limit": limit}).all()
    return [{**dict(zip(("id", "lead", "name", "rep", "starts_at", "ends_at", "source"), row[:7], strict=True)),
             "open": bool(row[7])} for row in rows]


def end_session(conn: Connection, *, session_id: int, now: datetime) -> bool:
    """Close an open session now; False when it was not open."""
    return bool(conn.execute(text("UPDATE demo_session SET ends_at = :now WHERE id = :id AND ends_at > :now"),
                             {"now": stamp(now), "id": session_id}).rowcount)
