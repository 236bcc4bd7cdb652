"""Run the ASGI app on a local port in a background thread (benchmarks and end-to-end tests)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import uvicorn

# uvicorn's limits for `hotlead serve` and the background server: an idle keep-alive connection is closed after
# 5 s, more than 1,000 connections at once are answered 503 at once rather than queued behind slow clients, and
# a stop waits at most 10 s for requests in flight. Request bodies are capped by bot/http_limits.py.
SERVE_LIMITS: dict[str, Any] = {"timeout_keep_alive": 5, "limit_concurrency": 1000, "timeout_graceful_shutdown": 10}


class AnnouncingServer(uvicorn.Server):
    """A uvicorn server that calls `ready()` once it accepts connections (after the app's start-up: warmed chat
    workers, the outbox, the scheduler), not before."""

    def __init__(self, config: uvicorn.Config, ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start as uvicorn does, then announce (unless start-up failed)."""
        await super().startup(sockets)
        if self.started and not self.should_exit:
            self._ready()


def serve_until_stopped(app: Any, host: str, port: int, ready: Callable[[], None]) -> None:
    """`hotlead serve`: run `app` on host:port with SERVE_LIMITS, calling `ready()` once connections are taken."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, **SERVE_LIMITS)
    AnnouncingServer(config, ready).run()


class BackgroundServer:
    """`with BackgroundServer(app) as server:` serves `app` on 127.0.0.1 at `server.url` until the block ends."""

    def __init__(self, app: Any, host: str = "127.0.0.1") -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, 0))
        self.url = f"http://{host}:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", **SERVE_LIMITS)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        started = threading.Event()

        def wait() -> None:
            while not self._server.started and self._thread.is_alive():
                started.wait(0.01)

        wait()
        if not self._server.started:
            raise RuntimeError("the server did not start")
        return self

    def __exit__(self, *_exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()
