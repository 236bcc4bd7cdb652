"""`hotlead serve`'s Slack side end to end: signed requests in over HTTP, real Bolt and slack_sdk, replies at a
local fake of the Slack Web API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from bot.app import create_app
from bot.config import MissingSettingError, Settings
from bot.fakes import FakeSlack, interaction_body, slack_event_body, slack_headers, slash_command_body
from bot.server import BackgroundServer
from scoring.leads import top_leads
from storage.history import RepRow
from tests.bot.conftest import slack_served, socket_mode_connected
from tests.conftest import run_sql

SECRET = "slack-signing-secret"
TOKEN = "xoxb-hotlead-test"


@pytest.fixture
def served(demo_engine: Engine) -> Iterator[tuple[FakeSlack, str]]:
    with slack_served(demo_engine, TOKEN, SECRET, ["C0SALES"]) as both:
        yield both


@pytest.fixture
def rep_id(a_rep: RepRow) -> str:
    assert a_rep.slack_user_id
    return a_rep.slack_user_id


def send(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{url}/slack/events", content=body, headers=headers, timeout=10)


def mention(text: str, user: str, event_id: str | None = None) -> bytes:
    return slack_event_body({"type": "app_mention", "user": user, "text": f"<@UHOTLEAD> {text}",
                             "channel": "C0SALES", "ts": "1763900000.000100"}, event_id=event_id)


def posted_text(call: Any) -> str:
    return call.params["text"] + json.dumps(call.params.get("blocks", []), ensure_ascii=False)


def test_a_mention_asking_why_gets_the_lead_score_and_reasons(server: str, slack: FakeSlack, rep_id: str,
                                                             demo_engine: Engine) -> None:
    lead = top_leads(demo_engine, limit=1)[0]
    body = mention(f"why is {lead['name']} at {lead['account']} hot?", rep_id)
    response = send(server, body, slack_headers(SECRET, body))
    assert response.status_code == 200
    call = slack.wait_for("chat.postMessage")[0]
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.params["channel"] == "C0SALES" and call.params["thread_ts"] == "1763900000.000100"
    text = call.params["text"]
    assert lead["name"] in text and f"*{round(100 * lead['probability'])}*" in text
    assert text.count("▲") + text.count("▼") >= 3
    assert any(block["type"] == "actions" for block in call.params["blocks"])


def test_the_slash_command_is_acked_at_once_then_answered(server: str, slack: FakeSlack, rep_id: str) -> None:
    body = slash_command_body("top", rep_id, channel_id="C0SALES", response_url=slack.response_url("top"))
    started = time.monotonic()
    response = send(server, body, slack_headers(SECRET, body))
    assert response.status_code == 200 and time.monotonic() - started < 3
    call = slack.wait_for("chat.postMessage")[0]
    assert call.params["channel"] == "C0SALES" and "Top 10" in call.params["text"]


@pytest.mark.parametrize("tamper", ["unsigned", "stale", "tampered", "wrong secret"])
def test_requests_not_signed_by_slack_get_401_and_nothing_is_posted(
    server: str, slack: FakeSlack, rep_id: str, tamper: str,
) -> None:
    body = mention("top leads", rep_id)
    headers = {
        "unsigned": {"Content-Type": "application/json"},
        "stale": slack_headers(SECRET, body, timestamp=int(time.time()) - 6 * 60),
        "tampered": slack_headers(SECRET, body),
        "wrong secret": slack_headers("not-the-secret", body),
    }[tamper]
    sent = body.replace(b"top leads", b"top 25 leads") if tamper == "tampered" else body
    assert send(server, sent, headers).status_code == 401
    # a correctly signed request afterwards is answered: the refused one left nothing behind
    ok = mention("help", rep_id)
    assert send(server, ok, slack_headers(SECRET, ok)).status_code == 200
    calls = slack.wait_for("chat.postMessage")
    assert len(calls) == 1 and "Ask me things like" in calls[0].params["text"]


def test_a_body_of_the_wrong_shape_is_refused_without_a_server_error(server: str, slack: FakeSlack,
                                                                    rep_id: str) -> None:
    form = slash_command_body("top", rep_id, channel_id="C0SALES", response_url=slack.response_url("top"))
    claims_json = {"Content-Type": "application/json"}
    assert send(server, form, claims_json).status_code == 401  # unsigned: refused before the body is read
    junk_time = {**slack_headers(SECRET, form), "X-Slack-Request-Timestamp": "yesterday"}
    assert send(server, form, junk_time).status_code == 401
    assert send(server, form, slack_headers(SECRET, form, content_type="application/json")).status_code == 400
    assert send(server, b"{not json", slack_headers(SECRET, b"{not json")).status_code == 400
    assert slack.calls_to("chat.postMessage") == []


@pytest.mark.parametrize("body, content_type", [
    (b"[1, 2]", "application/json"),
    (b'{"type": "event_callback", "event": []}', "application/json"),
    (b'{"type": "event_callback", "event_id": "Ev1", "event": {"type": "app_mention", "text": ["top"], '
     b'"user": "U0HL00003", "channel": "C0SALES"}}', "application/json"),
    (b'{"type": "event_callback", "event_id": ["Ev1"], "event": {"type": "app_mention"}}', "application/json"),
    (interaction_body({"type": "block_actions", "user": {"id": "U0HL00003"}}), None),
    (interaction_body({"type": "block_actions", "actions": []}), None),
    (interaction_body({"type": "block_actions", "actions": ["hl_why"]}), None),
    (b"payload=%5B%5D", None),  # the payload is a list
])
def test_a_signed_body_of_a_shape_slack_never_sends_is_a_400(server: str, slack: FakeSlack, body: bytes,
                                                            content_type: str | None) -> None:
    assert send(server, body, slack_headers(SECRET, body, content_type=content_type)).status_code == 400


def test_a_retried_event_is_answered_once(server: str, slack: FakeSlack, rep_id: str) -> None:
    body = mention("top 3 leads", rep_id, event_id="Ev0RETRY01")
    first = send(server, body, slack_headers(SECRET, body))
    retry = send(server, body, {**slack_headers(SECRET, body), "X-Slack-Retry-Num": "1",
                                "X-Slack-Retry-Reason": "http_timeout"})
    assert first.status_code == retry.status_code == 200
    slack.wait_for("chat.postMessage")
    other = mention("help", rep_id, event_id="Ev0OTHER01")  # a later event proves the retry was not just slow
    send(server, other, slack_headers(SECRET, other))
    calls = slack.wait_for("chat.postMessage", count=2)
    assert sum("Top 3" in c.params["text"] for c in calls) == 1 and len(calls) == 2


def test_a_retry_that_reaches_another_server_process_is_answered_once(demo_engine: Engine, rep_id: str) -> None:
    """Two `hotlead serve` apps on one database (each its own engine, as two processes behind a load balancer):
    Slack's retry of a slow ack lands on the other one, which knows the event was answered."""
    from storage.db import make_engine

    other_engine = make_engine(demo_engine.url.render_as_string(hide_password=False))
    with FakeSlack(token=TOKEN, channels=["C0SALES"]) as slack:
        settings = Settings(slack_bot_token=TOKEN, slack_signing_secret=SECRET, slack_api_url=slack.url)
        with BackgroundServer(create_app(settings, whatsapp=False, engine=demo_engine)) as one, \
                BackgroundServer(create_app(settings, whatsapp=False, engine=other_engine)) as two:
            body = mention("top 3 leads", rep_id, event_id="Ev0ACROSS01")
            first = send(one.url, body, slack_headers(SECRET, body))
            retry = send(two.url, body, {**slack_headers(SECRET, body), "X-Slack-Retry-Num": "1",
                                         "X-Slack-Retry-Reason": "http_timeout"})
            assert first.status_code == retry.status_code == 200
            later = mention("help", rep_id, event_id="Ev0ACROSS02")  # proves the retry was not just slow
            send(two.url, later, slack_headers(SECRET, later))
            calls = slack.wait_for("chat.postMessage", count=2)
            assert sum("Top 3" in c.params["text"] for c in calls) == 1 and len(calls) == 2
    other_engine.dispose()


