"""/twilio/status checks a signature with the algorithm X-Twilio-Webhooks-Signature-Settings names, as twilio's
get_signature_algorithm reads it, and refuses a callback whose form or URL differs from what was signed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import Engine, text
from twilio.request_validator import HMAC_SHA1, HMAC_SHA256, RequestValidator

from bot.app import create_app
from bot.config import Settings
from bot.push.outbox import Outbox, enqueue
from bot.server import BackgroundServer
from storage.db import create_schema, make_engine

TOKEN = "status-signing-token"
PUBLIC = "https://hotlead.example.com"
SID = "SM" + "5" * 32
SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
SHARED_KEY = "key=webhooks_sharedkey_0000000000000000000000000000,"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path / 'status.db'}")
    create_schema(made)
    yield made
    made.dispose()


@pytest.fixture
def sent_alert(engine: Engine) -> int:
    """A WhatsApp alert the outbox has sent as message SID."""
    alert = enqueue(engine, kind="demo", channel="whatsapp", target="+15550100003", dedupe_key="signed",
                    payload={"body": "Live demo: viewed the pricing page"})
    assert alert is not None
    with engine.begin() as conn:
        conn.execute(text("UPDATE alert SET status = 'sent', external_ref = :sid WHERE id = :id"),
                     {"sid": SID, "id": alert})
    return alert


@pytest.fixture
def server(engine: Engine) -> Iterator[str]:
    settings = Settings(twilio_auth_token=TOKEN, hotlead_public_url=PUBLIC)
    app = create_app(settings, slack=False, engine=engine, outbox=Outbox(engine, {}))
    with BackgroundServer(app) as running:
        yield running.url


def callback_form(status: str) -> list[tuple[str, str]]:
    return [("AccountSid", "AC" + "1" * 32), ("ApiVersion", "2010-04-01"), ("ChannelPrefix", "whatsapp"),
            ("From", "whatsapp:+15550007777"), ("MessageSid", SID), ("MessageStatus", status), ("SmsSid", SID),
            ("SmsStatus", status), ("To", "whatsapp:+15550100003")]


def sign(query: str, form: list[tuple[str, str]], algorithm: str = HMAC_SHA1) -> str:
    grouped: dict[str, list[str]] = {}
    for key, value in form:
        grouped.setdefault(key, []).append(value)

    class Grouped(dict[str, list[str]]):
        def getlist(self, key: str) -> list[str]:
            return self[key]

    return str(RequestValidator(TOKEN).compute_signature(f"{PUBLIC}/twilio/status?{query}", Grouped(grouped),
                                                         algorithm))


def post(url: str, query: str, form: list[tuple[str, str]], signature: str,
         settings_header: str | None = None) -> httpx.Response:
    headers = {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}
    if settings_header is not None:
        headers[SETTINGS_HEADER] = settings_header
    return httpx.post(f"{url}/twilio/status?{query}", content=urlencode(form), headers=headers, timeout=10)


def delivery(engine: Engine, alert: int) -> str | None:
    with engine.connect() as conn:
        return conn.execute(text("SELECT delivery FROM alert WHERE id = :id"), {"id": alert}).scalar_one()


def test_a_callback_signed_with_hmac_sha256_is_accepted_when_the_settings_header_names_it(
    engine: Engine, sent_alert: int, server: str,
) -> None:
    query, form = f"alert={sent_alert}", callback_form("delivered")
    signature = sign(query, form, HMAC_SHA256)
    answer = post(server, query, form, signature, f"{SHARED_KEY}algorithm=HMAC_SHA256")
    assert answer.status_code == 200 and answer.json()["delivery"] == "delivered"
    assert delivery(engine, sent_alert) == "delivered"


@pytest.mark.parametrize("algorithm, settings_header", [
    (HMAC_SHA256, None),  # without the header a signature is HMAC-SHA1 (the Auth Token's)
    (HMAC_SHA256, ""),
    (HMAC_SHA1, f"{SHARED_KEY}algorithm=HMAC_SHA256"),  # the header names another algorithm than was used
    (HMAC_SHA1, f"{SHARED_KEY}algorithm=HMAC_SHA512"),  # one twilio does not know: refused, not guessed
])
def test_a_signature_made_with_another_algorithm_than_the_header_names_is_refused(
    engine: Engine, sent_alert: int, server: str, algorithm: str, settings_header: str | None,
) -> None:
    query, form = f"alert={sent_alert}", callback_form("read")
    assert post(server, query, form, sign(query, form, algorithm), settings_header).status_code == 403
    assert delivery(engine, sent_alert) is None


def test_the_legacy_signature_is_accepted_with_or_without_a_settings_header_naming_sha1(
    engine: Engine, sent_alert: int, server: str,
) -> None:
    query = f"alert={sent_alert}"
    sent, read = callback_form("sent"), callback_form("read")
    assert post(server, query, sent, sign(query, sent)).status_code == 200
    assert post(server, query, read, sign(query, read), f"{SHARED_KEY}algorithm=HMAC_SHA1").status_code == 200
    assert delivery(engine, sent_alert) == "read"


def test_a_callback_altered_after_signing_is_refused(engine: Engine, sent_alert: int, server: str) -> None:
    query = f"alert={sent_alert}"
    form = [*callback_form("failed"), ("ErrorCode", "30008"), ("ErrorCode", "63016")]  # a repeated field
    signature = sign(query, form)
    altered = {
        "a repeated value dropped": (query, form[:-1]),
        "a value changed": (query, [(k, "read" if k == "MessageStatus" else v) for k, v in form]),
        "a field added": (query, [*form, ("Extra", "1")]),
        "another alert in the URL": (f"alert={sent_alert + 1}", form),
        "the query dropped": ("", form),
    }
    answers = {name: post(server, q, f, signature).status_code for name, (q, f) in altered.items()}
    assert answers == dict.fromkeys(altered, 403)
    assert delivery(engine, sent_alert) is None
    assert post(server, query, form, signature).status_code == 200  # the callback as signed
    assert delivery(engine, sent_alert) == "failed"
