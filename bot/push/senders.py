"""How an alert row reaches Slack or WhatsApp; failures become SendError for the outbox to retry."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine, text
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from bot.config import Settings
from bot.push.outbox import Sender, SendError
from storage.db import json_dumps

log = logging.getLogger(__name__)
WINDOW = timedelta(hours=24)  # WhatsApp: free-form text only this long after the rep's last message to us
PERMANENT_SLACK = {"channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "account_inactive",
                   "user_not_found", "invalid_blocks", "msg_too_long"}
PERMANENT_TWILIO = {21211, 21614, 21617, 63016, 21408, 20003}


def slack_sender(client: WebClient) -> Sender:
    """Post `payload.text` (+ `blocks`) to the alert's target channel or user."""

    def send(row: dict[str, Any]) -> str | None:
        payload = row["payload"]
        try:
            response = client.chat_postMessage(channel=row["target"], text=payload["text"],
                                               blocks=payload.get("blocks"), unfurl_links=False)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "")) if exc.response is not None else ""
            status = exc.response.status_code if exc.response is not None else None
            retry = exc.response.headers.get("Retry-After") if exc.response is not None else None
            raise SendError(f"Slack: {error or status}", retry_after=float(retry) if retry else None,
                            permanent=error in PERMANENT_SLACK) from None
        except OSError as exc:  # connection refused, reset, timed out
            raise SendError(f"Slack unreachable: {type(exc).__name__}") from None
        return str(response.get("ts") or "") or None

    return send


def whatsapp_sender(settings: Settings, client: Client, engine: Engine) -> Sender:
    """Send `payload.body` as free-form text inside the rep's 24-hour window, else the approved template."""
    sender = settings.require("TWILIO_WHATSAPP_FROM", "sending WhatsApp alerts")
    callback = f"{settings.hotlead_public_url.rstrip('/')}/twilio/status" if settings.hotlead_public_url else None

    def send(row: dict[str, Any]) -> str | None:
        payload = row["payload"]
        to = f"whatsapp:{row['target']}"
        message: dict[str, Any] = {"from_": sender if sender.startswith("whatsapp:") else f"whatsapp:{sender}",
                                   "to": to}
        if callback:  # the alert's id rides along: a callback finds its alert even if the SID was never stored
            message["status_callback"] = f"{callback}?alert={row['id']}"
        in_window = _in_window(engine, row["rep_id"])
        if settings.hotlead_whatsapp_template and not in_window:
            message["content_sid"] = settings.hotlead_whatsapp_template
            message["content_variables"] = json_dumps(payload.get("template_variables", {}))
        else:  # no template to fall back on outside the window: try the text, Twilio's status callback tells
            if not in_window:
                log.warning("alert %s: free-form WhatsApp text outside the rep's 24-hour window (set "
                            "HOTLEAD_WHATSAPP_TEMPLATE to an approved template); it may be undelivered", row["id"])
            message["body"] = payload["body"]
        try:
            created = client.messages.create(**message)
        except TwilioRestException as exc:
            raise SendError(f"Twilio: {exc.code or exc.status}", permanent=exc.code in PERMANENT_TWILIO) from None
        except (TwilioException, OSError) as exc:
            raise SendError(f"Twilio unreachable: {type(exc).__name__}") from None
        return str(created.sid)

    return send


def _in_window(engine: Engine, rep_id: int | None) -> bool:
    if rep_id is None:
        return False
    with engine.connect() as conn:
        seen = conn.execute(text("SELECT whatsapp_seen_at FROM rep WHERE id = :id"), {"id": rep_id}).scalar()
    if not seen:
        return False
    return datetime.now(UTC) - datetime.fromisoformat(str(seen)).replace(tzinfo=UTC) < WINDOW