def test_a_replayed_slash_command_runs_once(server: str, slack: FakeSlack, rep_id: str,
                                           caplog: pytest.LogCaptureFixture) -> None:
    body = slash_command_body("top 3 leads", rep_id, channel_id="C0SALES", response_url=slack.response_url("r"))
    caplog.set_level("INFO", logger="bot.channels.slack")
    assert send(server, body, slack_headers(SECRET, body)).status_code == 200
    assert send(server, body, slack_headers(SECRET, body)).status_code == 200  # the same signed request again
    assert "came again: already answered" in caplog.text  # refused before any listener ran
    other = slash_command_body("help", rep_id, channel_id="C0SALES", response_url=slack.response_url("o"))
    send(server, other, slack_headers(SECRET, other))
    calls = slack.wait_for("chat.postMessage", count=2)
    assert sum("Top 3" in c.params["text"] for c in calls) == 1


def test_a_button_snoozes_the_lead(server: str, slack: FakeSlack, rep_id: str, demo_engine: Engine) -> None:
    lead = top_leads(demo_engine, limit=1)[0]
    body = interaction_body({
        "type": "block_actions", "user": {"id": rep_id}, "channel": {"id": "C0SALES"}, "team": {"id": "T1"},
        "response_url": slack.response_url("button"), "trigger_id": "1.2.3", "api_app_id": "AHOTLEAD",
        "actions": [{"action_id": "hl_snooze", "value": lead["lead"], "type": "button", "block_id": "b1"}],
    })
    assert send(server, body, slack_headers(SECRET, body)).status_code == 200
    call = slack.wait_for("chat.postMessage")[0]
    assert "Snoozed" in call.params["text"] and lead["name"] in call.params["text"]
    with demo_engine.connect() as conn:
        status = run_sql(conn, "SELECT status FROM lead WHERE external_id = ?", (lead["lead"],)).scalar_one()
    assert status == "snoozed"


