"""HTTP intake: `POST /api/events` and `POST /api/messages` (bearer token), and Twilio's delivery callbacks."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.channels.whatsapp import verified_form
from bot.config import Settings
from bot.push.live import LivePipeline
from storage.alerts import RANK, Delivery, record_delivery
from storage.errors import NotFoundError
from storage.live import FieldError, Stored, store

log = logging.getLogger(__name__)


def authorised(settings: Settings, request: Request) -> bool:
    """Whether the request carries the bearer HOTLEAD_API_TOKEN (compared in constant time)."""
    expected = settings.hotlead_api_token
    given = request.headers.get("Authorization", "")
    if not expected or not given.startswith("Bearer "):
        return False
    return hmac.compare_digest(given.removeprefix("Bearer ").strip().encode(), expected.encode())


def intake_endpoint(kind: str, settings: Settings, engine: Engine, pipeline: LivePipeline) -> Callable[..., Any]:
    """POST /api/events or /api/messages: 202 with the ids stored; 401, 422 (naming the field) or 404."""

    def save(body: Any) -> list[Stored]:
        with engine.begin() as conn:
            return store(conn, kind, body)

    async def endpoint(request: Request) -> Response:
        if not authorised(settings, request):
            return JSONResponse({"error": "missing or wrong bearer token"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return JSONResponse({"error": "the body is not JSON", "field": "body"}, status_code=422)
        try:
            stored = await run_in_threadpool(save, body)
        except FieldError as exc:
            return JSONResponse({"error": str(exc), "field": exc.field.lstrip(".")}, status_code=422)
        except NotFoundError as exc:
            return JSONResponse({"error": str(exc), "field": "lead"}, status_code=404)
        pipeline.accept(kind, stored)
        return JSONResponse({"ids": [s.id for s in stored], "new": sum(s.new for s in stored),
                             "duplicates": sum(not s.new for s in stored)}, status_code=202)

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
        alert_id = int(named) if named.isascii() and named.isdigit() else None  # "²" is a digit, not an int
        done = await run_in_threadpool(update, alert_id, sid, status, form.get("ErrorCode") or None)
        if done.alert_id is None:
            log.info("Twilio status %r for message %s, which is no alert of ours: recorded", status, sid)
        elif status not in RANK:
            log.warning("Twilio sent status %r, unknown to Hotlead, for alert %s: recorded", status, done.alert_id)
        if done.confirmed_sent:
            log.info("alert %s: Twilio has it (%s), so it is sent and will not go out again", done.alert_id, status)
        return JSONResponse({"alert": done.alert_id, "delivery": done.delivery, "moved": done.moved})

    return endpoint
