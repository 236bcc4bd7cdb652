"""The real slack_sdk and twilio clients from bot.clients, run against the local fakes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import FixedValueRetryIntervalCalculator
from twilio.base.exceptions import TwilioRestException

from bot.clients import RedirectingHttpClient, slack_client, twilio_client
from bot.config import MissingSettingError, Settings
from bot.fakes import FakeSlack, FakeTwilio

TOKEN = "xoxb-test"
SID = "AC" + "1" * 32
AUTH = "twilio-secret"
FAST = FixedValueRetryIntervalCalculator(0.01)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN, channels=["C1"]) as fake:
        yield fake


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(SID, AUTH) as fake:
        yield fake


def slack_settings(fake: FakeSlack, token: str = TOKEN) -> Settings:
    return Settings(slack_bot_token=token, slack_api_url=fake.url)


def twilio_settings(fake: FakeTwilio, token: str = AUTH) -> Settings:
    return Settings(twilio_account_sid=SID, twilio_auth_token=token, twilio_api_url=fake.url)


def test_post_message_reaches_slack_with_token_and_text(slack: FakeSlack) -> None:
    response = slack_client(slack_settings(slack)).chat_postMessage(channel="C1", text="Acme is hot")
    [call] = slack.calls_to("chat.postMessage")
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.params == {"channel": "C1", "text": "Acme is hot"}
    assert response["ts"] and response["message"]["text"] == "Acme is hot"


def test_base_url_without_trailing_slash_still_reaches_the_api(slack: FakeSlack) -> None:
    settings = Settings(slack_bot_token=TOKEN, slack_api_url=slack.url.rstrip("/"))
    assert slack_client(settings).auth_test()["user_id"] == "UHOTLEAD"


def test_missing_bot_token_names_the_variable() -> None:
    with pytest.raises(MissingSettingError, match="SLACK_BOT_TOKEN"):
        slack_client(Settings())


def test_rate_limited_call_waits_for_retry_after_then_succeeds(slack: FakeSlack) -> None:
    slack.rate_limit(1, retry_after=1)
    started = time.monotonic()
    response = slack_client(slack_settings(slack)).chat_postMessage(channel="C1", text="hi")
    assert response["ok"]
    assert time.monotonic() - started >= 1.0
    assert slack.refused == 1 and len(slack.calls_to("chat.postMessage")) == 1


def test_down_slack_raises_after_the_retries(slack: FakeSlack) -> None:
    slack.down = True
    client = slack_client(slack_settings(slack), max_retry_count=2, interval=FAST)
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C1", text="hi")
    assert raised.value.response.status_code == 503
    assert slack.refused == 3 and slack.calls == []


def test_wrong_token_is_invalid_auth(slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as raised:
        slack_client(slack_settings(slack, token="xoxb-wrong")).chat_postMessage(channel="C1", text="hi")
    assert raised.value.response["error"] == "invalid_auth"


def test_files_upload_v2_uploads_the_bytes_and_completes(slack: FakeSlack) -> None:
    client = slack_client(slack_settings(slack))
    response = client.files_upload_v2(channel="C1", content=b"\x89PNG chart", filename="digest.png", title="Digest")
    [complete] = slack.calls_to("files.completeUploadExternal")
    assert slack.uploads == {"F0001": b"\x89PNG chart"}
    assert complete.params["files"] == [{"id": "F0001", "title": "Digest"}]
    assert complete.params["channel_id"] == "C1"
    assert response["file"]["id"] == "F0001"


def test_whatsapp_message_reaches_twilio_and_returns_the_sid(twilio: FakeTwilio) -> None:
    message = twilio_client(twilio_settings(twilio)).messages.create(
        from_="whatsapp:+14155238886", to="whatsapp:+15551234567", body="Acme opened pricing"
    )
    [call] = twilio.wait_for()
    assert call.params == {
        "From": "whatsapp:+14155238886",
        "To": "whatsapp:+15551234567",
        "Body": "Acme opened pricing",
    }
    assert message.sid is not None and message.sid.startswith("SM") and len(message.sid) == 34
    assert message.status == "queued" and message.date_created is not None


def test_template_message_sends_content_sid_and_variables(twilio: FakeTwilio) -> None:
    twilio_client(twilio_settings(twilio)).messages.create(
        from_="whatsapp:+14155238886",
        to="whatsapp:+15551234567",
        content_sid="HX" + "0" * 32,
        content_variables='{"1": "Acme"}',
    )
    [call] = twilio.calls_to("messages")
    assert call.params["ContentSid"] == "HX" + "0" * 32
    assert call.params["ContentVariables"] == '{"1": "Acme"}'
    assert "Body" not in call.params


def test_body_over_1600_characters_raises_21617(twilio: FakeTwilio) -> None:
    client = twilio_client(twilio_settings(twilio))
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(from_="whatsapp:+14155238886", to="whatsapp:+15551234567", body="x" * 1601)
    assert (raised.value.status, raised.value.code) == (400, 21617)


def test_wrong_auth_token_is_401_with_20003(twilio: FakeTwilio) -> None:
    client = twilio_client(twilio_settings(twilio, token="wrong"))
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(from_="whatsapp:+14155238886", to="whatsapp:+15551234567", body="hi")
    assert (raised.value.status, raised.value.code) == (401, 20003)


def test_only_twilio_hosts_are_redirected() -> None:
    client = RedirectingHttpClient("http://127.0.0.1:9")
    assert client.redirect("https://api.twilio.com/2010-04-01/x.json?a=1") == "http://127.0.0.1:9/2010-04-01/x.json?a=1"
    assert client.redirect("https://example.com/x") == "https://example.com/x"


def test_default_api_url_keeps_the_library_http_client() -> None:
    client = twilio_client(Settings(twilio_account_sid=SID, twilio_auth_token=AUTH))
    assert type(client.http_client).__name__ == "TwilioHttpClient"
    assert client.http_client.timeout == 10.0
    assert AUTH not in repr(client)