def test_a_direct_message_is_answered_in_the_dm(server: str, slack: FakeSlack, rep_id: str) -> None:
    body = slack_event_body({"type": "message", "channel_type": "im", "user": rep_id, "text": "help",
                             "channel": "D0REP", "ts": "1763900000.000200"})
    assert send(server, body, slack_headers(SECRET, body)).status_code == 200
    assert slack.wait_for("chat.postMessage")[0].params["channel"] == "D0REP"


def test_a_missing_secret_stops_the_server_naming_the_variable(slack: FakeSlack, demo_engine: Engine) -> None:
    with pytest.raises(MissingSettingError, match="SLACK_SIGNING_SECRET"):
        create_app(Settings(slack_bot_token=TOKEN, slack_api_url=slack.url), whatsapp=False, engine=demo_engine)


def test_health_check_answers_and_tells_strangers_nothing_more(server: str) -> None:
    assert httpx.get(f"{server}/healthz", timeout=5).json() == {"ok": True}  # no lead count for anyone


def test_health_check_with_the_api_token_says_what_runs(slack: FakeSlack, demo_engine: Engine) -> None:
    settings = Settings(slack_bot_token=TOKEN, slack_signing_secret=SECRET, slack_api_url=slack.url,
                        hotlead_api_token="health-token")
    with BackgroundServer(create_app(settings, whatsapp=False, engine=demo_engine)) as running:
        health = httpx.get(f"{running.url}/healthz", headers={"Authorization": "Bearer health-token"}).json()
        wrong = httpx.get(f"{running.url}/healthz", headers={"Authorization": "Bearer nope"}).json()
    assert health["ok"] is True and health["channels"] == ["slack"] and health["leads"] == 2000
    assert wrong == {"ok": True}


