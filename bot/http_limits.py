"""Limits every request meets before any route parses it, as a pure ASGI middleware: a cap on the body (413,
from Content-Length before a byte of it is read, or while a chunked body streams in), a wait for each body chunk
(408: a client that stops sending is dropped), and a client that goes away logged in one line, not a traceback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import ClientDisconnect

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MiB = 1024 * 1024
# Slack and Twilio post small payloads (Slack caps most fields at 3,000 characters, Twilio a WhatsApp body at
# 1,600): 1 MiB is generous. /api/* takes batches of events or transcript lines. Other routes take no body.
BODY_CAPS: tuple[tuple[str, int], ...] = (("/slack/", MiB), ("/twilio/", MiB), ("/api/", 5 * MiB))
OTHER_CAP = 64 * 1024
CHUNK_TIMEOUT_S = 10.0  # the longest wait for the next chunk of a body before the client is dropped


class Refused(Exception):
    """The request broke a limit: answered with `status` and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class RequestLimits:
    """`Starlette(middleware=[Middleware(RequestLimits)])`: the caps by path prefix and the chunk timeout."""

    def __init__(self, app: ASGIApp, caps: tuple[tuple[str, int], ...] = BODY_CAPS, other_cap: int = OTHER_CAP,
                 chunk_timeout_s: float = CHUNK_TIMEOUT_S) -> None:
        self.app = app
        self.caps = caps
        self.other_cap = other_cap
        self.chunk_timeout_s = chunk_timeout_s

    def cap(self, path: str) -> int:
        """The most bytes a body posted to `path` may have."""
        return next((cap for prefix, cap in self.caps if path.startswith(prefix)), self.other_cap)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.cap(scope["path"])
        started = False
        try:
            declared = _content_length(scope)
            if declared is not None and declared > cap:
                raise Refused(413, f"the body is larger than {cap} bytes")
            body = _Body(receive, cap, self.chunk_timeout_s)

            async def tracked_send(message: Message) -> None:
                nonlocal started
                started = started or message["type"] == "http.response.start"
                await send(message)

            await self.app(scope, body.receive, tracked_send)
        except Refused as refused:
            log.info("%s %s refused (%s): %s", scope.get("method"), scope["path"], refused.status, refused.message)
            if not started:
                try:
                    await _answer(send, refused.status, refused.message)
                except OSError:
                    log.info("%s %s: the client went away before the answer", scope.get("method"), scope["path"])
        except ClientDisconnect:
            log.info("%s %s: the client went away before the body was read", scope.get("method"), scope["path"])
        except OSError as exc:  # the socket closed under a send
            log.info("%s %s: the client went away (%s)", scope.get("method"), scope["path"], exc)


class _Body:
    """The app's `receive`: counts body bytes and stops at the cap, and waits at most the timeout per chunk."""

    def __init__(self, receive: Receive, cap: int, timeout_s: float) -> None:
        self._receive = receive
        self._cap = cap
        self._timeout_s = timeout_s
        self.consumed = 0
        self._done = False

    async def receive(self) -> Message:
        if self._done:  # after the body only a disconnect can come: waited for as long as the app likes
            return await self._receive()
        try:
            async with asyncio.timeout(self._timeout_s):
                message = await self._receive()
        except TimeoutError:
            raise Refused(408, f"no part of the body came within {self._timeout_s:g} s") from None
        if message["type"] == "http.request":
            self.consumed += len(message.get("body", b""))
            if self.consumed > self._cap:
                raise Refused(413, f"the body is larger than {self._cap} bytes")
            self._done = not message.get("more_body", False)
        else:
            self._done = True
        return message


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            if not value.isdigit():
                raise Refused(400, "Content-Length is not a number")
            return int(value) if len(value) < 19 else 2**63  # and Python reads at most 4,300 digits
    return None


async def _answer(send: Send, status: int, message: str) -> None:
    body = (message + "\n").encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})  # the rest of the body is never read: close the connection
    await send({"type": "http.response.body", "body": body})
