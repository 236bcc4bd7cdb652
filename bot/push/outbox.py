"""The outbox: every alert is a row of `alert` before it is sent; one worker sends due rows, retrying with
backoff, so that nothing is lost while Slack or Twilio is down."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from storage.db import json_dumps, json_loads
from storage.history import stamp

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
PARALLEL = 4  # sends in flight at once
BACKOFF_S = (1.0, 2.0, 5.0, 15.0, 60.0, 300.0)  # then 300 s until MAX_ATTEMPTS


class SendError(Exception):
    """A send that failed; `retry_after` (seconds) when the service said when to come back."""

    def __init__(self, message: str, retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


Sender = Callable[[dict[str, Any]], str | None]  # sends one alert row; returns the provider's reference


def enqueue(
    engine: Engine, *, kind: str, channel: str, target: str | None, dedupe_key: str, payload: dict[str, Any],
    lead_id: int | None = None, rep_id: int | None = None, not_before: datetime | None = None,
    now: datetime | None = None,
) -> int | None:
    """Queue an alert; None when one with the same dedupe key exists (it was already queued or sent)."""
    moment = now or datetime.now(UTC)
    try:
        with engine.begin() as conn:
            found = conn.execute(text(
                "INSERT INTO alert (lead_id, rep_id, kind, channel, dedupe_key, created_at, status, attempts, "
                "next_attempt_at, target, payload) VALUES (:lead, :rep, :kind, :channel, :key, :at, 'queued', 0, "
                ":next, :target, :payload) RETURNING id"
            ), {"lead": lead_id, "rep": rep_id, "kind": kind, "channel": channel, "key": dedupe_key,
                "at": stamp(moment), "next": stamp(not_before) if not_before else None, "target": target,
                "payload": json_dumps(payload)}).scalar_one()
    except IntegrityError:
        return None
    return int(found)


def backoff(attempts: int) -> float:
    """Seconds to wait before attempt number `attempts + 1`."""
    return BACKOFF_S[min(attempts, len(BACKOFF_S)) - 1] if attempts > 0 else 0.0


class Outbox:
    """Sends due alerts through one sender per channel, in a background thread woken by `wake()`."""

    def __init__(self, engine: Engine, senders: dict[str, Sender], *, max_attempts: int = MAX_ATTEMPTS,
                 backoff_s: Callable[[int], float] = backoff, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.senders = senders
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.clock = clock or (lambda: datetime.now(UTC))
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one delivery pass at a time: an alert is never sent twice

    def wake(self) -> None:
        """Look for due alerts now."""
        self._wake.set()

    def start(self) -> None:
        """Run the worker thread (after re-queueing what a previous process left half-sent)."""
        if self._thread is None:
            self.recover()
            self._thread = threading.Thread(target=self._run, name="hotlead-outbox", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the worker thread (queued alerts stay queued)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_due()
            except Exception:  # noqa: BLE001 - the worker must outlive a bad pass; the row stays queued
                log.exception("outbox pass failed")
            self._wake.wait(timeout=self._next_wait())
            self._wake.clear()

    def _next_wait(self) -> float:
        with self.engine.connect() as conn:
            due = conn.execute(text(
                "SELECT min(coalesce(next_attempt_at, created_at)) FROM alert WHERE status = 'queued'"
            )).scalar()
        if due is None:
            return 5.0
        wait = (datetime.fromisoformat(due).replace(tzinfo=UTC) - self.clock()).total_seconds()
        return min(max(wait, 0.0), 5.0)

    def deliver_due(self) -> int:
        """Send every queued alert that is due (a few at a time); returns how many were sent."""
        with self._lock:
            now = self.clock()
            with self.engine.begin() as conn:  # claimed rows are this pass's: nothing is sent twice
                rows = [dict(r._mapping) for r in conn.execute(text(
                    "UPDATE alert SET status = 'sending' WHERE status = 'queued' AND "
                    "(next_attempt_at IS NULL OR next_attempt_at <= :now) "
                    "RETURNING id, lead_id, rep_id, kind, channel, target, attempts, payload"
                ), {"now": stamp(now)})]
            for row in rows:
                row["payload"] = json_loads(row["payload"]) or {}
            rows.sort(key=lambda row: row["id"])
            if len(rows) <= 1:
                return sum(self._deliver(row) for row in rows)
            with ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="hotlead-send") as pool:
                return sum(pool.map(self._deliver, rows))

    def recover(self) -> int:
        """Put back alerts a stopped process was sending (at start-up): they are sent again rather than lost."""
        with self.engine.begin() as conn:
            return int(conn.execute(text("UPDATE alert SET status = 'queued' WHERE status = 'sending'")).rowcount)

    def _deliver(self, row: dict[str, Any]) -> int:
        sender = self.senders.get(row["channel"])
        attempts = row["attempts"] + 1
        try:
            if sender is None:
                raise SendError(f"{row['channel']} is not configured", permanent=True)
            reference = sender(row)
        except SendError as exc:
            final = exc.permanent or attempts >= self.max_attempts
            wait = exc.retry_after if exc.retry_after is not None else self.backoff_s(attempts)
            with self.engine.begin() as conn:
                conn.execute(text(
                    "UPDATE alert SET attempts = :attempts, status = :status, last_error = :error, "
                    "next_attempt_at = :next WHERE id = :id"
                ), {"attempts": attempts, "status": "failed" if final else "queued", "error": str(exc)[:500],
                    "next": stamp(self.clock() + timedelta(seconds=wait)), "id": row["id"]})
            log.warning("alert %s (%s to %s) attempt %s failed: %s", row["id"], row["kind"], row["channel"],
                        attempts, exc)
            return 0
        with self.engine.begin() as conn:
            conn.execute(text(
                "UPDATE alert SET attempts = :attempts, status = 'sent', sent_at = :now, external_ref = :ref, "
                "last_error = NULL WHERE id = :id"
            ), {"attempts": attempts, "now": stamp(self.clock()), "ref": reference, "id": row["id"]})
        return 1
