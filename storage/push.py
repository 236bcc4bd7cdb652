"""What the push jobs read and write besides the outbox: alert facts and routing, the digest's score history and
last contacts, the model's recent decisions, live demos' leads and messages, and the reps' WhatsApp windows.
Written in SQL both engines run (bound parameters, no SQLite-only functions)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, text

from storage.db import OUT_OF_PLAY, json_loads
from storage.history import stamp, utc


def _expanding(sql: str, *names: str) -> Any:
    return text(sql).bindparams(*(bindparam(name, expanding=True) for name in names))


def alert_facts(*, conn: Connection, lead_id: int) -> dict[str, Any]:
    """What an alert about a lead says: its external id, name, account, and its owner (id, name, Slack, zone);
    and when the lead was created."""
    row = conn.execute(text(
        "SELECT l.external_id, l.name, a.name, l.owner_id, r.name, r.slack_user_id, r.timezone, l.created_at "
        "FROM lead l LEFT JOIN account a ON a.id = l.account_id LEFT JOIN rep r ON r.id = l.owner_id WHERE l.id = :id"
    ), {"id": lead_id}).one()
    facts = dict(zip(("lead", "name", "account", "owner_id", "owner", "owner_slack", "owner_zone", "created_at"), row,
                     strict=True))
    facts["created_at"] = utc(facts["created_at"])
    return facts


def least_loaded_rep(*, conn: Connection, role: str) -> tuple[int, str, str | None, str] | None:
    """(id, name, Slack id, time zone) of the rep in `role` with the fewest open leads (lowest id on a tie)."""
    found = conn.execute(text(
        "SELECT r.id, r.name, r.slack_user_id, r.timezone FROM rep r LEFT JOIN lead l ON l.owner_id = r.id "
        f"AND l.status NOT IN {OUT_OF_PLAY} WHERE r.role = :role "
        "GROUP BY r.id, r.name, r.slack_user_id, r.timezone ORDER BY count(l.id), r.id LIMIT 1"),
        {"role": role}).first()
    return None if found is None else (int(found[0]), str(found[1]), found[2], str(found[3]))


def alerted_since(*, conn: Connection, lead_id: int, kind: str, since: datetime) -> bool:
    """Whether an alert of this kind about this lead was created after `since`."""
    return conn.execute(text(
        "SELECT 1 FROM alert WHERE lead_id = :lead AND kind = :kind AND created_at > :since LIMIT 1"
    ), {"lead": lead_id, "kind": kind, "since": stamp(since)}).first() is not None


def scores_at(*, conn: Connection, moment: datetime) -> dict[int, tuple[float, str, list[dict[str, Any]]]]:
    """Every lead's (probability, band, reasons) as it stood at `moment`: its newest row scored then or before."""
    rows = conn.execute(text(
        "SELECT lead_id, probability, band, reasons FROM (SELECT lead_id, probability, band, reasons, row_number() "
        "OVER (PARTITION BY lead_id ORDER BY scored_at DESC, id DESC) AS n FROM score WHERE scored_at <= :moment) "
        "AS ranked WHERE n = 1"), {"moment": stamp(moment)})
    return {lead: (p, band, json_loads(reasons) or []) for lead, p, band, reasons in rows}


def last_heard(*, conn: Connection, lead_ids: Sequence[int], now: datetime,
               not_engagement: Collection[str]) -> dict[int, str]:
    """Each lead's newest engaging activity (a kind not in `not_engagement`) or inbound message up to `now`,
    as a stamp."""
    if not lead_ids:
        return {}
    rows = conn.execute(_expanding(
        "SELECT lead_id, max(t) FROM (SELECT lead_id, occurred_at AS t FROM activity WHERE lead_id IN :ids "
        "AND kind NOT IN :kinds AND occurred_at <= :now UNION ALL SELECT lead_id, occurred_at FROM message "
        "WHERE lead_id IN :ids AND direction = 'inbound' AND occurred_at <= :now) AS heard GROUP BY lead_id",
        "ids", "kinds"), {"ids": list(lead_ids), "kinds": list(not_engagement) or [""], "now": stamp(now)})
    return {lead: stamp(at) if isinstance(at, datetime) else str(at) for lead, at in rows}


def decisions_with_last_score(*, conn: Connection, since: datetime, now: datetime) -> list[tuple[int, float]]:
    """(converted, the lead's last probability scored before it closed) of every lead closed in (since, now]
    that had a score by then."""
    rows = conn.execute(text(
        "SELECT o.converted, (SELECT s.probability FROM score s WHERE s.lead_id = o.lead_id "
        "AND s.scored_at < o.closed_at ORDER BY s.scored_at DESC, s.id DESC LIMIT 1) FROM outcome o "
        "WHERE o.closed_at > :since AND o.closed_at <= :now"), {"since": stamp(since), "now": stamp(now)})
    return [(int(converted), float(p)) for converted, p in rows if p is not None]


def lead_people(*, conn: Connection, lead_ids: Collection[int]) -> dict[int, tuple[int | None, str, str | None]]:
    """(account id, name, title) of each of these leads."""
    if not lead_ids:
        return {}
    rows = conn.execute(_expanding("SELECT id, account_id, name, title FROM lead WHERE id IN :ids", "ids"),
                        {"ids": list(lead_ids)})
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def inbound_said(*, conn: Connection, message_ids: Collection[int]) -> dict[int, tuple[str, float, dict[str, Any]]]:
    """(text, urgency or 0, entities) of each of these messages that is inbound."""
    if not message_ids:
        return {}
    rows = conn.execute(_expanding(
        "SELECT m.id, m.text, s.urgency, s.entities FROM message m LEFT JOIN signal s ON s.message_id = m.id "
        "WHERE m.id IN :ids AND m.direction = 'inbound'", "ids"), {"ids": list(message_ids)})
    return {r[0]: (r[1], r[2] or 0.0, json_loads(r[3]) or {}) for r in rows}


def mark_whatsapp_seen(*, conn: Connection, now: datetime, rep_id: int | None = None) -> None:
    """Record that the rep (every rep when `rep_id` is None) wrote on WhatsApp at `now`."""
    if rep_id is None:
        conn.execute(text("UPDATE rep SET whatsapp_seen_at = :now"), {"now": stamp(now)})
    else:
        conn.execute(text("UPDATE rep SET whatsapp_seen_at = :now WHERE id = :rep"), {"now": stamp(now), "rep": rep_id})


def lead_id_by_key(*, conn: Connection, key: str) -> int | None:
    """The lead with this external id, else the first one with this name (any case)."""
    found = conn.execute(text("SELECT id FROM lead WHERE external_id = :key OR lower(name) = lower(:key) "
                              "ORDER BY CASE WHEN external_id = :key THEN 0 ELSE 1 END, id LIMIT 1"),
                         {"key": key}).scalar()
    return None if found is None else int(found)


def rep_id_by_key(*, conn: Connection, key: str) -> int | None:
    """The rep with this name or email (any case), Slack id or WhatsApp number."""
    found = conn.execute(text("SELECT id FROM rep WHERE lower(name) = lower(:key) OR slack_user_id = :key OR "
                              "whatsapp = :key OR lower(email) = lower(:key) ORDER BY id LIMIT 1"),
                         {"key": key}).scalar()
    return None if found is None else int(found)


def lead_count(*, conn: Connection) -> int:
    """How many leads the database holds."""
    return int(conn.execute(text("SELECT count(*) FROM lead")).scalar_one())
