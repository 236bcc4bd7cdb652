"""A local stand-in for Slack's Socket Mode WebSocket: it greets a client as Slack does, pushes envelopes to it,
records the acknowledgements it sends back and, like Slack, delivers an envelope again while it is not acked."""

from __future__ import annotations

import asyncio
import json
import threading
from types import TracebackType
from typing import Any, Self

from aiohttp import WSMsgType, web

from bot.fakes._server import wait_until


class FakeSocketMode:
    """The WebSocket at `.url` that `apps.connections.open` hands out (see FakeSlack(socket_url=...))."""

    def __init__(self) -> None:
        self.url = ""  # ws://127.0.0.1:PORT/link once started (the port is the one the system gave)
        self.acks: list[dict[str, Any]] = []
        self.pushed: list[dict[str, Any]] = []  # every envelope sent, redeliveries included
        self._unacked: dict[str, dict[str, Any]] = {}
        self._changed = threading.Condition()
        self._sockets: list[web.WebSocketResponse] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="FakeSocketMode", daemon=True)
        self._runner: web.AppRunner | None = None

    def __enter__(self) -> Self:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def wait_connected(self, timeout: float = 10.0) -> None:
        """Block until a client is connected and greeted; AssertionError on timeout."""
        wait_until(self._changed, lambda: self._sockets or None, timeout,
                   f"no Socket Mode client connected within {timeout}s")

    def push(self, envelope: dict[str, Any]) -> None:
        """Send an envelope (events_api, slash_commands, interactive) to the connected client."""
        self.wait_connected()
        with self._changed:
            self._unacked[envelope["envelope_id"]] = envelope
            self.pushed.append(envelope)
        text = json.dumps(envelope)
        asyncio.run_coroutine_threadsafe(self._sockets[-1].send_str(text), self._loop).result(timeout=10)

    def redeliver_unacked(self) -> list[str]:
        """What Slack does when an envelope is not acked in time: send it again with `retry_attempt` one higher
        and `retry_reason` "timeout". Returns the envelope ids sent again (the test decides when time is up)."""
        with self._changed:
            waiting = list(self._unacked.values())
        for envelope in waiting:
            self.push({**envelope, "retry_attempt": int(envelope.get("retry_attempt") or 0) + 1,
                       "retry_reason": "timeout"})
        return [envelope["envelope_id"] for envelope in waiting]

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The acknowledgement of `envelope_id`; AssertionError when none came within `timeout`."""
        return wait_until(self._changed, lambda: next((a for a in self.acks if a.get("envelope_id") == envelope_id),
                                                      None),
                          timeout, f"envelope {envelope_id} was not acknowledged within {timeout}s: {self.acks}")

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/link", self._link)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"ws://{host}:{port}/link"

    async def _stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1,
                                      "debug_info": {"host": "fake-socket-mode"},
                                      "connection_info": {"app_id": "AHOTLEAD"}}))
        with self._changed:
            self._sockets.append(ws)
            self._changed.notify_all()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    ack = json.loads(message.data)
                    with self._changed:
                        self.acks.append(ack)
                        self._unacked.pop(str(ack.get("envelope_id")), None)
                        self._changed.notify_all()
        finally:
            with self._changed:
                self._sockets.remove(ws)
        return ws
