"""Twilio's signatures checked exactly as twilio-python's RequestValidator checks them: its own documented
vectors (tests/unit/test_request_validator.py) replayed over HTTP, and the real routes with repeated fields."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.app import create_app
from bot.channels.whatsapp import verified_form
from bot.config import Settings
from bot.fakes import twilio_signature
from bot.server import BackgroundServer
from storage.history import RepRow

# twilio-python's documented vectors: token "12345", https://mycompany.com/myapp.php?foo=1&bar=2
TOKEN = "12345"
PARAMS = [("CallSid", "CA1234567890ABCDE"), ("Caller", "+14158675309"), ("Digits", "1234"),
          ("From", "+14158675309"), ("To", "+18005551212")]
DUPLICATES = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
BODY = '{"property": "value", "boolean": true}'
BODY_HASH = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
FORM = "application/x-www-form-urlencoded"


def checker(public: str) -> Iterator[str]:
    settings = Settings(twilio_auth_token=TOKEN, hotlead_public_url=public)

    async def endpoint(request: Request) -> Response:
        form = await verified_form(settings, request)
        if form is None:
            return Response("invalid signature", status_code=403)
        return JSONResponse({"Digits": form.get("Digits")})

    with BackgroundServer(Starlette(routes=[Route("/myapp.php", endpoint, methods=["POST"])])) as server:
        yield server.url


@pytest.fixture
def at_mycompany() -> Iterator[str]:
    yield from checker("https://mycompany.com")


def post(url: str, query: str, body: str, signature: str, content_type: str = FORM) -> int:
    return httpx.post(f"{url}/myapp.php?{query}", content=body.encode(), timeout=10,
                      headers={"X-Twilio-Signature": signature, "Content-Type": content_type}).status_code


@pytest.mark.parametrize("params, signature, status", [
    (PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", 200),  # the documented example
    (PARAMS, "kvajT1Ptam85bY51eRf/AJRuM3w=", 200),  # signed with the port (:443) added
    (DUPLICATES, "IK+Dwps556ElfBT0I3Rgjkr1wJU=", 200),  # a repeated field: both values count
    (DUPLICATES[:3], "IK+Dwps556ElfBT0I3Rgjkr1wJU=", 403),  # one of the repeated values dropped
    ([*PARAMS[:2], ("Digits", "9999"), *PARAMS[3:]], "RSOYDt4T1cUTdK1PDd93/VVr8B8=", 403),  # a value changed
    (PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B9=", 403),
    (PARAMS, "", 403),
])
def test_twilio_pythons_vectors(at_mycompany: str, params: list[tuple[str, str]], signature: str,
                                status: int) -> None:
    assert post(at_mycompany, "foo=1&bar=2", urlencode(params), signature) == status


def test_a_signed_url_with_another_query_is_refused(at_mycompany: str) -> None:
    assert post(at_mycompany, "foo=1&bar=3", urlencode(PARAMS), "RSOYDt4T1cUTdK1PDd93/VVr8B8=") == 403


def test_a_public_url_with_a_port_is_checked_without_it_too() -> None:
    for url in checker("https://mycompany.com:1234"):
        assert post(url, "foo=1&bar=2", urlencode(PARAMS), "RSOYDt4T1cUTdK1PDd93/VVr8B8=") == 200


@pytest.mark.parametrize("body, status", [(BODY, 200), (BODY.replace("value", "other"), 403)])
def test_a_json_body_is_checked_by_the_hash_its_signed_url_carries(at_mycompany: str, body: str, status: int) -> None:
    query = f"foo=1&bar=2&bodySHA256={BODY_HASH}"
    assert post(at_mycompany, query, body, "a9nBmqA0ju/hNViExpshrM61xv4=", "application/json") == status


def test_the_real_routes_accept_repeated_fields_signed_over_all_their_values(
    demo_engine: Engine, a_rep: RepRow,
) -> None:
    public = "https://hotlead.example.com"
    settings = Settings(twilio_account_sid="AC" + "1" * 32, twilio_auth_token=TOKEN, twilio_whatsapp_from="+15550001",
                        hotlead_public_url=public, twilio_api_url="http://127.0.0.1:9")
    form = [("From", f"whatsapp:{a_rep.whatsapp}"), ("Body", "help"), ("MediaUrl0", "https://a.example/1"),
            ("MediaUrl0", "https://a.example/2")]

    class Both(dict[str, list[str]]):
        def getlist(self, key: str) -> list[str]:
            return self[key]

    grouped = Both()
    for key, value in form:
        grouped.setdefault(key, []).append(value)
    with BackgroundServer(create_app(settings, slack=False, engine=demo_engine)) as server:
        signature = twilio_signature(TOKEN, f"{public}/twilio/whatsapp", grouped)  # type: ignore[arg-type]
        answer = httpx.post(f"{server.url}/twilio/whatsapp", content=urlencode(form), timeout=10,
                            headers={"X-Twilio-Signature": signature, "Content-Type": FORM})
        one_dropped = httpx.post(f"{server.url}/twilio/whatsapp", content=urlencode(form[:3]), timeout=10,
                                 headers={"X-Twilio-Signature": signature, "Content-Type": FORM})
    assert answer.status_code == 200 and "<Message>" in answer.text
    assert one_dropped.status_code == 403
