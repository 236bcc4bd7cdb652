"""`hotlead serve`'s WhatsApp side: Twilio-signed webhooks in, TwiML out; only registered reps get lead data."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode
from xml.etree import ElementTree

import httpx
import pytest
from sqlalchemy import Engine

from bot.app import create_app
from bot.config import Settings
from bot.fakes import twilio_signature
from bot.server import BackgroundServer
from scoring.leads import top_leads
from storage.history import RepRow
from tests.conftest import run_sql

AUTH = "twilio-auth-token"
PUBLIC = "https://hotlead.example.com"


@pytest.fixture
def server(demo_engine: Engine) -> Iterator[str]:
    settings = Settings(twilio_account_sid="AC" + "0" * 32, twilio_auth_token=AUTH, hotlead_public_url=PUBLIC,
                        twilio_whatsapp_from="whatsapp:+15550009999")
    with BackgroundServer(create_app(settings, slack=False, engine=demo_engine)) as running:
        yield running.url


@pytest.fixture
def rep_number(a_rep: RepRow) -> str:
    assert a_rep.whatsapp
    return a_rep.whatsapp


def send(server: str, sender: str, text: str, signature: str | None = None) -> httpx.Response:
    params = {"From": f"whatsapp:{sender}", "To": "whatsapp:+15550009999", "Body": text,
              "MessageSid": "SM" + "1" * 32, "AccountSid": "AC" + "0" * 32, "NumMedia": "0"}
    signed = twilio_signature(AUTH, f"{PUBLIC}/twilio/whatsapp", params) if signature is None else signature
    return httpx.post(f"{server}/twilio/whatsapp", content=urlencode(params), timeout=10,
                      headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signed})


def messages(response: httpx.Response) -> list[str]:
    root = ElementTree.fromstring(response.text)
    assert root.tag == "Response"
    return [m.text or "" for m in root.iter("Message")]


def test_a_registered_rep_gets_the_answer_as_twiml(server: str, rep_number: str, demo_engine: Engine) -> None:
    lead = top_leads(demo_engine, limit=1)[0]
    response = send(server, rep_number, f"why is {lead['lead']} hot?")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
    text = "\n".join(messages(response))
    assert lead["name"] in text and "Pushing it up" in text
    with demo_engine.connect() as conn:
        seen = run_sql(conn, "SELECT whatsapp_seen_at FROM rep WHERE whatsapp = ?", (rep_number,)).scalar()
    assert seen is not None  # the 24-hour window for free-form alerts is open


def test_an_unregistered_number_gets_no_lead_data(server: str, demo_engine: Engine) -> None:
    lead = top_leads(demo_engine, limit=1)[0]
    text = "\n".join(messages(send(server, "+19995550000", f"why is {lead['lead']} hot?")))
    assert "registered" in text
    assert lead["name"] not in text and lead["lead"] not in text


@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl"])
def test_a_bad_signature_gets_403(server: str, rep_number: str, signature: str) -> None:
    assert send(server, rep_number, "top leads", signature=signature).status_code == 403


def test_a_numbered_choice_is_answered_on_the_next_message(server: str, rep_number: str, shared_name: str) -> None:
    name = shared_name
    listed = "\n".join(messages(send(server, rep_number, f"why is {name} hot?")))
    assert "1. " in listed and "Reply with a number" in listed
    picked = "\n".join(messages(send(server, rep_number, "1")))
    assert name in picked and "Pushing it up" in picked


def test_long_answers_are_split_under_whatsapp_limit(server: str, rep_number: str) -> None:
    pieces = messages(send(server, rep_number, "top 25 leads"))
    assert all(len(piece) <= 1600 for piece in pieces)
    assert "25." in "\n".join(pieces)


def test_a_leads_buttons_are_numbered_choices_and_a_number_gives_the_feedback(
        server: str, rep_number: str, demo_engine: Engine) -> None:
    from storage.history import verdicts
    from storage.queries import lead_ids_by_external_id

    lead = top_leads(demo_engine, limit=1)[0]
    asked = "\n".join(messages(send(server, rep_number, f"why is {lead['lead']} hot?")))
    listed = [line for line in asked.splitlines() if line[:1].isdigit() and ". " in line]
    labels = [line.split(". ", 1)[1] for line in listed]
    assert labels == ["Snooze 7 days", "Mark contacted", "Hotter than this", "Not a fit", "Talked: no budget"]
    picked = "\n".join(messages(send(server, rep_number, str(labels.index("Hotter than this") + 1))))
    assert "hotter than its score" in picked and "pinned hot" in picked
    with demo_engine.connect() as conn:
        lead_id = lead_ids_by_external_id(conn=conn, external_ids=[lead["lead"]])[lead["lead"]]
        assert verdicts(conn=conn, lead_id=lead_id)[-1].action == "hotter"
