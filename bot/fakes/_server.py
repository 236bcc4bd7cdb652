"""What the HTTP fakes share: a recorded call, a canned reply and a threaded local server that records."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import parse_qs, urlsplit

T = TypeVar("T")


@dataclass
class Call:
    """One request a fake received: API method, decoded parameters, headers (lower-case names), body, status."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float
    raw: bytes
    path: str = ""
    status: int = 200
    answer: bytes = b""  # what the fake answered (e.g. the JSON with a message's SID)


@dataclass(frozen=True)
class Reply:
    """An HTTP answer a fake sends back."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: object, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        """A JSON answer."""
        return cls(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})

    @classmethod
    def text(cls, text: str, status: int = 200) -> Reply:
        """A plain-text answer."""
        return cls(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})


@dataclass(frozen=True)
class Request:
    """A request as the fake's answering code sees it."""

    verb: str
    path: str
    query: dict[str, Any]
    headers: dict[str, str]
    raw: bytes
    at: float


def decode_params(request: Request, *, json_values: bool) -> dict[str, Any]:
    """Query string and body (form or JSON) merged; with json_values, form values holding JSON are decoded."""
    params: dict[str, Any] = dict(request.query)
    content_type = request.headers.get("content-type", "")
    if "json" in content_type and request.raw:
        body = json.loads(request.raw)
        if isinstance(body, dict):
            params.update(body)
    elif "x-www-form-urlencoded" in content_type:
        form = _flatten(parse_qs(request.raw.decode(), keep_blank_values=True))
        if json_values:
            form = {key: _maybe_json(value) for key, value in form.items()}
        params.update(form)
    return params


class FakeServer:
    """A server on 127.0.0.1 (port chosen by the OS) that records the requests its subclass answers."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.refused = 0
        self.down = False
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        """Serve requests in a daemon thread."""
        if self._thread is None:
            # A short poll interval: stop() waits up to one interval for serve_forever to notice.
            serve = functools.partial(self._server.serve_forever, poll_interval=0.02)
            self._thread = threading.Thread(target=serve, name=type(self).__name__, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def calls_to(self, method: str) -> list[Call]:
        """The recorded calls to one API method, oldest first."""
        with self._changed:
            return [call for call in self.calls if call.method == method]

    def clear(self) -> None:
        """Forget recorded calls and refusals."""
        with self._changed:
            self.calls.clear()
            self.refused = 0

    def first(self, method: str, where: Callable[[Call], bool], timeout: float = 5.0) -> Call:
        """Block until a call to `method` satisfying `where` arrived and return it; AssertionError on timeout."""
        return wait_until(self._changed, lambda: next((c for c in self._matching(method) if where(c)), None),
                          timeout, f"{type(self).__name__}: no matching call to {method!r} within {timeout}s")

    def wait_for_refusals(self, count: int, timeout: float = 5.0) -> int:
        """Block until `count` requests in all were refused (down, rate-limited or invalid); AssertionError on
        timeout."""
        return wait_until(self._changed, lambda: self.refused if self.refused >= count else None, timeout,
                          f"{type(self).__name__}: fewer than {count} refusal(s) within {timeout}s")

    def _wait(self, method: str, count: int, timeout: float) -> list[Call]:
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self._matching(method)) >= count, timeout)
            if not arrived:
                seen = [call.method for call in self.calls]
                raise AssertionError(
                    f"{type(self).__name__}: expected {count} call(s) to {method!r} within {timeout}s, "
                    f"got {len(self._matching(method))}; all calls received: {seen}, refused: {self.refused}"
                )
            return self._matching(method)

    def _matching(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def _respond(self, request: Request) -> Reply:
        with self._changed:
            if self.down:
                self.refused += 1
                self._changed.notify_all()
                return Reply.text("Service Unavailable", 503)
        reply, method, params = self._answer(request)
        with self._changed:
            if method is None:
                self.refused += 1
                self._changed.notify_all()
            else:
                call = Call(method, params, request.headers, request.at, request.raw, request.path, reply.status,
                            reply.body)
                self.calls.append(call)
                self._changed.notify_all()
        return reply

    def _answer(self, request: Request) -> tuple[Reply, str | None, dict[str, Any]]:
        """Answer one request: the reply, the method to record it under (None: refused) and its parameters."""
        raise NotImplementedError


def wait_until(changed: threading.Condition, found: Callable[[], T | None], timeout: float, failure: str) -> T:
    """Block on `changed` until `found()` gives something and return it; AssertionError(`failure`) on timeout."""
    with changed:
        if not changed.wait_for(lambda: found() is not None, timeout):
            raise AssertionError(failure)
        result = found()
        assert result is not None
        return result


def _handler_class(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body go out in two writes: without this, each answer waits out the client's delayed ACK
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, verb: str) -> None:
            at = time.monotonic()
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            url = urlsplit(self.path)
            headers = {name.lower(): value for name, value in self.headers.items()}
            query = _flatten(parse_qs(url.query, keep_blank_values=True))
            reply = fake._respond(Request(verb, url.path, query, headers, raw, at))
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except OSError:  # the client gave up waiting (a held answer): nobody to answer
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            """Stay quiet: tests and benchmarks read the recorded calls instead."""

    return Handler


def _flatten(values: dict[str, list[str]]) -> dict[str, Any]:
    return {key: items[0] if len(items) == 1 else items for key, items in values.items()}


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
