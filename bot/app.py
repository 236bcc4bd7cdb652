"""Wiring in one place: `create_app(settings)` builds the engine, the chat deps, the outbox, the live pipeline
and the HTTP routes; the app's lifespan starts and stops the background workers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.config import Settings
from bot.http_limits import CHUNK_TIMEOUT_S, RequestLimits
from bot.push.api import LOCK_WAIT_S, Intake
from bot.push.live import LivePipeline
from bot.push.outbox import Outbox, Sender
from bot.router import Deps
from storage.db import check_schema, make_engine
from storage.outbox import queued_count
from storage.push import lead_count
from storage.spool import Spool, spool_path

log = logging.getLogger(__name__)


@dataclass
class Hotlead:
    """The running server's parts (tests and `hotlead serve` reach them through `app.state.hotlead`)."""

    settings: Settings
    engine: Engine
    deps: Deps
    outbox: Outbox
    pipeline: LivePipeline
    channels: list[str] = field(default_factory=list)
    bolt: Any = None  # the Slack Bolt app, when Slack is on
    intake: Intake | None = None  # /api/*: stores, or spools while the database is busy


def senders(settings: Settings, engine: Engine) -> dict[str, Sender]:
    """A sender per configured channel: Slack with a bot token, WhatsApp with a Twilio account and sender."""
    from bot.clients import slack_client, twilio_client
    from bot.push.senders import slack_sender, whatsapp_sender

    found: dict[str, Sender] = {}
    if settings.slack_bot_token:
        found["slack"] = slack_sender(slack_client(settings, max_retry_count=0))  # the outbox retries, later
    if settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_whatsapp_from:
        found["whatsapp"] = whatsapp_sender(settings, twilio_client(settings), engine)
    from bot.crm.sync import connected, connector_for
    from bot.crm.writeback import channel

    crm = connected(engine)
    if crm is not None:  # scores written back to the CRM `hotlead connect` set up
        found[crm] = channel(connector_for(crm, settings))
    return found


def create_app(
    settings: Settings, *, slack: bool = True, whatsapp: bool = True, engine: Engine | None = None,
    outbox: Outbox | None = None, scheduler: bool = False, chat_workers: int = 0,
    chunk_timeout_s: float = CHUNK_TIMEOUT_S, lock_wait_s: float = LOCK_WAIT_S,
) -> Starlette:
    """The ASGI app of `hotlead serve`: every secret a channel needs is checked here, before serving. Every
    request meets the body cap and the chunk timeout (bot/http_limits.py) before its route parses it."""
    settings.require_all(serve_needs(slack=slack, whatsapp=whatsapp))  # every missing one named at once
    engine = engine or make_engine(settings.hotlead_database_url)
    check_schema(engine)
    deps = Deps(engine, settings)
    outbox = outbox or Outbox(engine, senders(settings, engine), lease_s=settings.hotlead_outbox_lease_s)
    pipeline = LivePipeline(engine, settings, outbox)
    parts = Hotlead(settings, engine, deps, outbox, pipeline)
    spooled = spool_path(engine)
    intake = parts.intake = Intake(engine, pipeline, Spool(spooled) if spooled else None, lock_wait_s=lock_wait_s)
    routes = [Route("/healthz", _health, methods=["GET"])]
    if slack:
        from bot.channels import slack as slack_channel

        parts.bolt = slack_channel.slack_app(settings, deps)  # it requires the token and the signing secret
        endpoint = slack_channel.starlette_endpoint(parts.bolt, str(settings.slack_signing_secret))
        routes.append(Route("/slack/events", endpoint, methods=["POST"]))
        parts.channels.append("slack")
    if whatsapp:
        from bot.channels import whatsapp as whatsapp_channel
        from bot.push.api import status_endpoint

        for name, purpose in (("TWILIO_AUTH_TOKEN", "checking Twilio's signatures"),
                              ("HOTLEAD_PUBLIC_URL", "checking Twilio's signatures (the URL Twilio calls)")):
            settings.require(name, purpose)
        routes += [Route("/twilio/whatsapp", whatsapp_channel.starlette_endpoint(settings, deps), methods=["POST"]),
                   Route("/twilio/status", status_endpoint(settings, engine), methods=["POST"])]
        parts.channels.append("whatsapp")
    from bot.push.api import intake_endpoint

    if not settings.hotlead_api_token:
        log.warning("HOTLEAD_API_TOKEN is not set: /api/events and /api/messages refuse every request")
    routes += [Route(f"/api/{kind}", intake_endpoint(kind, settings, intake), methods=["POST"])
               for kind in ("events", "messages")]

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        outbox.start()
        pipeline.start()
        intake.start()  # drains what an earlier run spooled
        if chat_workers:
            deps.pool = chat_pool(settings, chat_workers)
        jobs = None
        if scheduler:  # the digest and retraining schedule (in the database; each run is claimed once: job_run)
            from bot.jobs import start_scheduler

            jobs = start_scheduler(settings)
        try:
            yield
        finally:
            if jobs is not None:
                jobs.shutdown(wait=False)
            intake.stop()
            pipeline.stop()
            outbox.stop()
            if deps.pool is not None:
                deps.pool.shutdown(wait=True, cancel_futures=True)
                deps.pool = None

    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(RequestLimits, chunk_timeout_s=chunk_timeout_s)])
    app.state.hotlead = parts
    return app


def serve_needs(*, slack: bool, whatsapp: bool) -> list[tuple[str, str]]:
    """The settings the enabled channels cannot start without, with what each is for."""
    needs = []
    if slack:
        needs += [("SLACK_BOT_TOKEN", "answering in Slack"),
                  ("SLACK_SIGNING_SECRET", "checking that requests come from Slack")]
    if whatsapp:
        needs += [("TWILIO_AUTH_TOKEN", "checking Twilio's signatures"),
                  ("HOTLEAD_PUBLIC_URL", "checking Twilio's signatures (the URL Twilio calls)")]
    return needs


def chat_pool(settings: Settings, workers: int) -> ProcessPoolExecutor:
    """Worker processes that answer chat questions, started (and warmed) now rather than on the first question."""
    from bot.router import start_worker

    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=start_worker,
                               initargs=(settings,))
    list(pool.map(abs, range(workers)))  # every worker started and initialised before the first question
    return pool


async def _health(request: Request) -> Response:
    """Liveness for anyone; the channels, lead count and queue only with the bearer HOTLEAD_API_TOKEN."""
    from bot.push.api import authorised

    parts: Hotlead = request.app.state.hotlead
    if not authorised(parts.settings, request):
        return JSONResponse({"ok": True})
    with parts.engine.connect() as conn:
        leads, queued = lead_count(conn=conn), queued_count(conn)
    return JSONResponse({"ok": True, "channels": parts.channels, "leads": leads, "alerts_queued": queued})
