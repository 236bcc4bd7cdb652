"""The outbox's SQL: alerts queued, claimed, paced, retried, expired and recorded as sent, one statement each.

Several server processes may share one outbox: a claim is a compare-and-set (`status = 'queued'` to
`'sending'`, so one process wins each alert), a target with an alert being sent is left to the process sending it
(one alert at a time per target, in order), and `claimed_at` is a lease: a claim older than the lease belongs to
a process that died, and goes back to the queue.

An alert moves queued -> sending -> sent, or to failed (refused for good), expired (too late to matter, see
`expires_at`) or superseded (a newer alert says more). `attempts` counts failures, never a rate limit;
`unsure_since` is set when an attempt's answer was lost (a timeout): before sending again the channel is checked
for the message, so that a post the service accepted but answered late never goes out twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, text

from storage.db import json_dumps, json_loads
from storage.history import stamp, utc

CLAIMED = "id, lead_id, rep_id, kind, channel, target, attempts, payload, unsure_since, created_at"


def insert_alert(
    conn: Connection, *, kind: str, channel: str, target: str | None, dedupe_key: str, payload: dict[str, Any],
    lead_id: int | None, rep_id: int | None, not_before: datetime | None, expires_at: datetime | None,
    now: datetime,
) -> int:
    """Queue one alert and return its id (IntegrityError when its dedupe key is taken)."""
    return int(conn.execute(text(
        "INSERT INTO alert (lead_id, rep_id, kind, channel, dedupe_key, created_at, status, attempts, "
        "next_attempt_at, expires_at, target, payload) VALUES (:lead, :rep, :kind, :channel, :key, :at, 'queued', "
        "0, :next, :expires, :target, :payload) RETURNING id"
    ), {"lead": lead_id, "rep": rep_id, "kind": kind, "channel": channel, "key": dedupe_key, "at": stamp(now),
        "next": stamp(not_before) if not_before else None, "expires": stamp(expires_at) if expires_at else None,
        "target": target, "payload": json_dumps(payload)}).scalar_one())


def _rows(result: Any) -> list[dict[str, Any]]:
    rows = [dict(row._mapping) for row in result]
    for row in rows:
        row["payload"] = json_loads(row["payload"]) or {}
    return sorted(rows, key=lambda row: row["id"])


def expire_due(conn: Connection, *, now: datetime) -> list[dict[str, Any]]:
    """Mark expired every queued alert whose `expires_at` has passed; returns them (id, kind, channel)."""
    return [dict(row._mapping) for row in conn.execute(text(
        "UPDATE alert SET status = 'expired', next_attempt_at = NULL, last_error = coalesce(last_error, "
        "'not sent in time') WHERE status = 'queued' AND expires_at IS NOT NULL AND expires_at <= :now "
        "RETURNING id, kind, channel"), {"now": stamp(now)})]


def claim_due(conn: Connection, *, channel: str, now: datetime, busy: set[str]) -> list[dict[str, Any]]:
    """Claim the oldest due alert of each target of `channel` (one per target: each target is paced on its own),
    skipping the targets in `busy` (paced or rate-limited for now), those with an alert being sent and those
    paused (by any process)."""
    due = conn.execute(text(
        "SELECT min(id) AS id, target FROM alert WHERE status = 'queued' AND channel = :channel AND "
        "(next_attempt_at IS NULL OR next_attempt_at <= :now) AND coalesce(target, '') NOT IN "
        "(SELECT coalesce(target, '') FROM alert WHERE status = 'sending' AND channel = :channel) AND "
        "coalesce(target, '') NOT IN (SELECT target FROM target_pause WHERE channel = :channel AND until > :now) "
        "GROUP BY target"),
        {"channel": channel, "now": stamp(now)}).all()
    ids = [row.id for row in due if (row.target or "") not in busy]
    if not ids:
        return []
    return _claim(conn, ids, now)


def claim_batch(conn: Connection, *, channel: str, target: str, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Claim up to `limit` more due alerts of one target, oldest first: for a channel that sends many in one
    request (a CRM's batch update), beside the one `claim_due` took."""
    ids = [row.id for row in conn.execute(text(
        "SELECT id FROM alert WHERE status = 'queued' AND channel = :channel AND target = :target AND "
        "(next_attempt_at IS NULL OR next_attempt_at <= :now) ORDER BY id LIMIT :limit"),
        {"channel": channel, "target": target, "now": stamp(now), "limit": limit})]
    return _claim(conn, ids, now) if ids else []


def supersede_queued(conn: Connection, *, kind: str, lead_id: int, channel: str | None = None) -> int:
    """Mark this lead's still-queued alerts of `kind` (on `channel`, or any) superseded: a newer one says more.
    How many there were."""
    return int(conn.execute(text(
        "UPDATE alert SET status = 'superseded' WHERE status = 'queued' AND kind = :kind AND lead_id = :lead"
        + (" AND channel = :channel" if channel is not None else "")),
        {"channel": channel, "kind": kind, "lead": lead_id}).rowcount)


def _claim(conn: Connection, ids: list[int], now: datetime) -> list[dict[str, Any]]:
    """Take these alerts for sending, those still queued (another process may have taken some first)."""
    statement = text(f"UPDATE alert SET status = 'sending', claimed_at = :now WHERE status = 'queued' AND id IN :ids "
                     f"RETURNING {CLAIMED}").bindparams(bindparam("ids", expanding=True))
    return _rows(conn.execute(statement, {"ids": ids, "now": stamp(now)}))


