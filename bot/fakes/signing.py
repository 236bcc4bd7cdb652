"""Requests exactly as Slack and Twilio send them: bodies and signatures made with the libraries' own code."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
DEFAULT_RESPONSE_URL = "https://hooks.slack.com/commands/T1/0001/fake"


def slack_headers(
    secret: str, body: bytes, timestamp: int | None = None, content_type: str | None = None
) -> dict[str, str]:
    """X-Slack-Signature and X-Slack-Request-Timestamp for `body`; Content-Type JSON for `{…}` bodies, else form."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None  # only None without a timestamp
    if content_type is None:
        content_type = JSON if body.lstrip().startswith(b"{") else FORM
    return {"X-Slack-Signature": signature, "X-Slack-Request-Timestamp": ts, "Content-Type": content_type}


def slack_event_body(event: dict[str, Any], event_id: str | None = None, team: str = "T1") -> bytes:
    """An Events API `event_callback` envelope around `event`, as JSON (a fresh event_id unless given)."""
    now = time.time()
    envelope = {
        "token": "unused-verification-token",
        "team_id": team,
        "api_app_id": "AHOTLEAD",
        "event": {"event_ts": f"{now:.6f}", **event},
        "type": "event_callback",
        "event_id": event_id or "Ev" + uuid.uuid4().hex[:10].upper(),
        "event_time": int(now),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team,
                "user_id": "UHOTLEAD",
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
    return json.dumps(envelope).encode()


def slash_command_body(
    text: str, user_id: str, channel_id: str = "C1", response_url: str = DEFAULT_RESPONSE_URL, team_id: str = "T1"
) -> bytes:
    """A `/hotlead` slash command as Slack posts it (form-encoded)."""
    fields = {
        "token": "unused-verification-token",
        "team_id": team_id,
        "team_domain": "hotlead",
        "channel_id": channel_id,
        "channel_name": "sales",
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": "/hotlead",
        "text": text,
        "api_app_id": "AHOTLEAD",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{int(time.time())}.1.{uuid.uuid4().hex[:16]}",
    }
    return urlencode(fields).encode()


def interaction_body(payload: dict[str, Any]) -> bytes:
    """An interactivity request (button, modal) as Slack posts it: form field `payload` holding JSON."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The X-Twilio-Signature Twilio sends when it posts `params` to `url`."""
    return str(RequestValidator(auth_token).compute_signature(url, params))
