"""The outbox: every alert is a row of `alert` before it is sent, and it is sent until it is delivered or expires.

- One worker thread per channel (Slack, WhatsApp): a Slack that hangs or is down never delays a WhatsApp alert.
- Each target (a Slack channel or DM, a WhatsApp number) is paced on its own: Slack takes about one message a
  second per channel, so a burst of alerts to #sales goes out at that pace instead of meeting 429s. A 429 is
  pacing too: the target waits for Retry-After, and the alert keeps all its attempts.
- A failure (Slack down, a 5xx, a timeout) backs off (1 s, 2 s, 5 s, 15 s, 60 s, then every 5 minutes) with no
  limit on attempts; while a channel fails, its oldest alert is tried every few seconds as a probe, and the first
  probe through sends the channel's whole queue at once.
- An alert ends `sent`, `failed` (refused for good: an unknown channel, blocks Slack never takes), `superseded`,
  or `expired` when it could not be sent in time: a live-demo alert once its demo has ended, any other alert
  after EXPIRES_AFTER (a week).
- An attempt whose answer was lost (a timeout, a reset connection, a 5xx) may have been posted: before sending
  that alert again, the channel's `find` looks for it (Slack: the message's metadata carries the alert's id), so
  a post Slack accepted but answered late is never sent twice. Alerts a killed process was sending are unsure
  in the same way when the next process starts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from storage import outbox as store

log = logging.getLogger(__name__)
PARALLEL = 4  # sends in flight at once per channel (each to a different target)
BACKOFF_S = (1.0, 2.0, 5.0, 15.0, 60.0, 300.0)  # then 300 s, for as long as the alert has not expired
PROBE_S = 5.0  # while a channel fails, its oldest queued alert is tried this often: a recovery is seen at once
EXPIRES_AFTER = timedelta(days=7)  # an alert that could not be sent for a week is old news: expired
RATE_LIMITED_S = 1.0  # a 429 without Retry-After
IDLE_S = 5.0  # the longest a worker sleeps: alerts another process queued are seen this soon
LEASE_S = 300.0  # a claim older than this belongs to a process that died: its alert is queued again (every send
# gives up long before: the Slack and Twilio clients time out within a minute)


class SendError(Exception):
    """A send that failed.

    `retry_after`: seconds the service asked to wait; `permanent`: never try again; `rate_limited`: a 429, which
    is pacing and not a failed attempt; `unsure`: the request may have reached the service (its answer was lost),
    so the channel must be checked before the alert is sent again.
    """

    def __init__(self, message: str, retry_after: float | None = None, permanent: bool = False, *,
                 rate_limited: bool = False, unsure: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent
        self.rate_limited = rate_limited
        self.unsure = unsure


Send = Callable[[dict[str, Any]], str | None]  # sends one alert row; returns the provider's reference
# sends several rows of one target in one request; per row id: the provider's reference, or the SendError that
# row alone met (a record the service refused); raises SendError when the whole request failed
SendBatch = Callable[[list[dict[str, Any]]], dict[int, "str | None | SendError"]]


@dataclass(frozen=True)
class Channel:
    """How alerts reach one channel: `send` posts one; `find` returns the reference of an alert already posted
    (None if it is not there), asked before re-sending an alert whose earlier answer was lost; `pace_s` is the
    least time between two sends to one target. A channel with `send_batch` sends up to `batch` alerts of one
    target in one request (a CRM's batch update): a write-back the CRM answered for is never written again, one
    it refused fails alone, and a request that failed as a whole is retried as a whole."""

    send: Send
    find: Send | None = None
    pace_s: float = 0.0
    send_batch: SendBatch | None = None
    batch: int = 1


Sender = Channel | Send


def enqueue(
    engine: Engine, *, kind: str, channel: str, target: str | None, dedupe_key: str, payload: dict[str, Any],
    lead_id: int | None = None, rep_id: int | None = None, not_before: datetime | None = None,
    now: datetime | None = None, expires_at: datetime | None = None,
) -> int | None:
    """Queue an alert; None when one with the same dedupe key exists (it was already queued or sent). It expires
    at `expires_at` (default: EXPIRES_AFTER after it was queued, or after `not_before` when it is held)."""
    moment = now or datetime.now(UTC)
    expires = expires_at or max(moment, not_before or moment) + EXPIRES_AFTER
    try:
        with engine.begin() as conn:
            return store.insert_alert(conn, kind=kind, channel=channel, target=target, dedupe_key=dedupe_key,
                                      payload=payload, lead_id=lead_id, rep_id=rep_id, not_before=not_before,
                                      expires_at=expires, now=moment)
    except IntegrityError:
        return None


def backoff(attempts: int) -> float:
    """Seconds to wait before attempt number `attempts + 1`."""
    return BACKOFF_S[min(attempts, len(BACKOFF_S)) - 1] if attempts > 0 else 0.0


@dataclass(frozen=True)
class _Result:
    sent: bool = False
    failing: bool = False  # a failure that says the service is in trouble: probe it
    retry_after: float = 0.0


class Outbox:
    """Sends due alerts through one Channel per channel name, each in its own worker thread."""

    def __init__(self, engine: Engine, senders: dict[str, Sender], *,
                 backoff_s: Callable[[int], float] = backoff, clock: Callable[[], datetime] | None = None,
                 probe_s: float = PROBE_S, lease_s: float = LEASE_S) -> None:
        self.engine = engine
        self.channels = {name: s if isinstance(s, Channel) else Channel(s) for name, s in senders.items()}
        self.backoff_s = backoff_s
        self.clock = clock or (lambda: datetime.now(UTC))
        self.probe_s = probe_s
        self.lease_s = lease_s
        self._recovered_at: datetime | None = None
        self._probe_at: dict[str, datetime] = {}  # failing channels: when to try one of their alerts again
        self._free_at: dict[tuple[str, str], datetime] = {}  # (channel, target): not before then (pace, 429)
        self._locks = {name: threading.Lock() for name in self.channels}  # one pass per channel at a time
        self._wakes = {name: threading.Event() for name in self.channels}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def wake(self) -> None:
        """Look for due alerts now."""
        for event in self._wakes.values():
            event.set()

    def start(self) -> None:
        """Run a worker thread per channel (after re-queueing what a previous process left half-sent)."""
        if self._threads:
            return
        self.recover()
        self._stop.clear()
        for name in self.channels:
            thread = threading.Thread(target=self._run, args=(name,), name=f"hotlead-outbox-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop the worker threads (queued alerts stay queued)."""
        self._stop.set()
        self.wake()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads = []

    def recover(self) -> int:
        """Put back alerts a stopped process was sending (claimed longer than the lease ago, by this process before
        a restart or by another one): they are sent again rather than lost, once the channel has been checked for
        them. Runs at start-up and then every quarter lease."""
        now = self.clock()
        self._recovered_at = now
        with self.engine.begin() as conn:
            found = store.recover_sending(conn, now=now, claimed_before=now - timedelta(seconds=self.lease_s))
        if found:
            log.warning("%s alerts were left sending by a stopped process: queued again", found)
        return found

    def _run(self, channel: str) -> None:
        wake = self._wakes[channel]
        while not self._stop.is_set():
            try:
                self.deliver_due(channel)
                wait = self._next_wait(channel)
            except Exception:  # noqa: BLE001 - the worker must outlive a bad pass; the row stays queued
                log.exception("outbox pass for %s failed", channel)
                wait = IDLE_S
            wake.wait(timeout=wait)
            wake.clear()

    def _next_wait(self, channel: str) -> float:
        """Seconds until this channel has something to do: an alert due on a target that is free, or a probe."""
        now = self.clock()
        with self.engine.connect() as conn:
            due = store.due_by_target(conn, channel=channel)
        moments = [max(at, self._free_at.get((channel, target), at)) for target, at in due.items()]
        if channel in self._probe_at:
            moments.append(self._probe_at[channel])
        waits = [(moment - now).total_seconds() for moment in moments]
        return min(max(min(waits, default=IDLE_S), 0.0), IDLE_S)

    def deliver_due(self, channel: str | None = None) -> int:
        """Send every alert that is due (of one channel, or all) on a target that is free, and probe the channels
        that were failing; returns how many were sent."""
        names = [channel] if channel else list(self.channels)
        sent = 0
        for name in names:
            with self._locks[name]:
                sent += self._pass(name)
        return sent

    def _busy(self, channel: str, now: datetime) -> set[str]:
        return {target for (name, target), at in self._free_at.items() if name == channel and at > now}

    def _pass(self, channel: str) -> int:
        now = self.clock()
        if self._recovered_at is None or now - self._recovered_at >= timedelta(seconds=self.lease_s / 4):
            self.recover()
        busy = self._busy(channel, now)
        with self.engine.begin() as conn:  # claimed rows are this pass's: nothing is sent twice
            for alert in store.expire_due(conn, now=now):
                log.warning("alert %s (%s to %s) expired before it could be sent", alert["id"], alert["kind"],
                            alert["channel"])
            rows = store.claim_due(conn, channel=channel, now=now, busy=busy)
            way = self.channels[channel]
            if way.send_batch is not None and way.batch > 1:
                groups = [[row, *store.claim_batch(conn, channel=channel, target=str(row["target"]), now=now,
                                                   limit=way.batch - 1)] for row in rows]
            probe_at = self._probe_at.get(channel)
            if not rows and probe_at is not None and probe_at <= now:
                waiting, probe = store.claim_probe(conn, channel=channel, busy=busy, now=now)
                if not waiting:
                    del self._probe_at[channel]  # nothing of it is queued any more
                elif probe is not None:
                    rows = [{**probe, "probe": True}]
                    groups = [rows]
        if way.send_batch is not None and way.batch > 1:
            results = [result for group in groups for result in self._deliver_batch(channel, group)]
        elif len(rows) <= 1:
            results = [self._deliver(channel, row) for row in rows]
        else:
            with ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix=f"hotlead-send-{channel}") as pool:
                results = list(pool.map(lambda row: self._deliver(channel, row), rows))
        self._note_outage(channel, results, now)
        return sum(result.sent for result in results)

    def _note_outage(self, channel: str, results: list[_Result], now: datetime) -> None:
        """A channel that failed is probed every `probe_s`; one that answered again has its queue sent now."""
        if any(result.sent for result in results):
            if self._probe_at.pop(channel, None) is not None:
                with self.engine.begin() as conn:
                    waiting = store.release_channel(conn, channel=channel)
                if waiting:
                    log.info("%s answers again: sending its %s queued alerts now", channel, waiting)
                    self._wakes[channel].set()
            return
        failures = [result for result in results if result.failing]
        if failures:
            later = now + timedelta(seconds=max(self.probe_s, *(f.retry_after for f in failures)))
            self._probe_at[channel] = max(later, self._probe_at.get(channel, later))

    def _deliver(self, channel: str, row: dict[str, Any]) -> _Result:
        """Send one claimed alert (or find it already posted) and record what happened."""
        way = self.channels[channel]
        attempts = row["attempts"] + 1
        target = str(row["target"] or "")
        try:
            reference = way.find(row) if way.find is not None and row.get("unsure_since") else None
            if reference is None:
                reference = way.send(row)
            elif reference:
                log.info("alert %s was posted by an attempt whose answer was lost: not sending it again", row["id"])
        except SendError as exc:
            return self._failed(channel, row, attempts, exc)
        now = self.clock()
        if way.pace_s:
            self._free_at[(channel, target)] = now + timedelta(seconds=way.pace_s)
        with self.engine.begin() as conn:
            store.mark_sent(conn, alert_id=row["id"], attempts=attempts, reference=reference, now=now)
        return _Result(sent=True)

    def _deliver_batch(self, channel: str, rows: list[dict[str, Any]]) -> list[_Result]:
        """Send claimed alerts of one target in one request and record what happened to each."""
        way = self.channels[channel]
        assert way.send_batch is not None
        try:
            answers = way.send_batch(rows)
        except SendError as exc:  # the request as a whole: each row is retried (or paced) as it would be alone
            return [self._failed(channel, row, row["attempts"] + 1, exc) for row in rows]
        now = self.clock()
        results, sent = [], []
        for row in rows:
            answer = answers.get(row["id"], SendError("the batch's answer did not mention it", unsure=True))
            if isinstance(answer, SendError):
                results.append(self._failed(channel, row, row["attempts"] + 1, answer))
            else:
                sent.append((row, answer))
        with self.engine.begin() as conn:  # what the CRM took, recorded in one transaction (a batch is 100-200)
            for row, reference in sent:
                store.mark_sent(conn, alert_id=row["id"], attempts=row["attempts"] + 1, reference=reference, now=now)
        return [*results, *(_Result(sent=True) for _ in sent)]

    def _failed(self, channel: str, row: dict[str, Any], attempts: int, exc: SendError) -> _Result:
        now = self.clock()
        target = str(row["target"] or "")
        with self.engine.begin() as conn:
            if exc.rate_limited:  # pacing: the target waits as long as asked, and the alert loses no attempt
                wait = timedelta(seconds=exc.retry_after if exc.retry_after is not None else RATE_LIMITED_S)
                self._free_at[(channel, target)] = now + wait
                store.pause_target(conn, channel=channel, target=target, until=now + wait)  # for every process
                store.mark_retry(conn, alert_id=row["id"], attempts=row["attempts"], error=str(exc),
                                 next_at=now + wait)
                log.info("alert %s: %s asks to wait %.0f s before posting to %s", row["id"], channel,
                         wait.total_seconds(), target)
                return _Result()
            if exc.permanent:
                store.mark_failed(conn, alert_id=row["id"], attempts=attempts, error=str(exc))
                log.warning("alert %s (%s to %s) refused for good: %s", row["id"], row["kind"], channel, exc)
                return _Result()
            unsure = now if exc.unsure else None
            if row.get("probe"):
                if unsure:
                    store.mark_retry(conn, alert_id=row["id"], attempts=row["attempts"], error=str(exc),
                                     next_at=now + timedelta(seconds=self.probe_s), unsure_at=unsure)
                else:
                    store.requeue_probe(conn, alert_id=row["id"], error=str(exc))
                log.info("%s still fails (%s): alert %s stays queued", channel, exc, row["id"])
            else:
                seconds = exc.retry_after if exc.retry_after is not None else self.backoff_s(attempts)
                store.mark_retry(conn, alert_id=row["id"], attempts=attempts, error=str(exc),
                                 next_at=now + timedelta(seconds=seconds), unsure_at=unsure)
                log.warning("alert %s (%s to %s) attempt %s failed: %s", row["id"], row["kind"], channel,
                            attempts, exc)
        return _Result(failing=True, retry_after=float(exc.retry_after or 0.0))
