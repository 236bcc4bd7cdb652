"""The outbox: every alert is a row of `alert` before it is sent; one worker sends due rows, retrying with
backoff, so that nothing is lost while Slack or Twilio is down."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from storage.db import json_dumps, json_loads
from storage.history import stamp

log = logging.getLogger(__name__)
CLAIMED = "id, lead_id, rep_id, kind, channel, target, attempts, payload"
MAX_ATTEMPTS = 8
PARALLEL = 4  # sends in flight at once
BACKOFF_S = (1.0, 2.0, 5.0, 15.0, 60.0, 300.0)  # then 300 s until MAX_ATTEMPTS
PROBE_S = 5.0  # while a channel fails, its oldest queued alert is tried this often: a recovery is seen at once


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
                 backoff_s: Callable[[int], float] = backoff, clock: Callable[[], datetime] | None = None,
                 probe_s: float = PROBE_S) -> None:
        self.engine = engine
        self.senders = senders
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.clock = clock or (lambda: datetime.now(UTC))
        self.probe_s = probe_s
        self._probe_at: dict[str, datetime] = {}  # failing channels: when to try one of their alerts again
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
        now = self.clock()
        times = [datetime.fromisoformat(due).replace(tzinfo=UTC)] if due is not None else []
        waits = [(moment - now).total_seconds() for moment in times + list(self._probe_at.values())]
        return min(max(min(waits, default=5.0), 0.0), 5.0)

    def deliver_due(self) -> int:
        """Send every queued alert that is due (a few at a time), and probe the channels that were failing;
        returns how many were sent."""
        with self._lock:
            now = self.clock()
            with self.engine.begin() as conn:  # claimed rows are this pass's: nothing is sent twice
                rows = [dict(r._mapping) for r in conn.execute(text(
                    f"UPDATE alert SET status = 'sending' WHERE status = 'queued' AND "
                    f"(next_attempt_at IS NULL OR next_attempt_at <= :now) RETURNING {CLAIMED}"
                ), {"now": stamp(now)})]
                rows += self._claim_probes(conn, now, {row["channel"] for row in rows})
            for row in rows:
                row["payload"] = json_loads(row["payload"]) or {}
            rows.sort(key=lambda row: row["id"])
            if len(rows) <= 1:
                results = [self._deliver(row) for row in rows]
            else:
                with ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="hotlead-send") as pool:
                    results = list(pool.map(self._deliver, rows))
            self._note_outages(rows, results, now)
            return sum(result is True for result in results)

    def _claim_probes(self, conn: Connection, now: datetime, claimed: set[str]) -> list[dict[str, Any]]:
        """The oldest alert of each failing channel whose probe is due (and none of whose alerts is) among those
        waiting after a failed attempt: one held on purpose (quiet hours, a jump's minute) keeps its time."""
        probes = []
        for channel, at in list(self._probe_at.items()):
            if at > now or channel in claimed:
                continue
            found = conn.execute(text(
                f"UPDATE alert SET status = 'sending' WHERE id = (SELECT id FROM alert WHERE status = 'queued' AND "
                f"channel = :channel AND attempts > 0 ORDER BY id LIMIT 1) RETURNING {CLAIMED}"),
                {"channel": channel}).first()
            if found is None:
                del self._probe_at[channel]  # nothing of it is queued any more
            else:
                probes.append({**found._mapping, "probe": True})
        return probes

    def _note_outages(self, rows: list[dict[str, Any]], results: list[bool | float | None], now: datetime) -> None:
        """A channel that failed is probed every `probe_s`; one that answered again has its queue sent now."""
        back = set()
        for row, result in zip(rows, results, strict=True):
            if result is True:
                back.add(row["channel"])
            elif isinstance(result, float):  # a retryable failure: seconds the service asked for, or 0
                later = now + timedelta(seconds=max(self.probe_s, result))
                self._probe_at[row["channel"]] = max(later, self._probe_at.get(row["channel"], later))
        for channel in back & set(self._probe_at):
            del self._probe_at[channel]
            with self.engine.begin() as conn:
                waiting = conn.execute(text(
                    "UPDATE alert SET next_attempt_at = NULL WHERE status = 'queued' AND channel = :channel "
                    "AND attempts > 0"), {"channel": channel}).rowcount  # not those held on purpose (quiet hours)
            if waiting:
                log.info("%s answers again: sending its %s queued alerts now", channel, waiting)
                self._wake.set()

    def recover(self) -> int:
        """Put back alerts a stopped process was sending (at start-up): they are sent again rather than lost."""
        with self.engine.begin() as conn:
            return int(conn.execute(text("UPDATE alert SET status = 'queued' WHERE status = 'sending'")).rowcount)

    def _deliver(self, row: dict[str, Any]) -> bool | float | None:
        """True when sent; for a failure to try again, the seconds the service asked to wait (or 0.0); None
        when the alert failed for good. A probe that fails leaves the alert's own schedule as it was."""
        sender = self.senders.get(row["channel"])
        attempts = row["attempts"] + 1
        try:
            if sender is None:
                raise SendError(f"{row['channel']} is not configured", permanent=True)
            reference = sender(row)
        except SendError as exc:
            if row.get("probe") and not exc.permanent:
                with self.engine.begin() as conn:
                    conn.execute(text("UPDATE alert SET status = 'queued', last_error = :error WHERE id = :id "
                                      "AND status = 'sending'"),
                                 {"error": str(exc)[:500], "id": row["id"]})
                log.info("%s still fails (%s): alert %s stays queued", row["channel"], exc, row["id"])
                return float(exc.retry_after or 0.0)
            final = exc.permanent or attempts >= self.max_attempts
            wait = exc.retry_after if exc.retry_after is not None else self.backoff_s(attempts)
            with self.engine.begin() as conn:
                conn.execute(text(
                    "UPDATE alert SET attempts = :attempts, status = :status, last_error = :error, "
                    "next_attempt_at = :next WHERE id = :id AND status = 'sending'"  # unless a callback proved it
                ), {"attempts": attempts, "status": "failed" if final else "queued", "error": str(exc)[:500],
                    "next": stamp(self.clock() + timedelta(seconds=wait)), "id": row["id"]})
            log.warning("alert %s (%s to %s) attempt %s failed: %s", row["id"], row["kind"], row["channel"],
                        attempts, exc)
            return None if exc.permanent else float(exc.retry_after or 0.0)
        with self.engine.begin() as conn:
            conn.execute(text(
                "UPDATE alert SET attempts = :attempts, status = 'sent', sent_at = :now, external_ref = :ref, "
                "last_error = NULL WHERE id = :id"
            ), {"attempts": attempts, "now": stamp(self.clock()), "ref": reference, "id": row["id"]})
        return True
