"""How an alert row reaches Slack or WhatsApp; failures become SendError for the outbox to retry."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from bot.config import Settings
from bot.push.outbox import Channel, SendError
from storage.db import json_dumps
from storage.history import find_rep, utc

log = logging.getLogger(__name__)
WINDOW = timedelta(hours=24)  # WhatsApp: free-form text only this long after the rep's last message to us
PERMANENT_SLACK = {"channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "account_inactive",
                   "user_not_found", "invalid_blocks", "msg_too_long"}
PERMANENT_TWILIO = {21211, 21614, 21617, 63016, 21408, 20003}
SLACK_MAYBE_DONE = {"internal_error", "fatal_error"}  # Slack: "some aspect of the operation may have succeeded"
SLACK_PACE_S = 1.0  # chat.postMessage: about one message per second per channel (api.slack.com/apis/rate-limits)
METADATA_EVENT = "hotlead_alert"
LOOK_BACK = timedelta(minutes=2)  # clocks differ: look a little before the attempt whose answer was lost
FIND_PAGES = 5


def slack_sender(client: WebClient) -> Channel:
    """Post `payload.text` (+ `blocks`) to the alert's target channel or user, about one a second per target
    (Slack's pace for chat.postMessage); each post carries the alert's id in its metadata, which is how `find`
    recognises a post whose answer was lost."""

    def send(row: dict[str, Any]) -> str | None:
        payload = row["payload"]
        try:
            response = client.chat_postMessage(channel=row["target"], text=payload["text"],
                                               blocks=payload.get("blocks"), unfurl_links=False,
                                               metadata={"event_type": METADATA_EVENT,
                                                         "event_payload": {"alert": row["id"]}})
        except (SlackApiError, OSError) as exc:
            raise _slack_error(exc) from None
        return str(response.get("ts") or "") or None

    def find(row: dict[str, Any]) -> str | None:
        """The ts of the alert's post if the channel has it: read back from when its answer was lost."""
        target = str(row["target"] or "")
        try:
            channel = target
            if target[:1] in ("U", "W"):  # a DM: its history is the IM channel's
                channel = str(client.conversations_open(users=target)["channel"]["id"])
            oldest = utc(row["unsure_since"]) - LOOK_BACK
            cursor = None
            for _ in range(FIND_PAGES):
                page = client.conversations_history(channel=channel, oldest=f"{oldest.timestamp():.6f}",
                                                    include_all_metadata=True, limit=200, cursor=cursor)
                for message in page.get("messages") or []:
                    metadata = message.get("metadata") or {}
                    if metadata.get("event_type") == METADATA_EVENT and \
                            str((metadata.get("event_payload") or {}).get("alert")) == str(row["id"]):
                        return str(message.get("ts") or "") or ""
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except (SlackApiError, OSError) as exc:
            raise _slack_error(exc) from None
        return None

    return Channel(send, find, pace_s=SLACK_PACE_S)


def _slack_error(exc: SlackApiError | OSError) -> SendError:
    """What a failed Slack call means for the outbox: pacing (429), permanent, or a failure to retry, unsure
    when the request may have been carried out (its answer lost, or Slack's own words say it may have)."""
    if isinstance(exc, OSError):  # refused or unresolvable: never reached Slack; timeouts and resets may have
        reason = exc.reason if isinstance(exc, URLError) else exc
        sure = isinstance(reason, ConnectionRefusedError | socket.gaierror)
        return SendError(f"Slack unreachable: {type(reason).__name__}", unsure=not sure)
    response = exc.response
    error = str(response.get("error", "")) if response is not None else ""
    status = response.status_code if response is not None else 0
    retry = response.headers.get("Retry-After") if response is not None else None
    retry_after = _seconds(retry)
    if status == 429 or error in ("ratelimited", "rate_limited"):
        return SendError(f"Slack: {error or status}", retry_after=retry_after, rate_limited=True)
    unsure = error in SLACK_MAYBE_DONE or (status >= 500 and status != 503)
    return SendError(f"Slack: {error or status}", retry_after=retry_after, permanent=error in PERMANENT_SLACK,
                     unsure=unsure)


def _seconds(value: str | None) -> float | None:
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < 86_400 else None


def whatsapp_sender(settings: Settings, client: Client, engine: Engine) -> Channel:
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
            if exc.status == 429 or exc.code == 20429:
                raise SendError(f"Twilio: {exc.code or exc.status}", rate_limited=True) from None
            raise SendError(f"Twilio: {exc.code or exc.status}", permanent=exc.code in PERMANENT_TWILIO,
                            unsure=exc.status >= 500 and exc.status != 503) from None
        except (TwilioException, OSError) as exc:
            raise SendError(f"Twilio unreachable: {type(exc).__name__}") from None
        return str(created.sid)

    return Channel(send)


def _in_window(engine: Engine, rep_id: int | None) -> bool:
    if rep_id is None:
        return False
    with engine.connect() as conn:
        rep = find_rep(conn=conn, key="id", value=rep_id)
    return rep is not None and rep.whatsapp_seen_at is not None and \
        datetime.now(UTC) - utc(rep.whatsapp_seen_at) < WINDOW
