"""Write-back: each lead's score (0-100), band, top three reasons and score time into the CRM record it came from,
through the outbox like every alert: queued in the transaction that moves the write-back cursor (so each moved
score is queued once, across restarts and processes), superseded by a newer one for the same lead before it is
sent (the CRM only ever gets the newest), sent in the CRM's batches, retried with backoff until it lands.

Only scores that moved are written: the score history gets a row only when a lead's probability moved or its
band changed, and the cursor is the last score row queued.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Engine

from bot.crm.errors import CrmError
from bot.crm.records import ScoreUpdate
from bot.push.outbox import Channel, SendError
from storage import crm_sync
from storage import outbox as store

log = logging.getLogger(__name__)
KIND = "crm_score"  # the alert kind of a write-back
CURSOR = "writeback"  # crm_cursor kind: the last score id queued
REASONS = 3


class Writer(Protocol):
    """What a connector offers for write-back."""

    name: str
    target: str  # the object written (HubSpot "contacts", Salesforce "Lead")
    batch: int  # records per request (HubSpot 100, Salesforce 200)

    def write_scores(self, updates: list[ScoreUpdate]) -> dict[str, str | None]: ...


def queue_moved(engine: Engine, writer: Writer, now: datetime | None = None) -> int:
    """Queue the newest moved score of every lead from this CRM since the last call; how many were queued."""
    moment = now or datetime.now(UTC)
    with engine.begin() as conn:
        after = int(crm_sync.cursor(conn=conn, crm=writer.name, kind=CURSOR) or 0)
        rows, newest = crm_sync.scores_to_write(conn=conn, crm=writer.name, after_id=after)
        for row in rows:
            store.supersede_queued(conn, channel=writer.name, kind=KIND, lead_id=row["lead_id"])
            reasons = [r["text"] for r in row["reasons"] or []][:REASONS]
            payload = {"crm_id": row["crm_id"], "score": round(100 * float(row["probability"])),
                       "band": row["band"], "reasons": "\n".join(reasons), "scored_at": row["scored_at"].isoformat()}
            store.insert_alert(conn, kind=KIND, channel=writer.name, target=writer.target,
                               dedupe_key=f"{KIND}:{writer.name}:{row['id']}", payload=payload,
                               lead_id=row["lead_id"], rep_id=None, not_before=None, expires_at=None, now=moment)
        if newest > after:
            crm_sync.save_cursor(conn=conn, crm=writer.name, kind=CURSOR, value=str(newest), now=moment)
    return len(rows)


def update_of(payload: dict[str, Any]) -> ScoreUpdate:
    return ScoreUpdate(str(payload["crm_id"]), int(payload["score"]), str(payload["band"]), str(payload["reasons"]),
                       datetime.fromisoformat(str(payload["scored_at"])))


def channel(writer: Writer) -> Channel:
    """The outbox channel that writes scores back: a batch per request; a record the CRM refused fails alone
    (permanently: the same values would be refused again), a failed request is retried whole."""

    def send_batch(rows: list[dict[str, Any]]) -> dict[int, str | None | SendError]:
        updates = {row["id"]: update_of(row["payload"]) for row in rows}
        try:
            refused = writer.write_scores(list(updates.values()))
        except CrmError as exc:
            retry_after = getattr(exc, "retry_after", None)
            raise SendError(str(exc), retry_after=retry_after, rate_limited=retry_after is not None) from exc
        answers: dict[int, str | None | SendError] = {}
        for row_id, update in updates.items():
            why = refused.get(update.crm_id)
            answers[row_id] = SendError(why, permanent=True) if why else None
        return answers

    def send_one(row: dict[str, Any]) -> str | None:
        answer = send_batch([row])[row["id"]]
        if isinstance(answer, SendError):
            raise answer
        return answer

    return Channel(send_one, send_batch=send_batch, batch=writer.batch)

