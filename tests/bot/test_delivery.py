"""Twilio's delivery callbacks as Twilio sends them (repeated, late, out of order) never re-send an alert and
only move its delivery status forward; the outbox's own state stays its own."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from bot.app import create_app, senders
from bot.bench.serving import served
from bot.cli import cli
from bot.config import Settings
from bot.fakes import FakeTwilio
from bot.fakes.twilio import IN_ORDER, REORDERED
from bot.push.demo import Bundle, Session, bundle_body, template_variables
from bot.push.outbox import Outbox, enqueue
from bot.server import BackgroundServer
from storage.alerts import record_delivery
from storage.history import RepRow

SID, AUTH, FROM = "AC" + "7" * 32, "twilio-delivery-auth", "whatsapp:+15550007777"
PUBLIC = "https://hotlead.example.com"


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(SID, AUTH) as fake:
        yield fake


def settings_for(twilio: FakeTwilio) -> Settings:
    return Settings(twilio_account_sid=SID, twilio_auth_token=AUTH, twilio_whatsapp_from=FROM,
                    twilio_api_url=twilio.url, hotlead_public_url=PUBLIC, hotlead_nlp="rules")


def queue_whatsapp(engine: Engine, rep: RepRow, key: str) -> int:
    found = enqueue(engine, kind="demo", channel="whatsapp", target=rep.whatsapp, dedupe_key=key,
                    payload={"body": f"🔴 Live demo ({key}): viewed the pricing page"}, rep_id=rep.id)
    assert found is not None
    return found


def alert_row(engine: Engine, alert_id: int) -> tuple[str, str | None, str | None]:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT status, delivery, external_ref FROM alert WHERE id = :i"), {"i": alert_id})
        return tuple(row.one())  # type: ignore[return-value]


def sid_of(call_answer: bytes) -> str:
    return str(json.loads(call_answer)["sid"])


@pytest.mark.parametrize("statuses, delivery", [
    (list(IN_ORDER), "read"),
    (["sent", "delivered", "read", "delivered", "queued", "sending"], "read"),  # late and repeated
    (list(REORDERED), "read"),  # read overtook delivered, sent came twice, queued last
    (["accepted", "scheduled", "queued", "sent", "undelivered"], "undelivered"),
    (["sent", "canceled"], "canceled"),
    (["sent", "partially_delivered", "delivered"], "partially_delivered"),  # first of equal rank wins
    (["sent", "no_such_status_yet"], "sent"),  # an unknown status is recorded, not applied
])
def test_callbacks_in_any_order_only_move_delivery_forward(
    demo_engine: Engine, a_rep: RepRow, twilio: FakeTwilio, statuses: list[str], delivery: str,
) -> None:
    settings = settings_for(twilio)
    with BackgroundServer(create_app(settings, slack=False, engine=demo_engine)) as server:
        alert = queue_whatsapp(demo_engine, a_rep, "orders")
        Outbox(demo_engine, senders(settings, demo_engine)).deliver_due()
        sid = sid_of(twilio.wait_for()[0].answer)
        answers = twilio.send_status(sid, statuses, via=server.url, error_code="30006")
    assert [answer.status_code for answer in answers] == [200] * len(statuses)  # never refused: Twilio retries
    assert alert_row(demo_engine, alert) == ("sent", delivery, sid)
    assert len(twilio.calls_to("messages")) == 1
    with demo_engine.connect() as conn:
        kept = [r[0] for r in conn.execute(text("SELECT status FROM delivery_event WHERE alert_id = :a ORDER BY id"),
                                           {"a": alert})]
    assert kept == statuses  # every callback is kept as it came


def test_a_callback_for_an_alert_still_sending_marks_it_sent_so_a_restart_does_not_send_it_again(
    demo_engine: Engine, a_rep: RepRow, twilio: FakeTwilio,
) -> None:
    alert = queue_whatsapp(demo_engine, a_rep, "crash")
    with demo_engine.begin() as conn:  # Twilio took it, then the process died before it wrote `sent`
        conn.execute(text("UPDATE alert SET status = 'sending' WHERE id = :i"), {"i": alert})
        done = record_delivery(conn=conn, alert_id=alert, sid="SM" + "c" * 32, status="queued", error_code=None,
                               at=datetime.now(UTC))
    assert done.confirmed_sent and alert_row(demo_engine, alert) == ("sent", "queued", "SM" + "c" * 32)
    outbox = Outbox(demo_engine, senders(settings_for(twilio), demo_engine))
    assert outbox.recover() == 0 and outbox.deliver_due() == 0
    assert twilio.calls_to("messages") == []


def test_a_callback_for_a_message_hotlead_never_sent_is_answered_and_kept(
    demo_engine: Engine, twilio: FakeTwilio,
) -> None:
    with demo_engine.begin() as conn:
        done = record_delivery(conn=conn, alert_id=None, sid="SM" + "0" * 32, status="delivered", error_code=None,
                               at=datetime.now(UTC))
        kept = conn.execute(text("SELECT alert_id, status FROM delivery_event")).all()
    assert done.alert_id is None and not done.moved and [tuple(k) for k in kept] == [(None, "delivered")]


def test_against_hotlead_serve_one_alert_goes_out_once_through_callbacks_and_a_restart(
    demo_engine: Engine, demo_url: str, a_rep: RepRow, twilio: FakeTwilio,
) -> None:
    env = {"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": AUTH, "TWILIO_WHATSAPP_FROM": FROM,
           "TWILIO_API_URL": twilio.url, "HOTLEAD_PUBLIC_URL": PUBLIC, "HOTLEAD_API_TOKEN": "t", "HOTLEAD_NLP": "rules"}
    alert = queue_whatsapp(demo_engine, a_rep, "process")
    with served(demo_engine, env, "--no-slack", "--chat-workers", "0") as url:
        sid = sid_of(twilio.wait_for(timeout=30)[0].answer)
        answers = twilio.send_status(sid, ["sent", "delivered", "read", "delivered", "queued", "sending"], via=url)
        assert [answer.status_code for answer in answers] == [200] * 6
    with served(demo_engine, env, "--no-slack", "--chat-workers", "0"):
        marker = queue_whatsapp(demo_engine, a_rep, "after-restart")  # sent after anything recovery re-queued
        twilio.first("messages", lambda call: "after-restart" in call.params.get("Body", ""), timeout=30)
    bodies = [call.params["Body"] for call in twilio.calls_to("messages")]
    assert [body for body in bodies if "(process)" in body] == [bodies[0]]  # out exactly once
    listed = CliRunner().invoke(cli, ["alerts", "--json"], env={"HOTLEAD_DATABASE_URL": demo_url})
    assert listed.exit_code == 0, listed.output
    rows = {row["id"]: row for row in json.loads(listed.output)}
    assert (rows[alert]["status"], rows[alert]["delivery"]) == ("sent", "read")
    assert rows[marker]["status"] == "sent" and rows[marker]["delivery"] is None


def hostile_bundle(lines: int) -> Bundle:
    session = Session(1, 1, 1, "{{1}} Mallory\nNew line " + "x" * 300, "Acme {{2}} Corp", 1, "+15550100003", "")
    said = "said “we need this by Friday {{3}}\tand\n\nthe budget is approved” (urgency, budget)"
    return Bundle(session, 0.0, [f"{said} #{i}" for i in range(lines)])


def test_a_whatsapp_alert_body_stays_under_1600_characters_cut_between_words() -> None:
    body = bundle_body(hostile_bundle(40))
    assert len(body) <= 1600 and body.endswith("… more in Hotlead")
    lines = body.removesuffix("\n… more in Hotlead").split("\n")
    assert lines[0].startswith("🔴 Live demo: *{{1}} Mallory New line xxx") and len(lines) > 5
    assert all(re.fullmatch(r"• said “.*” \(urgency, budget\) #\d+", line) for line in lines[1:])  # whole lines


def test_template_values_are_one_line_without_placeholders_of_their_own() -> None:
    values = template_variables(hostile_bundle(3))
    assert all("{{" not in value and "}}" not in value for value in values.values())
    assert all("\n" not in value and "\t" not in value and "  " not in value for value in values.values())
    assert len(values["1"]) <= 120 and len(values["2"]) <= 600


def test_the_fake_refuses_what_twilio_refuses(twilio: FakeTwilio) -> None:
    url = f"{twilio.url}/2010-04-01/Accounts/{SID}/Messages.json"
    base = {"From": FROM, "To": "whatsapp:+15550100003"}
    with httpx.Client(auth=(SID, AUTH)) as http:
        answers = [http.post(url, data={**base, **extra}) for extra in (
            {"Body": "x" * 1601}, {"Body": "hi", "StatusCallback": "not a url"},
            {"ContentSid": "HX" + "a" * 32, "ContentVariables": "{not json"},
            {"ContentSid": "HX" + "a" * 32, "ContentVariables": '{"1": 5}'})]
        wrong = httpx.post(url, data={**base, "Body": "hi"}, auth=(SID, "wrong"))
    assert [(a.status_code, a.json()["code"]) for a in answers] == [(400, 21617), (400, 21609), (400, 21656),
                                                                    (400, 21656)]
    assert (wrong.status_code, wrong.json()["code"]) == (401, 20003)
    assert answers[0].json()["more_info"] == "https://www.twilio.com/docs/errors/21617"


def test_the_fakes_callbacks_are_signed_as_twilio_signs_them(demo_engine: Engine, a_rep: RepRow,
                                                            twilio: FakeTwilio) -> None:
    settings = settings_for(twilio)
    with BackgroundServer(create_app(settings, slack=False, engine=demo_engine)) as server:
        queue_whatsapp(demo_engine, a_rep, "signed")
        Outbox(demo_engine, senders(settings, demo_engine)).deliver_due()
        call = twilio.wait_for()[0]
        sid = sid_of(call.answer)
        [answer] = twilio.send_status(sid, ["delivered"], via=server.url)
        assert answer.status_code == 200 and answer.json()["delivery"] == "delivered"
        forged = httpx.post(f"{server.url}/twilio/status", data={"MessageSid": sid, "MessageStatus": "read"},
                            headers={"X-Twilio-Signature": "forged"})
    assert forged.status_code == 403


@pytest.mark.parametrize("named", ["²", "abc", "-1", ""])
def test_a_signed_callback_naming_no_alert_of_ours_is_answered_not_a_server_error(
    demo_engine: Engine, twilio: FakeTwilio, named: str,
) -> None:
    from urllib.parse import quote

    from bot.fakes import twilio_signature

    form = {"MessageSid": "SM" + "9" * 32, "MessageStatus": "delivered", "AccountSid": SID}
    path = f"/twilio/status?alert={quote(named)}"
    with BackgroundServer(create_app(settings_for(twilio), slack=False, engine=demo_engine)) as server:
        answer = httpx.post(f"{server.url}{path}", data=form,
                            headers={"X-Twilio-Signature": twilio_signature(AUTH, f"{PUBLIC}{path}", form)})
    assert answer.status_code == 200 and answer.json()["alert"] is None
