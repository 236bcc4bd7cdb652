"""HTTP intake: `POST /api/events` and `POST /api/messages` (bearer token), and Twilio's delivery callbacks."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.channels.whatsapp import verified_form
from bot.config import Settings
from bot.push.live import LivePipeline
from storage.errors import NotFoundError
from storage.live import FieldError, Stored, store

log = logging.getLogger(__name__)
DELIVERY_STATUSES = {"queued", "sending", "sent", "delivered", "read", "failed", "undelivered"}


def _authorised(settings: Settings, request: Request) -> bool:
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
        if not _authorised(settings, request):
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
    """POST /twilio/status: Twilio's delivery callback updates the alert that sent the message."""

    def update(sid: str, status: str, error: str | None) -> int:
        with engine.begin() as conn:
            return int(conn.execute(text(
                "UPDATE alert SET status = :status, last_error = coalesce(:error, last_error) "
                "WHERE external_ref = :sid"), {"status": status, "error": error, "sid": sid}).rowcount)

    async def endpoint(request: Request) -> Response:
        form = await verified_form(settings, request)
        if form is None:
            return Response("invalid signature", status_code=403)
        sid, status = form.get("MessageSid", ""), form.get("MessageStatus", "").lower()
        if not sid or status not in DELIVERY_STATUSES:
            return JSONResponse({"error": "MessageSid and a known MessageStatus are required"}, status_code=422)
        error = f"Twilio error {form['ErrorCode']}" if form.get("ErrorCode") else None
        updated = await run_in_threadpool(update, sid, status, error)
        return JSONResponse({"updated": updated})

    return endpoint
