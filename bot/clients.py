"""The Slack and Twilio API clients, built from Settings; their base URLs may point at local fakes."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from slack_sdk import WebClient
from slack_sdk.http_retry import RetryIntervalCalculator
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from bot.config import Settings

TWILIO_API_URL = "https://api.twilio.com"
TWILIO_TIMEOUT = 10.0


def slack_client(
    settings: Settings, *, max_retry_count: int = 2, interval: RetryIntervalCalculator | None = None
) -> WebClient:
    """A WebClient for the bot token that retries lost connections, 429s (after Retry-After) and 500/503."""
    token = settings.require("SLACK_BOT_TOKEN", "calling the Slack Web API")
    backoff = interval or BackoffRetryIntervalCalculator()
    # The handlers share one attempt counter: max_retry_count bounds all retries of a call together.
    handlers = [
        ConnectionErrorRetryHandler(max_retry_count=max_retry_count, interval_calculator=backoff),
        RateLimitErrorRetryHandler(max_retry_count=max_retry_count),
        ServerErrorRetryHandler(max_retry_count=max_retry_count, interval_calculator=backoff),
    ]
    return WebClient(token=token, base_url=settings.slack_api_url.rstrip("/") + "/", retry_handlers=handlers)


def twilio_client(settings: Settings) -> Client:
    """A Twilio Client for the account; requests go to TWILIO_API_URL when it is not Twilio's own."""
    account_sid = settings.require("TWILIO_ACCOUNT_SID", "sending WhatsApp messages")
    auth_token = settings.require("TWILIO_AUTH_TOKEN", "sending WhatsApp messages")
    base_url = settings.twilio_api_url.rstrip("/")
    http_client = (
        TwilioHttpClient(timeout=TWILIO_TIMEOUT)
        if base_url == TWILIO_API_URL
        else RedirectingHttpClient(base_url, timeout=TWILIO_TIMEOUT)
    )
    # An empty mapping would make twilio fall back to os.environ for TWILIO_EDGE / TWILIO_REGION.
    no_environment = {"TWILIO_EDGE": "", "TWILIO_REGION": ""}
    return Client(account_sid, auth_token, http_client=http_client, environment=no_environment)


class RedirectingHttpClient(TwilioHttpClient):
    """TwilioHttpClient that sends requests for any *.twilio.com host to one base URL instead."""

    def __init__(self, base_url: str, timeout: float = TWILIO_TIMEOUT) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def __repr__(self) -> str:
        return f"RedirectingHttpClient(base_url={self.base_url!r})"

    def redirect(self, url: str) -> str:
        """The URL a request for `url` is sent to."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host != "twilio.com" and not host.endswith(".twilio.com"):
            return url
        base = urlsplit(self.base_url)
        return urlunsplit((base.scheme, base.netloc, base.path + parts.path, parts.query, parts.fragment))

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """Make the request the library asked for, at the redirected URL."""
        return super().request(
            method,
            self.redirect(url),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )
