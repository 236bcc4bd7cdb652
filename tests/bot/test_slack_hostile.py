"""Names that fight back: CRM data and askers' words holding Slack control sequences reach every Slack surface
as text, over HTTP and Socket Mode; Slack's unasked events are acknowledged."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from bot.app import senders
from bot.config import Settings
from bot.fakes import Call, FakeSlack, slack_event_body, slack_headers, slash_command_body
from bot.push.digest import send_digest
from bot.push.hot import alert_moves
from bot.push.outbox import Outbox
from scoring.incremental import Moved
from scoring.leads import top_leads
from storage.history import RepRow
from tests.bot.conftest import slack_served, socket_mode_connected

SECRET, TOKEN, APP_TOKEN = "hostile-signing-secret", "xoxb-hostile", "xapp-1-hostile"
NAME = "<!channel> Alert Test & <!here>"
ACCOUNT = "<https://evil.example/login|Evil> Inc"
PINGED = "<@U0HL00001>"  # a lead named after a rep's mention
RAW = re.compile(r"<(?:!|@U0HL|https?://|#C)")  # a control sequence Slack would act on


@pytest.fixture
def hostile(demo_engine: Engine) -> dict[str, Any]:
    """The hottest lead renamed `<!channel> Alert Test & <!here>` at `<https://evil…|Evil> Inc`, the second
    renamed `<@U0HL00001>`."""
    first, second = top_leads(demo_engine, limit=2)
    with demo_engine.begin() as conn:
        lead_id, account_id = conn.execute(text("SELECT id, account_id FROM lead WHERE external_id = :e"),
                                           {"e": first["lead"]}).one()
        conn.execute(text("UPDATE lead SET name = :n WHERE id = :i"), {"n": NAME, "i": lead_id})
        conn.execute(text("UPDATE account SET name = :n WHERE id = :i"), {"n": ACCOUNT, "i": account_id})
        conn.execute(text("UPDATE lead SET name = :n WHERE external_id = :e"), {"n": PINGED, "e": second["lead"]})
    return {"id": lead_id, "external_id": first["lead"], "second": second["lead"]}


@pytest.fixture
def served(demo_engine: Engine) -> Iterator[tuple[FakeSlack, str]]:
    with slack_served(demo_engine, TOKEN, SECRET, ["C0SALES", "C0ALERTS", "C0DIGEST"]) as both:
        yield both


def posted(call: Call) -> str:
    """Every text of a post: the fallback and each block, as sent."""
    return str(call.params.get("text", "")) + json.dumps(call.params.get("blocks", []), ensure_ascii=False)


def assert_literal(calls: list[Call], *, names: tuple[str, ...] = ("&lt;!channel&gt; Alert Test &amp;",)) -> None:
    """No call carries a raw control sequence; each name shows escaped (as text) in every call."""
    assert calls
    for call in calls:
        sent = posted(call)
        assert not RAW.search(sent), sent[:400]
        for name in names:
            assert name in sent, sent[:400]


def event(payload: dict[str, Any], event_id: str | None = None) -> bytes:
    return slack_event_body(payload, event_id=event_id)


def signed_post(url: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{url}/slack/events", content=body, headers=slack_headers(SECRET, body), timeout=10)


def test_a_hostile_lead_is_literal_in_answers_top_lists_and_compare(
    server: str, slack: FakeSlack, a_rep: RepRow, hostile: dict[str, Any]
) -> None:
    for i, question in enumerate([f"why is {hostile['external_id']} hot?", "top 5 leads",
                                  f"compare {hostile['external_id']} and {hostile['second']}"]):
        body = event({"type": "app_mention", "user": a_rep.slack_user_id, "text": f"<@UHOTLEAD> {question}",
                      "channel": "C0SALES", "ts": f"1763900000.00010{i}"})
        assert signed_post(server, body).status_code == 200
    calls = slack.wait_for("chat.postMessage", 3, timeout=20)
    assert_literal(calls)
    # the answers run concurrently and may arrive in any order: each is known by the question it is threaded on
    answer = {call.params["thread_ts"]: posted(call) for call in calls}
    assert "&lt;https://evil.example/login|Evil&gt; Inc" in answer["1763900000.000100"]
    assert all("&lt;@U0HL00001&gt;" in answer[f"1763900000.00010{i}"] for i in (1, 2))


def test_the_askers_own_channel_ping_is_never_echoed(server: str, slack: FakeSlack, a_rep: RepRow) -> None:
    body = event({"type": "app_mention", "user": a_rep.slack_user_id, "channel": "C0SALES", "ts": "1.2",
                  "text": "<@UHOTLEAD> <!channel> hello <!here|here> why is <https://evil.example|Evil> hot?"})
    assert signed_post(server, body).status_code == 200
    call = slack.wait_for("chat.postMessage")[0]
    assert not RAW.search(posted(call)) and "<!" not in posted(call)


def test_a_slash_command_reply_through_the_response_url_is_escaped(
    server: str, slack: FakeSlack, a_rep: RepRow, hostile: dict[str, Any]
) -> None:
    assert a_rep.slack_user_id
    form = slash_command_body(f"why is {hostile['external_id']} hot?", a_rep.slack_user_id, channel_id="C0PRIVATE",
                              response_url=slack.response_url("why"))
    assert signed_post(server, form).status_code == 200
    refused = slack.first("chat.postMessage", lambda c: True, timeout=20)
    assert json.loads(refused.answer)["error"] == "not_in_channel"  # the bot was not invited there
    assert_literal(slack.wait_for("response_url", timeout=20))


def test_socket_mode_answers_are_escaped_too(demo_engine: Engine, a_rep: RepRow, hostile: dict[str, Any]) -> None:
    with socket_mode_connected(demo_engine, TOKEN, SECRET, APP_TOKEN, ("C0SALES",)) as (socket, slack):
        payload = json.loads(event({"type": "app_mention", "user": a_rep.slack_user_id, "channel": "C0SALES",
                                    "text": f"<@UHOTLEAD> why is {hostile['external_id']} hot?", "ts": "1.3"}))
        socket.push({"envelope_id": "env-hostile", "type": "events_api", "payload": payload,
                     "accepts_response_payload": False, "retry_attempt": 0, "retry_reason": ""})
        socket.wait_for_ack("env-hostile")
        assert_literal(slack.wait_for("chat.postMessage", timeout=20))


def test_hot_alerts_to_the_channel_and_the_owner_are_escaped(
    demo_engine: Engine, slack: FakeSlack, hostile: dict[str, Any]
) -> None:
    settings = Settings(slack_bot_token=TOKEN, slack_api_url=slack.url, hotlead_alert_channel="C0ALERTS")
    with demo_engine.begin() as conn:
        conn.execute(text("UPDATE lead SET owner_id = (SELECT id FROM rep WHERE slack_user_id = 'U0HL00003') "
                          "WHERE id = :i"), {"i": hostile["id"]})
    moved = Moved(hostile["id"], (0.2, 80.0, "warm"), 0.8, 97.0, "hot",
                  [{"text": f"Said {NAME} on a call", "contribution": 0.9}])
    assert len(alert_moves(demo_engine, settings, [moved], datetime.now(UTC))) == 2
    Outbox(demo_engine, senders(settings, demo_engine)).deliver_due()
    calls = slack.wait_for("chat.postMessage", 2)
    assert sorted(call.params["channel"] for call in calls) == ["C0ALERTS", "U0HL00003"]
    assert_literal(calls)


def test_the_digest_is_escaped(demo_engine: Engine, slack: FakeSlack, hostile: dict[str, Any]) -> None:
    settings = Settings(slack_bot_token=TOKEN, slack_api_url=slack.url, hotlead_digest_channel="C0DIGEST")
    from bot.clients import slack_client

    digest, sent = send_digest(settings, demo_engine, slack_client(settings), datetime.now(UTC))
    assert NAME in digest.text  # the digest as data keeps the name as it is
    assert all(delivery.error is None for delivery in sent)
    assert_literal(slack.calls_to("chat.postMessage"))


def test_slacks_app_rate_limited_event_and_unknown_events_get_200(server: str, slack: FakeSlack,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    rate_limited = json.dumps({"token": "unused", "type": "app_rate_limited", "team_id": "T1",
                               "minute_rate_limited": 1518467820, "api_app_id": "AHOTLEAD"}).encode()
    assert signed_post(server, rate_limited).status_code == 200
    assert any(r.levelname == "WARNING" and "app_rate_limited" in r.getMessage() for r in caplog.records)
    unknown = event({"type": "reaction_added", "user": "U1", "reaction": "fire",
                     "item": {"type": "message", "channel": "C0SALES", "ts": "1.1"}})
    assert signed_post(server, unknown).status_code == 200
    with_objects = event({"type": "user_change", "user": {"id": "U1", "name": "jo"}})  # fields that are objects
    assert signed_post(server, with_objects).status_code == 200
    assert not slack.calls_to("chat.postMessage")


def test_app_rate_limited_is_acked_over_socket_mode_and_an_unacked_envelope_comes_back(demo_engine: Engine) -> None:
    with socket_mode_connected(demo_engine, TOKEN, SECRET, APP_TOKEN, ()) as (socket, slack):
        socket.push({"envelope_id": "env-rl", "type": "events_api", "accepts_response_payload": False,
                     "payload": {"type": "app_rate_limited", "team_id": "T1", "minute_rate_limited": 1518467820,
                                 "api_app_id": "AHOTLEAD"}, "retry_attempt": 0, "retry_reason": ""})
        assert socket.wait_for_ack("env-rl")["envelope_id"] == "env-rl"
        assert socket.redeliver_unacked() == []  # acked: Slack has nothing to send again


def test_a_question_in_a_dm_thread_is_answered_in_that_thread(server: str, slack: FakeSlack, a_rep: RepRow) -> None:
    body = event({"type": "message", "channel_type": "im", "user": a_rep.slack_user_id, "text": "help",
                  "channel": "D0REP", "ts": "1763900000.000300", "thread_ts": "1763900000.000100"})
    assert signed_post(server, body).status_code == 200
    call = slack.wait_for("chat.postMessage")[0]
    assert call.params["channel"] == "D0REP" and call.params["thread_ts"] == "1763900000.000100"


def test_a_dm_with_a_file_attached_is_read(server: str, slack: FakeSlack, a_rep: RepRow) -> None:
    # the shape Slack sends (as in bolt-python's file_share scenario): files, rich_text blocks, upload false
    body = event({"type": "message", "subtype": "file_share", "channel_type": "im", "user": a_rep.slack_user_id,
                  "text": "top 3 leads", "channel": "D0REP", "ts": "1763900000.000400", "upload": False,
                  "display_as_bot": False, "client_msg_id": "5b1c0e1e-7d1f-4c52-9a55-3f0c2f6f0a11",
                  "files": [{"id": "F0NOTES", "name": "notes.png", "title": "notes.png", "mimetype": "image/png",
                             "filetype": "png", "user": a_rep.slack_user_id, "size": 4096, "mode": "hosted",
                             "url_private": "https://files.slack.com/files-pri/T1-F0NOTES/notes.png"}],
                  "blocks": [{"type": "rich_text", "block_id": "b1", "elements": [
                      {"type": "rich_text_section", "elements": [{"type": "text", "text": "top 3 leads"}]}]}]})
    assert signed_post(server, body).status_code == 200
    call = slack.wait_for("chat.postMessage")[0]
    assert call.params["channel"] == "D0REP" and "Top 3" in call.params["text"]
