"""The fakes answer like Slack and Twilio, and the signing helpers sign like them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from urllib.parse import parse_qs

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator

from bot.fakes import (
    FakeSlack,
    FakeTwilio,
    interaction_body,
    slack_event_body,
    slack_headers,
    slash_command_body,
    twilio_signature,
)

SECRET = "signing-secret"


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def test_slack_signature_verifies_with_slack_sdk() -> None:
    body = slack_event_body({"type": "app_mention", "text": "<@UHOTLEAD> top leads", "user": "U1", "channel": "C1"})
    headers = slack_headers(SECRET, body)
    assert headers["Content-Type"] == "application/json"
    assert SignatureVerifier(SECRET).is_valid_request(body, headers)


def test_tampered_slack_body_does_not_verify() -> None:
    body = slash_command_body("why Acme", "U1")
    headers = slack_headers(SECRET, body)
    assert not SignatureVerifier(SECRET).is_valid_request(body.replace(b"Acme", b"Evil"), headers)


def test_stale_slack_timestamp_does_not_verify() -> None:
    body = interaction_body({"type": "block_actions"})
    headers = slack_headers(SECRET, body, timestamp=int(time.time()) - 600)
    assert not SignatureVerifier(SECRET).is_valid_request(body, headers)


def test_slash_command_and_interaction_bodies_are_form_encoded() -> None:
    command = parse_qs(slash_command_body("top", "U1", response_url="http://x/response/1").decode())
    interaction = parse_qs(interaction_body({"type": "block_actions"}).decode())
    assert command["command"] == ["/hotlead"] and command["response_url"] == ["http://x/response/1"]
    assert json.loads(interaction["payload"][0]) == {"type": "block_actions"}
    assert slack_headers(SECRET, b"payload=%7B%7D")["Content-Type"] == "application/x-www-form-urlencoded"


def test_event_envelope_carries_the_event_and_a_given_event_id() -> None:
    envelope = json.loads(slack_event_body({"type": "message", "text": "hi"}, event_id="Ev1"))
    assert envelope["type"] == "event_callback" and envelope["event_id"] == "Ev1"
    assert envelope["event"]["text"] == "hi" and envelope["team_id"] == "T1"


def test_twilio_signature_verifies_and_tampered_params_do_not() -> None:
    url = "https://hotlead.example.com/twilio/whatsapp"
    params = {"From": "whatsapp:+15551234567", "Body": "we need this by Friday"}
    signature = twilio_signature("auth-token", url, params)
    validator = RequestValidator("auth-token")
    assert validator.validate(url, params, signature)
    assert not validator.validate(url, {**params, "Body": "never mind"}, signature)


def test_wait_for_times_out_naming_what_did_arrive(http: httpx.Client) -> None:
    with FakeSlack(channels=["C1"]) as slack:
        http.post(slack.url + "auth.test")
        with pytest.raises(AssertionError, match=r"expected 1 call\(s\) to 'chat.postMessage'.*\['auth.test'\]"):
            slack.wait_for("chat.postMessage", timeout=0.05)


def test_wait_for_returns_when_a_call_arrives_from_another_thread(http: httpx.Client) -> None:
    with FakeSlack(channels=["C1"]) as slack:
        post = threading.Thread(
            target=http.post, args=(slack.url + "chat.postMessage",), kwargs={"json": {"channel": "C1", "text": "late"}}
        )
        post.start()
        [call] = slack.wait_for("chat.postMessage")
        post.join()
    assert call.params["text"] == "late"


def test_form_encoded_blocks_are_decoded_from_json(http: httpx.Client) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Acme*"}}]
    with FakeSlack(channels=["C1"]) as slack:
        answer = http.post(slack.url + "chat.postMessage", data={"channel": "C1", "blocks": json.dumps(blocks)}).json()
    assert slack.calls[0].params["blocks"] == blocks
    assert answer["message"]["blocks"] == blocks


def test_message_timestamps_are_unique_and_increasing(http: httpx.Client) -> None:
    with FakeSlack(channels=["C1"]) as slack:
        stamps = [
            http.post(slack.url + "chat.postMessage", json={"channel": "C1", "text": "x"}).json()["ts"]
            for _ in range(3)
        ]
    assert stamps == sorted(set(stamps), key=float) and len(stamps) == 3


def test_conversations_open_answers_a_dm_channel_for_the_first_user(http: httpx.Client) -> None:
    with FakeSlack(channels=["C1"]) as slack:
        answer = http.post(slack.url + "conversations.open", data={"users": "U7,U8"}).json()
    assert answer == {"ok": True, "channel": {"id": "DU7"}}


def test_response_url_posts_are_recorded(http: httpx.Client) -> None:
    with FakeSlack(channels=["C1"]) as slack:
        http.post(slack.response_url("cmd1"), json={"text": "Top leads", "response_type": "ephemeral"})
        [call] = slack.wait_for("response_url")
    assert call.path == "/response/cmd1" and call.params["text"] == "Top leads"


def test_clear_forgets_calls_and_uploads(http: httpx.Client) -> None:
    with FakeSlack(channels=["C1"]) as slack:
        http.post(slack.url + "auth.test")
        http.post(slack.base_url + "/upload/F0001", content=b"bytes")
        slack.clear()
        assert slack.calls == [] and slack.uploads == {}


def test_twilio_fail_next_refuses_then_serves(http: httpx.Client) -> None:
    with FakeTwilio("AC1", "tok") as twilio:
        twilio.fail_next(1, status=503)
        url = f"{twilio.url}/2010-04-01/Accounts/AC1/Messages.json"
        form = {"From": "whatsapp:+1", "To": "whatsapp:+2", "Body": "hi"}
        first = http.post(url, data=form, auth=("AC1", "tok"))
        second = http.post(url, data=form, auth=("AC1", "tok"))
    assert (first.status_code, first.json()["code"]) == (503, 20503)
    assert second.status_code == 201 and twilio.refused == 1 and len(twilio.calls) == 1


def test_twilio_message_without_body_or_content_is_21602(http: httpx.Client) -> None:
    with FakeTwilio("AC1", "tok") as twilio:
        url = f"{twilio.url}/2010-04-01/Accounts/AC1/Messages.json"
        answer = http.post(url, data={"From": "whatsapp:+1", "To": "whatsapp:+2"}, auth=("AC1", "tok"))
    assert (answer.status_code, answer.json()["code"]) == (400, 21602)


def test_down_twilio_refuses_everything_with_503(http: httpx.Client) -> None:
    with FakeTwilio("AC1", "tok") as twilio:
        twilio.down = True
        answer = http.post(f"{twilio.url}/2010-04-01/Accounts/AC1/Messages.json", auth=("AC1", "tok"))
    assert answer.status_code == 503 and twilio.refused == 1 and twilio.calls == []


def test_malformed_json_is_answered_like_slack(http: httpx.Client) -> None:
    with FakeSlack(channels=["C1"]) as slack:
        answer = http.post(
            slack.url + "chat.postMessage", content=b"{oops", headers={"Content-Type": "application/json"}
        )
    assert answer.json() == {"ok": False, "error": "invalid_json"}
    assert slack.calls[0].raw == b"{oops"


def test_blocks_slack_would_refuse_get_invalid_blocks_with_slacks_error_body(http: httpx.Client) -> None:
    too_long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    unknown = [{"type": "carousel", "items": []}]
    long_button = [{"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": "b" * 76}, "action_id": "a"}]}]
    with FakeSlack(channels=["C1"]) as slack:
        answers = [http.post(slack.url + "chat.postMessage", json={"channel": "C1", "text": "t", "blocks": blocks})
                   .json() for blocks in (too_long, unknown, long_button, "not json", [{"type": "divider"}] * 51)]
    assert [answer["error"] for answer in answers] == ["invalid_blocks", "invalid_blocks", "invalid_blocks",
                                                      "invalid_blocks_format", "invalid_blocks"]
    assert "3000" in answers[0]["errors"][0] and answers[0]["response_metadata"]["messages"][0].startswith("[ERROR]")
    assert "json-pointer:/blocks/0" in answers[2]["errors"][0] and "at most 50" in answers[4]["errors"][0]


def test_a_channel_the_bot_was_not_invited_to_is_not_in_channel_while_dms_are_open(http: httpx.Client) -> None:
    with FakeSlack(channels=["C1"]) as slack:
        def post(channel: str) -> str:
            answer = http.post(slack.url + "chat.postMessage", json={"channel": channel, "text": "hi"}).json()
            return "ok" if answer["ok"] else str(answer["error"])

        before = [post(channel) for channel in ("C1", "C2", "G3", "D4", "U5")]
        slack.invite("C2")
        after = post("C2")
    assert before == ["ok", "not_in_channel", "not_in_channel", "ok", "ok"] and after == "ok"


def test_text_over_40000_characters_is_msg_too_long(http: httpx.Client) -> None:
    with FakeSlack(channels=["C1"]) as slack:
        answer = http.post(slack.url + "chat.postMessage", json={"channel": "C1", "text": "x" * 40_001}).json()
    assert answer == {"ok": False, "error": "msg_too_long"}


def test_socket_mode_sends_an_unacked_envelope_again_as_slack_does() -> None:
    import asyncio

    import aiohttp

    from bot.fakes import FakeSocketMode

    async def client(url: str, socket: FakeSocketMode) -> list[dict[str, object]]:
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            received = [json.loads((await ws.receive()).data)]  # hello
            pushed = asyncio.get_running_loop().run_in_executor(None, socket.push, {
                "envelope_id": "e1", "type": "events_api", "payload": {}, "retry_attempt": 0, "retry_reason": ""})
            received.append(json.loads((await ws.receive()).data))
            await pushed
            again = asyncio.get_running_loop().run_in_executor(None, socket.redeliver_unacked)
            received.append(json.loads((await ws.receive()).data))
            assert await again == ["e1"]
            await ws.send_str(json.dumps({"envelope_id": "e1"}))
            await asyncio.get_running_loop().run_in_executor(None, socket.wait_for_ack, "e1")
            assert socket.redeliver_unacked() == []  # acked: nothing more comes
            return received

    with FakeSocketMode() as socket:
        hello, first, second = asyncio.run(client(socket.url, socket))
    assert hello["type"] == "hello"
    assert (first["retry_attempt"], second["retry_attempt"], second["retry_reason"]) == (0, 1, "timeout")
    assert second["envelope_id"] == "e1"
