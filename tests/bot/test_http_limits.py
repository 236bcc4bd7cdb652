"""Request limits before any route parses a body: 413 past the cap (read only up to it), 408 for a client that
stops sending (an injected window), and a client that goes away logged in one line, without a traceback."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Iterator

import pytest

from bot.app import create_app
from bot.config import Settings
from bot.http_limits import BODY_CAPS, MiB, RequestLimits
from bot.server import BackgroundServer
from tests.conftest import Snapshots

API, SECRET, AUTH = "api-token-limits", "limits-signing-secret", "limits-twilio-auth"
CHUNK = 64 * 1024
WINDOW_S = 0.05  # the chunk timeout injected for these tests


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, snapshots: Snapshots, demo_snapshot: str,
        request: pytest.FixtureRequest) -> Iterator[object]:
    from storage.db import make_engine

    engine = make_engine(snapshots.copy(demo_snapshot, tmp_path_factory.mktemp("limits"), request))
    settings = Settings(slack_bot_token="xoxb-limits", slack_signing_secret=SECRET, twilio_auth_token=AUTH,
                        hotlead_public_url="https://hotlead.example.com", hotlead_api_token=API, hotlead_nlp="rules")
    yield create_app(settings, engine=engine, chunk_timeout_s=WINDOW_S)
    engine.dispose()


@pytest.fixture(scope="module")
def url(app: object) -> Iterator[str]:
    with BackgroundServer(app) as server:
        yield server.url


def exchange(url: str, head: str, body: bytes = b"", close: bool = False) -> bytes:
    """Send a request head (and part of a body) over a raw socket; the answer, read until the server closes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        if close:
            return b""
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
        return answer


@pytest.mark.parametrize("path", ["/slack/events", "/twilio/whatsapp", "/twilio/status", "/api/events"])
def test_a_100_mb_body_is_refused_from_its_content_length_before_it_is_sent(url: str, path: str) -> None:
    head = f"POST {path} HTTP/1.1\nHost: x\nContent-Type: application/json\nContent-Length: 100000000\n" \
           f"Authorization: Bearer {API}\n"
    answer = exchange(url, head)  # nothing of the body is sent: the server answers (and closes) without it
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def call(app: object, path: str, chunks: int | None, content_length: int | None = None) -> tuple[int, int]:
    """Run one request through the app in-process with a client that has `chunks` 64 KiB chunks to send
    (None: endless); (status, body bytes the app received)."""
    handed = 0
    statuses: list[int] = []

    async def receive() -> dict:
        nonlocal handed
        if chunks is not None and handed >= chunks * CHUNK:
            return {"type": "http.request", "body": b"", "more_body": False}
        handed += CHUNK
        return {"type": "http.request", "body": b"[" * CHUNK, "more_body": True}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    headers = [(b"authorization", f"Bearer {API}".encode()), (b"content-type", b"application/json")]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "headers": headers,
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "root_path": ""}
    asyncio.run(app(scope, receive, send))  # type: ignore[operator]
    return statuses[0], handed


@pytest.mark.parametrize(("path", "cap"), [("/api/events", 5 * MiB), ("/slack/events", MiB),
                                           ("/twilio/status", MiB)])
def test_a_streamed_body_is_read_only_up_to_the_cap(app: object, path: str, cap: int) -> None:
    assert dict(BODY_CAPS)[path[:path.index("/", 1) + 1]] == cap
    status, handed = call(app, path, chunks=None)  # chunked, no Content-Length, 100 MB or more to come
    assert status == 413
    assert cap < handed <= cap + CHUNK  # receive() was called until the cap was passed, and no more


def test_a_declared_length_past_the_cap_is_refused_before_receive_is_called(app: object) -> None:
    assert call(app, "/api/events", chunks=None, content_length=100_000_000) == (413, 0)


def test_a_body_under_the_cap_reaches_the_route(app: object) -> None:
    status, handed = call(app, "/api/events", chunks=2)  # 128 KiB of "[": the route reads it, and refuses it
    assert (status, handed) == (422, 2 * CHUNK)


def test_a_client_that_stops_sending_gets_408_and_the_connection_closed(url: str) -> None:
    head = "POST /twilio/status HTTP/1.1\nHost: x\nContent-Type: application/x-www-form-urlencoded\n" \
           "Content-Length: 1000\n"
    started = time.monotonic()
    answer = exchange(url, head, b"MessageSid=SM1&")  # 15 of the 1,000 bytes promised, then nothing
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"connection: close" in answer.lower()
    assert time.monotonic() - started < 5  # the injected window, not the 10 s default


def test_the_chunk_timeout_is_for_the_body_only() -> None:
    """After the body, a route may wait for a disconnect (a streaming response) as long as it likes."""
    seen: list[str] = []

    async def route(scope: dict, receive: object, send: object) -> None:
        seen.append((await receive())["type"])  # type: ignore[operator]
        seen.append((await receive())["type"])  # type: ignore[operator]

    async def client() -> dict:
        if not seen:
            return {"type": "http.request", "body": b"{}", "more_body": False}
        await asyncio.sleep(WINDOW_S * 4)  # the client stays, quietly, past the window
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        raise AssertionError(f"nothing is answered: {message}")

    scope = {"type": "http", "method": "POST", "path": "/api/events", "headers": []}
    asyncio.run(RequestLimits(route, chunk_timeout_s=WINDOW_S)(scope, client, send))  # type: ignore[arg-type]
    assert seen == ["http.request", "http.disconnect"]


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_client_that_goes_away_mid_body_is_one_line_without_a_traceback(url: str) -> None:
    records = Records()
    watched = [logging.getLogger(name) for name in ("uvicorn.error", "bot.http_limits", "starlette")]
    levels = [logger.level for logger in watched]
    for logger in watched:
        logger.addHandler(records)
        logger.setLevel(logging.INFO)
    try:
        head = f"POST /api/events HTTP/1.1\nHost: x\nContent-Type: application/json\nContent-Length: 5000\n" \
               f"Authorization: Bearer {API}\n"
        exchange(url, head, b'{"lead": "L0', close=True)
        deadline = time.monotonic() + 10
        while not any("went away" in r.getMessage() for r in records.records):
            assert time.monotonic() < deadline, [r.getMessage() for r in records.records]
            time.sleep(0.02)
    finally:
        for logger, level in zip(watched, levels, strict=True):
            logger.removeHandler(records)
            logger.setLevel(level)
    assert [r for r in records.records if r.exc_info or r.levelno >= logging.WARNING] == []


def test_uvicorn_closes_idle_connections_and_bounds_concurrency() -> None:
    from bot.server import SERVE_LIMITS

    assert SERVE_LIMITS["timeout_keep_alive"] <= 5 and SERVE_LIMITS["limit_concurrency"]

