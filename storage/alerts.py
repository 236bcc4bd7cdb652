"""Delivery callbacks of sent alerts: the carrier's status is kept apart from the outbox's own state and only
ever moves forward, whatever order the callbacks arrive in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from storage.history import stamp

# Twilio's message statuses (twilio.com/docs/messaging/api/message-resource#message-status-values) by how far
# a message got; a callback moves `alert.delivery` only to a higher rank, so a late `delivered` never
# overwrites `read`, and `queued` after `sent` changes nothing.
RANK = {
    "accepted": 0, "scheduled": 0, "receiving": 0, "received": 0,
    "queued": 1, "sending": 2, "sent": 3,
    "delivered": 4, "undelivered": 4, "failed": 4, "partially_delivered": 4, "canceled": 4,
    "read": 5,
}
FAILED = {"undelivered", "failed"}
OUTBOX_STATES = ("queued", "sending", "sent", "failed", "expired", "superseded")


@dataclass(frozen=True)
class Delivery:
    """What one callback did: the alert it belongs to (None: unknown message), its delivery status now,
    whether the callback moved it, and whether it proved an alert the outbox had not recorded as sent."""

    alert_id: int | None
    delivery: str | None
    moved: bool
    confirmed_sent: bool = False


def _find(conn: Connection, alert_id: int | None, sid: str) -> dict[str, Any] | None:
    if alert_id is not None:
        row = conn.execute(text(
            "SELECT id, status, delivery, external_ref FROM alert WHERE id = :id AND channel = 'whatsapp' "
            "AND (external_ref IS NULL OR external_ref = :sid)"), {"id": alert_id, "sid": sid}).first()
        if row is not None:
            return dict(row._mapping)
    row = conn.execute(text("SELECT id, status, delivery, external_ref FROM alert WHERE external_ref = :sid"),
                       {"sid": sid}).first()
    return dict(row._mapping) if row is not None else None


def record_delivery(
    *, conn: Connection, alert_id: int | None, sid: str, status: str, error_code: str | None, at: datetime,
) -> Delivery:
    """Record one delivery callback (every one, known status or not) and apply it to its alert: the delivery
    status moves forward only; an alert the outbox still holds (sending, or queued after a send whose answer
    was lost) is marked sent, because the carrier has it: it must never go out again."""
    alert = _find(conn, alert_id, sid)
    conn.execute(text(
        "INSERT INTO delivery_event (alert_id, external_ref, status, error_code, received_at) "
        "VALUES (:alert, :sid, :status, :error, :at)"),
        {"alert": alert["id"] if alert else None, "sid": sid, "status": status, "error": error_code,
         "at": stamp(at)})
    if alert is None or status not in RANK:
        return Delivery(alert["id"] if alert else None, alert["delivery"] if alert else None, False)
    confirmed = alert["status"] in ("queued", "sending", "failed", "expired")
    if confirmed:
        conn.execute(text(
            "UPDATE alert SET status = 'sent', external_ref = :sid, sent_at = coalesce(sent_at, :at), "
            "next_attempt_at = NULL WHERE id = :id"), {"sid": sid, "at": stamp(at), "id": alert["id"]})
    current = alert["delivery"]
    if current is not None and RANK.get(current, -1) >= RANK[status]:
        return Delivery(alert["id"], current, False, confirmed)
    error = f"Twilio error {error_code}" if error_code and status in FAILED else None
    conn.execute(text(
        "UPDATE alert SET delivery = :status, last_error = coalesce(:error, last_error) WHERE id = :id"),
        {"status": status, "error": error, "id": alert["id"]})
    return Delivery(alert["id"], status, True, confirmed)


def list_alerts(*, conn: Connection, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest alerts: id, lead (external id), kind, channel, target, status (the outbox's), delivery (the
    carrier's), attempts, sent_at, created_at, error."""
    where = " WHERE a.status = :status" if status else ""
    rows = conn.execute(text(
        "SELECT a.id, l.external_id AS lead, a.kind, a.channel, a.target, a.status, a.delivery, a.attempts, "
        "a.sent_at, a.created_at, a.last_error AS error FROM alert a LEFT JOIN lead l ON l.id = a.lead_id"
        f"{where} ORDER BY a.id DESC LIMIT :limit"), {"status": status, "limit": limit})
    return [dict(row._mapping) for row in rows]