def claim_probe(
    conn: Connection, *, channel: str, busy: set[str], now: datetime,
) -> tuple[bool, dict[str, Any] | None]:
    """Claim the oldest alert of `channel` waiting after a failed attempt, due or not (a probe of a failing
    service): (whether the channel has one at all, the alert claimed: None when its target is busy)."""
    found = conn.execute(text(
        "SELECT id, target FROM alert WHERE status = 'queued' AND channel = :channel AND attempts > 0 "
        "ORDER BY id LIMIT 1"), {"channel": channel}).first()
    if found is None:
        return False, None
    if (found.target or "") in busy:
        return True, None
    rows = _claim(conn, [found.id], now)
    return True, (rows[0] if rows else None)


def mark_sent(conn: Connection, *, alert_id: int, attempts: int, reference: str | None, now: datetime) -> None:
    """The service has the alert."""
    conn.execute(text(
        "UPDATE alert SET attempts = :attempts, status = 'sent', sent_at = :now, external_ref = :ref, "
        "last_error = NULL, next_attempt_at = NULL WHERE id = :id"),
        {"attempts": attempts, "now": stamp(now), "ref": reference, "id": alert_id})


def mark_retry(
    conn: Connection, *, alert_id: int, attempts: int, error: str, next_at: datetime,
    unsure_at: datetime | None = None,
) -> None:
    """Put a claimed alert back in the queue until `next_at` (with its attempts counted as given); `unsure_at`
    when the attempt may have reached the service (its answer was lost). Unless a delivery callback proved it
    sent meanwhile."""
    conn.execute(text(
        "UPDATE alert SET attempts = :attempts, status = 'queued', last_error = :error, next_attempt_at = :next, "
        "unsure_since = coalesce(unsure_since, :unsure) WHERE id = :id AND status = 'sending'"),
        {"attempts": attempts, "error": error[:500], "next": stamp(next_at),
         "unsure": stamp(unsure_at) if unsure_at else None, "id": alert_id})


def mark_failed(conn: Connection, *, alert_id: int, attempts: int, error: str) -> None:
    """The service refused the alert for good (an unknown channel, blocks it will never take)."""
    conn.execute(text(
        "UPDATE alert SET attempts = :attempts, status = 'failed', last_error = :error, next_attempt_at = NULL "
        "WHERE id = :id AND status = 'sending'"), {"attempts": attempts, "error": error[:500], "id": alert_id})


def requeue_probe(conn: Connection, *, alert_id: int, error: str) -> None:
    """A probe that failed: the alert keeps its own schedule and attempts."""
    conn.execute(text("UPDATE alert SET status = 'queued', last_error = :error WHERE id = :id "
                      "AND status = 'sending'"), {"error": error[:500], "id": alert_id})


def release_channel(conn: Connection, *, channel: str) -> int:
    """The channel answers again: every alert of it waiting after a failure is due now (not those held on
    purpose, like quiet hours, which have no failed attempt)."""
    return int(conn.execute(text(
        "UPDATE alert SET next_attempt_at = NULL WHERE status = 'queued' AND channel = :channel AND attempts > 0"),
        {"channel": channel}).rowcount)


def recover_sending(conn: Connection, *, now: datetime, claimed_before: datetime) -> int:
    """Alerts claimed before `claimed_before` and still sending belong to a process that stopped: back to the
    queue, unsure since their claim (the send may have reached the service before the process died)."""
    return int(conn.execute(text(
        "UPDATE alert SET status = 'queued', unsure_since = coalesce(unsure_since, claimed_at, :now) "
        "WHERE status = 'sending' AND (claimed_at IS NULL OR claimed_at < :before)"),
        {"now": stamp(now), "before": stamp(claimed_before)}
    ).rowcount)


def due_by_target(conn: Connection, *, channel: str) -> dict[str, datetime]:
    """When each target of `channel` has a queued alert due (its earliest, or the end of its pause), as UTC
    datetimes."""
    rows = conn.execute(text(
        "SELECT target, min(coalesce(next_attempt_at, created_at)) AS due FROM alert WHERE status = 'queued' "
        "AND channel = :channel GROUP BY target"), {"channel": channel}).all()
    paused = {str(row.target): utc(row.until) for row in conn.execute(text(
        "SELECT target, until FROM target_pause WHERE channel = :channel"), {"channel": channel})}
    due = {str(row.target or ""): utc(row.due) for row in rows}
    return {target: max(at, paused.get(target, at)) for target, at in due.items()}


def pause_target(conn: Connection, *, channel: str, target: str, until: datetime) -> None:
    """No process posts to this target of `channel` before `until` (a later pause already set stays)."""
    conn.execute(text(
        "INSERT INTO target_pause (channel, target, until) VALUES (:channel, :target, :until) "
        "ON CONFLICT (channel, target) DO UPDATE SET until = CASE WHEN excluded.until > target_pause.until "
        "THEN excluded.until ELSE target_pause.until END"),
        {"channel": channel, "target": target, "until": stamp(until)})


def queued_count(conn: Connection) -> int:
    """Alerts waiting to be sent."""
    return int(conn.execute(text("SELECT count(*) FROM alert WHERE status = 'queued'")).scalar_one())
