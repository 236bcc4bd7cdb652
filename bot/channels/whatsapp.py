"""WhatsApp adapter (Twilio): a signed inbound message in, TwiML out; only registered reps get lead data."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import Response
from twilio.request_validator import SIGNATURE_SETTINGS_HEADER, RequestValidator, get_signature_algorithm
from twilio.twiml.messaging_response import MessagingResponse

from bot.config import Settings
from bot.replies import Choice, Reply, split_message
from bot.router import Deps, IncomingMessage, dispatch
from storage.history import find_rep
from storage.push import mark_whatsapp_seen

log = logging.getLogger(__name__)
BODY_LIMIT = 1600  # Twilio refuses longer WhatsApp bodies (error 21617)
REFUSAL = ("Hi! This is Hotlead, the sales team's assistant. I only answer registered team members: "
           "ask your Hotlead admin to add this number.")
TWIML = "application/xml"


def number(address: str) -> str:
    """"+15550100001" from "whatsapp:+15550100001"."""
    return address.removeprefix("whatsapp:").strip()


def twiml(pieces: list[str]) -> str:
    """A TwiML reply with one message per piece."""
    response = MessagingResponse()
    for piece in pieces:
        response.message(piece)
    return str(response)


def whatsapp_text(reply: Reply) -> str:
    """WhatsApp shows *bold* and _italic_ like Slack; choices are numbered for a typed answer."""
    return reply.plain(numbered=True)


def answer(deps: Deps, sender: str, body: str) -> str:
    """The TwiML answering one inbound message from `sender` (a WhatsApp address)."""
    with deps.engine.connect() as conn:
        rep = find_rep(conn=conn, key="whatsapp", value=number(sender))
    if rep is None:
        log.info("WhatsApp message from an unregistered number: refused")
        return twiml([REFUSAL])
    with deps.engine.begin() as conn:  # opens the 24-hour window for free-form alerts to this rep
        mark_whatsapp_seen(conn=conn, rep_id=rep.id, now=datetime.now(UTC))
    message = IncomingMessage(body, "whatsapp", number(sender), rep)
    reply = dispatch(message, deps)
    if reply.actions and not reply.choices:  # WhatsApp has no buttons: a lead's actions become numbered choices
        reply = replace(reply, choices=tuple(Choice(a.label, a.question) for a in reply.actions))
        deps.memory.offer(message, reply.choices)
    return twiml(split_message(whatsapp_text(reply), BODY_LIMIT))


def signed_url(settings: Settings, request: Request) -> str:
    """The URL Twilio signed: the public base URL, this path, and the query string."""
    base = settings.require("HOTLEAD_PUBLIC_URL", "checking Twilio's signatures").rstrip("/")
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{base}{request.url.path}{query}"


async def verified_form(settings: Settings, request: Request) -> Mapping[str, str] | None:
    """The form Twilio posted, or None when its X-Twilio-Signature does not match. Checked as twilio's own
    RequestValidator checks it: over every value of a repeated field, with or without the port, a JSON body by
    the `bodySHA256` its signed URL carries, and with the algorithm X-Twilio-Webhooks-Signature-Settings names."""
    validator = RequestValidator(settings.require("TWILIO_AUTH_TOKEN", "checking Twilio's signatures"))
    raw = (await request.body()).decode("utf-8", "replace")
    signature = request.headers.get("X-Twilio-Signature", "")
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    form: Mapping[str, str]
    if "bodySHA256" in request.query_params:  # a JSON body: the URL's hash covers it, no form parameters
        signed: Any = raw
        form = _json_fields(raw)
    else:
        signed = form = ImmutableMultiDict(parse_qsl(raw, keep_blank_values=True))
    if not signature or not validator.validate(signed_url(settings, request), signed, signature, algorithm):
        log.warning("Twilio request to %s with a bad or missing signature: refused", request.url.path)
        return None
    pairs = form.multi_items() if isinstance(form, ImmutableMultiDict) else list(form.items())
    # text never holds a NUL byte (PostgreSQL refuses one in any text value): a signed form's NULs are dropped
    return ImmutableMultiDict([(key, value.replace("\x00", "")) for key, value in pairs])


def _json_fields(raw: str) -> dict[str, str]:
    try:
        body = json.loads(raw)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in body.items()} if isinstance(body, dict) else {}


def starlette_endpoint(settings: Settings, deps: Deps) -> Callable[[Request], Any]:
    """POST /twilio/whatsapp."""

    async def endpoint(request: Request) -> Response:
        form = await verified_form(settings, request)
        if form is None:
            return Response("invalid signature", status_code=403)
        body = await run_in_threadpool(answer, deps, form.get("From", ""), form.get("Body", ""))
        return Response(body, media_type=TWIML)

    return endpoint

