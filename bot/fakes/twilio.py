"""A local stand-in for Twilio's Messages API that answers like Twilio and records every request."""

from __future__ import annotations

import base64
import json
import math
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from twilio.request_validator import RequestValidator

from bot.fakes._server import Call, FakeServer, Reply, Request, decode_params

MAX_BODY = 1600
# The orders Twilio's WhatsApp status callbacks really arrive in (each status its own request, retried when not
# answered 2xx, from several of Twilio's machines: repeated, late and out of order).
IN_ORDER = ("queued", "sent", "delivered", "read")
REORDERED = ("sent", "read", "delivered", "sent", "queued")
_MESSAGES = re.compile(r"/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json")


class FakeTwilio(FakeServer):
    """Twilio's REST API at `.url` (the TWILIO_API_URL); only Messages.json create is served."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        super().__init__()
        self.account_sid = account_sid
        self._auth_token = auth_token
        self.url = self.base_url
        self._failures = 0
        self._failure_status = 500
        self._messages: dict[str, dict[str, Any]] = {}  # sid -> the created message's fields

    def __repr__(self) -> str:
        return f"FakeTwilio(url={self.url!r}, account_sid={self.account_sid!r})"

    def fail_next(self, times: int, status: int = 500) -> None:
        """Answer the next `times` requests with `status` and a Twilio error body (refused, not recorded)."""
        with self._changed:
            self._failures = times
            self._failure_status = status

    def send_status(self, sid: str, statuses: Iterable[str], *, via: str | None = None,
                    error_code: str | None = None) -> list[httpx.Response]:
        """Post a status callback for message `sid` per status, in the order given, to the StatusCallback it was
        created with, each form signed as Twilio signs it (over the callback URL). `via` is where that URL's
        host really answers (a test server behind the public URL); `error_code` rides on failed/undelivered."""
        with self._changed:
            message = self._messages[sid]
        callback = message.get("StatusCallback")
        if not callback:
            raise AssertionError(f"message {sid} was created without a StatusCallback")
        parts = urlsplit(callback)
        target = f"{via.rstrip('/')}{parts.path}" + (f"?{parts.query}" if parts.query else "") if via else callback
        validator = RequestValidator(self._auth_token)
        answers = []
        with httpx.Client(timeout=10) as http:
            for status in statuses:
                form = self._status_form(sid, message, status, error_code)
                headers = {"X-Twilio-Signature": validator.compute_signature(callback, form),
                           "I-Twilio-Idempotency-Token": uuid.uuid4().hex, "User-Agent": "TwilioProxy/1.1"}
                answers.append(http.post(target, data=form, headers=headers))
        return answers

    def _status_form(self, sid: str, message: dict[str, Any], status: str, error_code: str | None) -> dict[str, str]:
        to = str(message.get("To", ""))
        form = {"AccountSid": self.account_sid, "ApiVersion": "2010-04-01", "ChannelInstallSid": "XE" + "0" * 32,
                "ChannelPrefix": "whatsapp" if to.startswith("whatsapp:") else "sms",
                "ChannelToAddress": to.removeprefix("whatsapp:"), "From": str(message.get("From", "")),
                "MessageSid": sid, "MessageStatus": status, "SmsSid": sid, "SmsStatus": status,
                "StructuredMessage": "false", "To": to}
        if status in ("delivered", "read"):
            form["EventType"] = status.upper()
        if status in ("failed", "undelivered") and error_code:
            form["ErrorCode"] = error_code
        return form

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Block until `count` message requests arrived and return all of them; AssertionError on timeout."""
        return self._wait("messages", count, timeout)

    def _answer(self, request: Request) -> tuple[Reply, str | None, dict[str, Any]]:
        with self._changed:
            if self._failures > 0:
                self._failures -= 1
                status = self._failure_status
                return _error(status, 20000 + status, "Injected failure"), None, {}
        params = decode_params(request, json_values=False)
        match = _MESSAGES.fullmatch(request.path)
        method = "messages" if match else "other"
        if not self._authorised(request):
            return _error(401, 20003, "Authenticate"), method, params
        if match is None or match["sid"] != self.account_sid or request.verb != "POST":
            return _error(404, 20404, f"The requested resource {request.path} was not found"), method, params
        problem = _invalid(params)
        if problem:
            return _error(400, *problem), method, params
        created = self._message(params)
        with self._changed:
            self._messages[created["sid"]] = params
        return Reply.json(created, 201), method, params

    def _authorised(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid and password == self._auth_token

    def _message(self, params: dict[str, Any]) -> dict[str, Any]:
        sid = "SM" + uuid.uuid4().hex
        now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        body = str(params.get("Body", ""))
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}"
        media = params.get("MediaUrl", [])
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": params.get("From"),
            "messaging_service_sid": params.get("MessagingServiceSid"),
            "num_media": str(len(media) if isinstance(media, list) else 1),
            "num_segments": str(_segments(body, str(params.get("To", "")))),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": params.get("To"),
            "uri": f"{uri}.json",
        }


def _invalid(params: dict[str, Any]) -> tuple[int, str] | None:
    if not params.get("To"):
        return 21604, "A 'To' phone number is required."
    if not params.get("From") and not params.get("MessagingServiceSid"):
        return 21603, "A 'From' phone number is required."
    if not (params.get("Body") or params.get("ContentSid") or params.get("MediaUrl")):
        return 21602, "Message body is required."
    if len(str(params.get("Body", ""))) > MAX_BODY:
        return 21617, "The concatenated message body exceeds the 1600 character limit."
    callback = str(params.get("StatusCallback", ""))
    if callback and urlsplit(callback).scheme not in ("http", "https"):
        return 21609, f"The StatusCallback URL {callback} is not a valid URL."
    if params.get("ContentVariables") is not None and not _string_object(params["ContentVariables"]):
        return 21656, "The ContentVariables Parameter is invalid."
    return None


def _string_object(raw: Any) -> bool:
    try:
        value = json.loads(str(raw))
    except ValueError:
        return False
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _segments(body: str, to: str) -> int:
    if to.startswith("whatsapp:") or len(body) <= 160:
        return 1
    return math.ceil(len(body) / 153)


def _error(status: int, code: int, message: str) -> Reply:
    payload = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}"}
    return Reply.json({**payload, "status": status}, status)