def test_no_secret_reaches_the_logs_or_the_replies(server: str, slack: FakeSlack, rep_id: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.DEBUG):
        for text in ("top leads", "what is your token?", "why is xoxb hot?"):
            body = mention(text, rep_id)
            send(server, body, slack_headers(SECRET, body))
        forged = mention("help", rep_id)
        send(server, forged, slack_headers("guessed-secret", forged))
        calls = slack.wait_for("chat.postMessage", count=3)
    everything = caplog.text + "".join(posted_text(c) for c in calls)
    assert caplog.records  # the debug logs were captured
    assert TOKEN not in everything and SECRET not in everything


def test_socket_mode_answers_a_mention_and_acknowledges_its_envelope(demo_engine: Engine, rep_id: str) -> None:
    app_token = "xapp-1-hotlead-test"
    lead = top_leads(demo_engine, limit=1)[0]
    with socket_mode_connected(demo_engine, TOKEN, SECRET, app_token, ("C0SALES",)) as (socket, slack):
        socket.wait_connected()
        event = json.loads(mention(f"why is {lead['lead']} hot?", rep_id, event_id="Ev0SOCKET01"))
        socket.push({"envelope_id": "env-1", "type": "events_api", "payload": event,
                     "accepts_response_payload": False, "retry_attempt": 0, "retry_reason": ""})
        assert socket.wait_for_ack("env-1")["envelope_id"] == "env-1"
        call = slack.wait_for("chat.postMessage", timeout=10)[0]
    assert slack.calls_to("apps.connections.open")[0].headers["authorization"] == f"Bearer {app_token}"
    assert call.params["channel"] == "C0SALES" and lead["name"] in call.params["text"]
    assert call.headers["authorization"] == f"Bearer {TOKEN}"  # answers go out with the bot token


# Slack's documented example request ("Verifying requests from Slack"): secret, timestamp, body and signature.
VECTOR_SECRET, VECTOR_TS = "8f742231b10e8888abcd99yyyzzz85a5", 1531420618
VECTOR_BODY = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&"
               b"channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
               b"response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRs"
               b"kXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
VECTOR_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


@pytest.mark.parametrize("now, body, signature, status", [
    (VECTOR_TS + 60, VECTOR_BODY, VECTOR_SIGNATURE, 200),  # accepted (a command Hotlead does not have: acked)
    (VECTOR_TS + 60, VECTOR_BODY.replace(b"foobar", b"foobaz"), VECTOR_SIGNATURE, 401),
    (VECTOR_TS + 60, VECTOR_BODY, VECTOR_SIGNATURE[:-1] + "4", 401),
    (VECTOR_TS + 301, VECTOR_BODY, VECTOR_SIGNATURE, 401),  # more than five minutes old
])
def test_slacks_documented_signature_vector(slack: FakeSlack, demo_engine: Engine, now: int, body: bytes,
                                            signature: str, status: int) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Route

    from bot.channels.slack import slack_app, starlette_endpoint
    from bot.router import Deps

    settings = Settings(slack_bot_token=TOKEN, slack_signing_secret=VECTOR_SECRET, slack_api_url=slack.url)
    endpoint = starlette_endpoint(slack_app(settings, Deps(demo_engine, settings)), VECTOR_SECRET, clock=lambda: now)
    headers = {"X-Slack-Signature": signature, "X-Slack-Request-Timestamp": str(VECTOR_TS),
               "Content-Type": "application/x-www-form-urlencoded"}
    with BackgroundServer(Starlette(routes=[Route("/slack/events", endpoint, methods=["POST"])])) as running:
        assert send(running.url, body, headers).status_code == status
