"""HTTP intake: `POST /api/events` and `POST /api/messages` (bearer token), and Twilio's delivery callbacks."""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.channels.whatsapp import verified_form
from bot.config import Settings
from bot.push.schemas import checked, parse_json
from storage.alerts import RANK, Delivery, record_delivery
from storage.errors import NotFoundError
from storage.live import FieldError, Stored, store
from storage.spool import Spool, is_busy, lock_wait

log = logging.getLogger(__name__)


def authorised(settings: Settings, request: Request) -> bool:
    """Whether the request carries the bearer HOTLEAD_API_TOKEN (compared in constant time)."""
    expected = settings.hotlead_api_token
    given = request.headers.get("Authorization", "")
    if not expected or not given.startswith("Bearer "):
        return False
    return hmac.compare_digest(given.removeprefix("Bearer ").strip().encode(), expected.encode())


LOCK_WAIT_S = 0.5  # how long a request waits for the database's write lock before its body is spooled
POLL_S = 1.0  # how often the drainer looks for bodies another server process spooled


class Accepts(Protocol):
    """What the intake hands stored items to: the live pipeline."""

    def accept(self, kind: str, stored: list[Stored]) -> None:
        """Take items just stored."""


@dataclass(frozen=True)
class Taken:
    """What became of a checked body: stored now (`stored`), or spooled (`spooled`: its spool id)."""

    stored: list[Stored]
    spooled: int | None = None


class Intake:
    """Stores checked bodies, waiting at most `lock_wait_s` for the database; while it is busy (a bulk import),
    they wait in the spool, and a drainer thread stores them oldest first as soon as the lock frees, handing
    them to the pipeline exactly as a direct store does. Without a spool (PostgreSQL, an in-memory database),
    a busy database is an error the endpoint answers 503."""

    def __init__(self, engine: Engine, pipeline: Accepts, spool: Spool | None, *, lock_wait_s: float = LOCK_WAIT_S,
                 poll_s: float = POLL_S) -> None:
        self.engine = engine
        self.pipeline = pipeline
        self.spool = spool
        self.lock_wait_s = lock_wait_s
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def take(self, kind: str, body: Any, items: int) -> Taken:
        """Store a checked body now, or spool it when the database is busy (raises OperationalError without a
        spool); FieldError or NotFoundError (an unknown lead: leads are read first, which no writer blocks)."""
        try:
            stored = self._store(kind, body)
        except OperationalError as exc:
            if self.spool is None or not is_busy(exc):
                raise
            spooled = self.spool.append(kind, body, items)
            log.info("the database is busy: %s %s spooled as %s", items, kind, spooled)
            self._wake.set()
            return Taken([], spooled)
        self.pipeline.accept(kind, stored)
        return Taken(stored)

    def _store(self, kind: str, body: Any) -> list[Stored]:
        with self.engine.begin() as conn, lock_wait(conn, self.lock_wait_s):
            return store(conn, kind, body)

    def start(self) -> None:
        """Run the drainer (what earlier runs left in the spool is drained at once)."""
        if self.spool is not None and self._thread is None:
            self._stop.clear()
            self._wake.set()
            self._thread = threading.Thread(target=self._run, name="hotlead-spool", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the drainer; what is still spooled stays for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_s)
            self._wake.clear()
            try:
                self.drain()
            except Exception:  # noqa: BLE001 - the drainer must outlive a broken disk or database (it is logged)
                log.exception("draining the intake spool failed; retrying in %s s", self.poll_s)

    def drain(self) -> int:
        """Store what the spool holds, oldest first, until it is empty or the drainer stops; returns how many
        bodies were stored. A body the store refuses (its lead deleted meanwhile) stays in the spool, marked."""
        assert self.spool is not None
        drained = 0
        while not self._stop.is_set():
            waiting = self.spool.pending()
            if not waiting:
                return drained
            for entry in waiting:
                if self._stop.is_set():
                    break
                try:
                    stored = self._store(entry.kind, entry.body)
                except OperationalError as exc:
                    if not is_busy(exc):
                        raise
                    self._stop.wait(self.lock_wait_s / 10)  # still busy: SQLite waited lock_wait_s already
                    break
                except (FieldError, NotFoundError) as exc:
                    log.warning("spooled %s %s (received %s) cannot be stored: %s; kept in %s with the error",
                                entry.kind, entry.id, entry.received_at, exc, self.spool.path)
                    self.spool.failed(entry.id, str(exc))
                    continue
                self.spool.done(entry.id)
                self.pipeline.accept(entry.kind, stored)
                drained += 1
        return drained


