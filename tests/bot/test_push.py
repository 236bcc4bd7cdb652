"""`hotlead serve`'s push side end to end: events and messages in over HTTP, alerts out through the outbox to
local fakes of the Slack Web API and the Twilio REST API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import Engine

from bot.app import create_app, senders
from bot.config import Settings
from bot.fakes import FakeSlack, FakeTwilio, twilio_signature
from bot.push.demo import start_session
from bot.push.outbox import Outbox
from bot.server import BackgroundServer
from storage.history import stamp
from tests.conftest import run_sql

TOKEN, SECRET, API = "xoxb-push", "push-signing-secret", "api-token-123"
SID, AUTH, FROM = "AC" + "2" * 32, "twilio-auth", "whatsapp:+15550009999"
PUBLIC, CHANNEL, TEMPLATE = "https://hotlead.example.com", "C0ALERTS", "HX" + "a" * 32


@dataclass
class Running:
    url: str
    slack: FakeSlack
    twilio: FakeTwilio
    engine: Engine
    outbox: Outbox

    def post(self, path: str, body: object, token: str | None = API) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(f"{self.url}{path}", json=body, headers=headers, timeout=10)

    def settle(self) -> None:
        """Wait until the live pipeline has nothing left to do, then deliver what is due."""
        assert self.url  # the server runs in this process: reach its pipeline
        self.app.state.hotlead.pipeline.idle.wait(timeout=10)
        self.outbox.deliver_due()

    app: object = None


@pytest.fixture
def running(demo_engine: Engine) -> Iterator[Running]:
    with FakeSlack(token=TOKEN, channels=[CHANNEL]) as slack, FakeTwilio(SID, AUTH) as twilio:
        settings = Settings(slack_bot_token=TOKEN, slack_signing_secret=SECRET, slack_api_url=slack.url,
                            twilio_account_sid=SID, twilio_auth_token=AUTH, twilio_whatsapp_from=FROM,
                            twilio_api_url=twilio.url, hotlead_public_url=PUBLIC, hotlead_api_token=API,
                            hotlead_alert_channel=CHANNEL, hotlead_whatsapp_template=TEMPLATE, hotlead_nlp="rules")
        outbox = Outbox(demo_engine, senders(settings, demo_engine), backoff_s=lambda attempts: 0.05)
        app = create_app(settings, engine=demo_engine, outbox=outbox)
        with BackgroundServer(app) as server:
            result = Running(server.url, slack, twilio, demo_engine, outbox)
            result.app = app
            yield result


def near_hot(engine: Engine) -> tuple[str, int, str]:
    """(external id, id, owner's Slack id) of the owned warm lead closest to the hot band."""
    with engine.connect() as conn:
        return tuple(run_sql(conn,
            "SELECT l.external_id, l.id, r.slack_user_id FROM score s JOIN lead l ON l.id = s.lead_id "
            "JOIN rep r ON r.id = l.owner_id WHERE s.band = 'warm' AND s.id IN (SELECT max(id) FROM score "
            "GROUP BY lead_id) ORDER BY s.percentile DESC LIMIT 1").one())


def burst(lead: str, now: datetime) -> list[dict]:
    pages = [{"lead": lead, "kind": "page_view", "occurred_at": (now - timedelta(minutes=9 - i)).isoformat(),
              "detail": {"url": "/pricing", "page_type": "pricing"}} for i in range(3)]
    return pages + [{"lead": lead, "kind": "email_reply", "occurred_at": (now - timedelta(minutes=4)).isoformat()},
                    {"lead": lead, "kind": "demo_request", "occurred_at": now.isoformat()}]


def test_a_burst_into_the_hot_band_alerts_the_channel_and_the_owner_once(running: Running) -> None:
    lead, _lead_id, owner = near_hot(running.engine)
    now = datetime.now(UTC)
    for event in burst(lead, now):  # one request per event, as a tracking script would send them
        assert running.post("/api/events", event).status_code == 202
    running.post("/api/events", burst(lead, now + timedelta(minutes=1)))  # and a second burst as a list
    running.settle()
    posts = running.slack.wait_for("chat.postMessage", count=2)
    assert sorted(p.params["channel"] for p in posts) == sorted([CHANNEL, owner])
    assert all("just turned hot" in p.params["text"] for p in posts)
    with running.engine.connect() as conn:
        alerts = run_sql(conn, "SELECT status FROM alert WHERE kind = 'hot'").all()
    assert [a[0] for a in alerts] == ["sent", "sent"]


def open_demo(engine: Engine, lead_id: int, seen: datetime | None) -> str:
    with engine.begin() as conn:
        rep_id, number = run_sql(conn,
            "SELECT id, whatsapp FROM rep WHERE role != 'manager' ORDER BY id LIMIT 1").one()
        run_sql(conn, "UPDATE rep SET whatsapp_seen_at = ? WHERE id = ?", (stamp(seen) if seen else None,
                                                                                rep_id))
        start_session(conn, lead_id=lead_id, rep_id=rep_id, minutes=45)
    return str(number)


def test_a_pricing_view_during_a_demo_sends_one_whatsapp_message(running: Running) -> None:
    lead, lead_id, _ = near_hot(running.engine)
    number = open_demo(running.engine, lead_id, seen=datetime.now(UTC) - timedelta(hours=2))
    event = {"lead": lead, "kind": "page_view", "occurred_at": datetime.now(UTC).isoformat(),
             "detail": {"url": "/pricing", "page_type": "pricing"}}
    assert running.post("/api/events", event).status_code == 202
    sent = running.twilio.wait_for(count=1)[0]
    assert sent.params["To"] == f"whatsapp:{number}" and sent.params["From"] == FROM
    assert "pricing" in sent.params["Body"] and "Live demo" in sent.params["Body"]
    assert sent.params["StatusCallback"].startswith(f"{PUBLIC}/twilio/status?alert=")


def test_a_page_view_known_only_by_its_url_reads_as_that_page(running: Running) -> None:
    lead, lead_id, _ = near_hot(running.engine)
    open_demo(running.engine, lead_id, seen=datetime.now(UTC))
    event = {"lead": lead, "kind": "page_view", "occurred_at": datetime.now(UTC).isoformat(),
             "detail": {"url": "https://acme.example/pricing?plan=team"}}
    assert running.post("/api/events", event).status_code == 202
    assert "viewed the pricing page" in running.twilio.wait_for(count=1)[0].params["Body"]


def test_a_burst_during_a_demo_becomes_one_message(running: Running) -> None:
    lead, lead_id, _ = near_hot(running.engine)
    open_demo(running.engine, lead_id, seen=datetime.now(UTC))
    now = datetime.now(UTC)
    events = [{"lead": lead, "kind": "page_view", "occurred_at": (now + timedelta(seconds=i)).isoformat(),
               "detail": {"url": "/pricing", "page_type": "pricing"}} for i in range(3)]
    message = {"lead": lead, "channel": "chat", "direction": "inbound", "speaker": "Prospect",
               "text": "Budget is approved and we need this live before Friday.", "occurred_at": now.isoformat()}
    assert running.post("/api/events", events).status_code == 202
    assert running.post("/api/messages", message).status_code == 202
    running.settle()
    sent = running.twilio.wait_for(count=1)
    assert len(sent) == 1
    body = sent[0].params["Body"]
    assert body.count("viewed the pricing page") == 3 and "budget" in body


def test_outside_the_24_hour_window_the_template_is_used(running: Running) -> None:
    lead, lead_id, _ = near_hot(running.engine)
    open_demo(running.engine, lead_id, seen=datetime.now(UTC) - timedelta(hours=30))
    event = {"lead": lead, "kind": "page_view", "occurred_at": datetime.now(UTC).isoformat(),
             "detail": {"url": "/pricing", "page_type": "pricing"}}
    running.post("/api/events", event)
    sent = running.twilio.wait_for(count=1)[0]
    assert sent.params["ContentSid"] == TEMPLATE and "Body" not in sent.params
    assert "pricing" in json.loads(sent.params["ContentVariables"])["2"]


def test_without_a_template_the_text_is_tried_outside_the_window_and_logged(demo_engine: Engine,
                                                                            caplog: pytest.LogCaptureFixture) -> None:
    from bot.clients import twilio_client
    from bot.push.senders import whatsapp_sender

    with FakeTwilio(SID, AUTH) as twilio:
        settings = Settings(twilio_account_sid=SID, twilio_auth_token=AUTH, twilio_whatsapp_from=FROM,
                            twilio_api_url=twilio.url)
        send = whatsapp_sender(settings, twilio_client(settings), demo_engine).send
        reference = send({"id": 1, "rep_id": None, "target": "+15550100003", "payload": {"body": "Acme: pricing"}})
        sent = twilio.wait_for(count=1)[0]
    assert reference and sent.params["Body"] == "Acme: pricing" and "ContentSid" not in sent.params
    assert "HOTLEAD_WHATSAPP_TEMPLATE" in caplog.text


def test_alerts_queue_while_slack_is_down_and_are_delivered_once_when_it_is_back(running: Running) -> None:
    from bot.push.outbox import enqueue

    running.slack.down = True
    ids = [enqueue(running.engine, kind="hot", channel="slack", target=CHANNEL, dedupe_key=f"test:{i}",
                   payload={"text": f"alert {i}"}) for i in range(3)]
    running.outbox.wake()
    running.outbox.deliver_due()
    with running.engine.connect() as conn:
        statuses = run_sql(conn, "SELECT status, attempts FROM alert ORDER BY id").all()
    assert all(s in ("queued", "sending") for s, _ in statuses) and running.slack.refused >= 1  # none sent
    running.slack.down = False
    posts = running.slack.wait_for("chat.postMessage", count=3, timeout=10)
    running.outbox.deliver_due()
    assert sorted(p.params["text"] for p in posts) == ["alert 0", "alert 1", "alert 2"]
    assert len(running.slack.calls_to("chat.postMessage")) == 3
    with running.engine.connect() as conn:
        assert {r[0] for r in run_sql(conn, "SELECT status FROM alert WHERE id IN (?, ?, ?)", tuple(ids))} \
            == {"sent"}


def test_after_a_long_outage_every_queued_alert_goes_out_as_soon_as_slack_answers(demo_engine: Engine) -> None:
    from bot.push.outbox import enqueue

    with FakeSlack(token=TOKEN, channels=[CHANNEL]) as slack:
        settings = Settings(slack_bot_token=TOKEN, slack_api_url=slack.url)
        hour = Outbox(demo_engine, senders(settings, demo_engine), backoff_s=lambda attempts: 3600.0, probe_s=0.1)
        slack.down = True
        held = enqueue(demo_engine, kind="hot", channel="slack", target="U0QUIET", dedupe_key="outage:held",
                       payload={"text": "after quiet hours"}, not_before=datetime.now(UTC) + timedelta(hours=1))
        ids = [enqueue(demo_engine, kind="hot", channel="slack", target=CHANNEL, dedupe_key=f"outage:{i}",
                       payload={"text": f"alert {i}"}) for i in range(3)]
        assert [hour.deliver_due() for _ in ids] == [0, 0, 0]  # one alert a pass per target: each failed once,
        # and its own next attempt is an hour away
        refused = slack.refused
        hour.start()
        try:
            slack.wait_for_refusals(refused + 2, timeout=10)  # the probes: the oldest alert, tried again
            with demo_engine.connect() as conn:
                attempts = [r[0] for r in run_sql(conn, "SELECT attempts FROM alert ORDER BY id")]
            assert attempts == [0, 1, 1, 1]  # a failed probe is not an attempt; the held alert was not tried
            slack.down = False
            posts = slack.wait_for("chat.postMessage", count=3, timeout=10)
            hour.deliver_due()
        finally:
            hour.stop()
    assert sorted(p.params["text"] for p in posts) == ["alert 0", "alert 1", "alert 2"]
    with demo_engine.connect() as conn:
        assert [r[0] for r in run_sql(conn, "SELECT status FROM alert WHERE id IN (?, ?, ?)", tuple(ids))] \
            == ["sent"] * 3
        assert run_sql(conn, "SELECT status FROM alert WHERE id = ?", (held,)).scalar_one() == "queued"


def test_intake_refuses_bad_tokens_bad_bodies_and_unknown_leads(running: Running) -> None:
    event = {"lead": "L000001", "kind": "page_view", "occurred_at": "2026-11-23T10:00:00Z"}
    before = activities_of(running.engine, "L000001")
    assert running.post("/api/events", event, token=None).status_code == 401
    assert running.post("/api/events", event, token="wrong").status_code == 401
    bad = running.post("/api/events", [event, {**event, "occurred_at": "yesterday"}])
    assert bad.status_code == 422 and bad.json()["field"] == "[1].occurred_at"
    assert running.post("/api/events", {**event, "kind": "teleport"}).json()["field"] == "kind"
    assert running.post("/api/messages", {"lead": "L000001", "channel": "chat", "occurred_at": "2026-11-23"}
                        ).json()["field"] == "text"
    unknown = running.post("/api/events", [event, {**event, "lead": "NOBODY"}])
    assert unknown.status_code == 404
    # PostgreSQL stores no NUL character in text or JSON (a fuzzed body found one reaching it: a 500); refused on
    # both engines, naming the field
    nul = running.post("/api/events", [event, {**event, "detail": {"W_\x00": 1}}])
    assert nul.status_code == 422 and nul.json()["field"] == "[1].detail"
    assert running.post("/api/messages", {"lead": "L000001", "channel": "chat", "occurred_at": "2026-11-23",
                                          "text": "hi\x00", "source_ref": "nul-1"}).json()["field"] == "text"
    assert activities_of(running.engine, "L000001") == before  # nothing of the refused requests was stored


def activities_of(engine: Engine, lead: str) -> int:
    with engine.connect() as conn:
        return int(run_sql(conn, "SELECT count(*) FROM activity a JOIN lead l ON l.id = a.lead_id "
                                        "WHERE l.external_id = ?", (lead,)).scalar_one())


def test_a_duplicate_event_is_accepted_once(running: Running) -> None:
    event = {"lead": "L000001", "kind": "email_open", "occurred_at": "2026-11-23T10:05:00Z", "detail": {"c": "q4"}}
    before = activities_of(running.engine, "L000001")
    first = running.post("/api/events", event).json()
    again = running.post("/api/events", event).json()
    assert first["new"] == 1 and again["duplicates"] == 1 and first["ids"] == again["ids"]
    assert activities_of(running.engine, "L000001") == before + 1


def test_twilio_delivery_callbacks_update_the_alert(running: Running) -> None:
    lead, lead_id, _ = near_hot(running.engine)
    open_demo(running.engine, lead_id, seen=datetime.now(UTC))
    running.post("/api/events", {"lead": lead, "kind": "page_view", "occurred_at": datetime.now(UTC).isoformat(),
                                 "detail": {"page_type": "pricing"}})
    running.twilio.wait_for(count=1)
    running.settle()
    with running.engine.connect() as conn:
        sid = run_sql(conn, "SELECT external_ref FROM alert WHERE kind = 'demo'").scalar_one()
    params = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": SID}
    signature = twilio_signature(AUTH, f"{PUBLIC}/twilio/status", params)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    assert httpx.post(f"{running.url}/twilio/status", content=urlencode(params), headers=headers).status_code == 200
    forged = {**headers, "X-Twilio-Signature": "forged"}
    assert httpx.post(f"{running.url}/twilio/status", content=urlencode(params), headers=forged).status_code == 403
    with running.engine.connect() as conn:
        assert run_sql(conn, "SELECT status, delivery FROM alert WHERE external_ref = ?", (sid,)).one() \
            == ("sent", "delivered")  # the outbox's state stays its own
