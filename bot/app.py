"""Wiring in one place: `create_app(settings)` builds the engine, the chat deps and the HTTP routes."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.config import Settings
from bot.router import Deps
from storage.db import check_schema, make_engine

log = logging.getLogger(__name__)


@dataclass
class Hotlead:
    """The running server's parts (tests and `hotlead serve` reach them through `app.state.hotlead`)."""

    settings: Settings
    engine: Engine
    deps: Deps
    channels: list[str] = field(default_factory=list)
    bolt: Any = None  # the Slack Bolt app, when Slack is on


def create_app(
    settings: Settings, *, slack: bool = True, whatsapp: bool = True, engine: Engine | None = None,
) -> Starlette:
    """The ASGI app of `hotlead serve`: every secret a channel needs is checked here, before serving."""
    engine = engine or make_engine(settings.hotlead_database_url)
    check_schema(engine)
    deps = Deps(engine, settings)
    parts = Hotlead(settings, engine, deps)
    routes = [Route("/healthz", _health, methods=["GET"])]
    if slack:
        from bot.channels import slack as slack_channel

        parts.bolt = slack_channel.slack_app(settings, deps)
        routes.append(Route("/slack/events", slack_channel.starlette_endpoint(parts.bolt), methods=["POST"]))
        parts.channels.append("slack")
    if whatsapp:
        from bot.channels import whatsapp as whatsapp_channel

        for name, purpose in (("TWILIO_AUTH_TOKEN", "checking Twilio's signatures"),
                              ("HOTLEAD_PUBLIC_URL", "checking Twilio's signatures (the URL Twilio calls)")):
            settings.require(name, purpose)
        routes.append(Route("/twilio/whatsapp", whatsapp_channel.starlette_endpoint(settings, deps), methods=["POST"]))
        parts.channels.append("whatsapp")
    app = Starlette(routes=routes)
    app.state.hotlead = parts
    return app


async def _health(request: Request) -> Response:
    parts: Hotlead = request.app.state.hotlead
    with parts.engine.connect() as conn:
        leads = conn.exec_driver_sql("SELECT count(*) FROM lead").scalar_one()
    return JSONResponse({"ok": True, "channels": parts.channels, "leads": leads})