def intake_endpoint(kind: str, settings: Settings, intake: Intake) -> Callable[..., Any]:
    """POST /api/events or /api/messages: 202 with the ids stored (`{"ids", "new", "duplicates", "queued": 0}`),
    or, while the database is busy, 202 `{"queued": N, "spooled": ID, "ids": [], "new": 0, "duplicates": 0}`;
    401, 422 (naming the field), 404 (an unknown lead) or 503 (busy, and no spool)."""

    async def endpoint(request: Request) -> Response:
        if not authorised(settings, request):
            return JSONResponse({"error": "missing or wrong bearer token"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        try:
            body = parse_json(await request.body())
            items = checked(kind, body)
            taken = await run_in_threadpool(intake.take, kind, body, len(items))
        except FieldError as exc:
            return JSONResponse({"error": str(exc), "field": exc.field.lstrip(".")}, status_code=422)
        except NotFoundError as exc:
            return JSONResponse({"error": str(exc), "field": "lead"}, status_code=404)
        except OperationalError as exc:
            if not is_busy(exc):
                raise
            return JSONResponse({"error": "the database is busy: retry shortly"}, status_code=503,
                                headers={"Retry-After": "5"})
        if taken.spooled is not None:
            return JSONResponse({"queued": len(items), "spooled": taken.spooled, "ids": [], "new": 0,
                                 "duplicates": 0}, status_code=202)
        stored = taken.stored
        return JSONResponse({"ids": [s.id for s in stored], "new": sum(s.new for s in stored),
                             "duplicates": sum(not s.new for s in stored), "queued": 0}, status_code=202)

    return endpoint


def status_endpoint(settings: Settings, engine: Engine) -> Callable[..., Any]:
    """POST /twilio/status: Twilio's delivery callback, signature-checked, recorded and applied to the alert it
    names (`?alert=ID` in the callback URL, or its MessageSid); answered 200 whatever the status, since Twilio
    retries what is not, and a status Hotlead does not know is recorded as it came."""

    def update(alert_id: int | None, sid: str, status: str, error: str | None) -> Delivery:
        with engine.begin() as conn:
            return record_delivery(conn=conn, alert_id=alert_id, sid=sid, status=status, error_code=error,
                                   at=datetime.now(UTC))

    async def endpoint(request: Request) -> Response:
        form = await verified_form(settings, request)
        if form is None:
            return Response("invalid signature", status_code=403)
        sid, status = form.get("MessageSid", ""), form.get("MessageStatus", "").strip().lower()
        if not sid or not status:
            return JSONResponse({"error": "MessageSid and MessageStatus are required"}, status_code=422)
        named = request.query_params.get("alert", "")
        # "²" is a digit, not an int; and an id past 64 bits names no alert (SQLite cannot even compare it)
        alert_id = int(named) if named.isascii() and named.isdigit() and len(named) < 19 else None
        done = await run_in_threadpool(update, alert_id, sid, status, form.get("ErrorCode") or None)
        if done.alert_id is None:
            log.info("Twilio status %r for message %s, which is no alert of ours: recorded", status, sid)
        elif status not in RANK:
            log.warning("Twilio sent status %r, unknown to Hotlead, for alert %s: recorded", status, done.alert_id)
        if done.confirmed_sent:
            log.info("alert %s: Twilio has it (%s), so it is sent and will not go out again", done.alert_id, status)
        return JSONResponse({"alert": done.alert_id, "delivery": done.delivery, "moved": done.moved})

    return endpoint
