"""The README's local try-out, as written: `hotlead dev fakes`, `hotlead serve` with the settings it prints, then a
signed WhatsApp question answered and a signed Slack question answered in the fake's window."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import IO

import pytest
from click.testing import CliRunner

from bot.cli import cli

DEADLINE_S = 60.0  # a failure deadline, not a wait: each line is taken the moment it arrives


def lines_of(stream: IO[str]) -> queue.Queue[str]:
    """The stream's lines as they arrive, read by a thread (so that a test can give up instead of hanging)."""
    found: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [found.put(line) for line in iter(stream.readline, "")], daemon=True).start()
    return found


def until(found: queue.Queue[str], text: str) -> list[str]:
    seen = []
    while not seen or text not in seen[-1]:
        try:
            seen.append(found.get(timeout=DEADLINE_S))
        except queue.Empty:
            raise AssertionError(f"no {text!r} in {DEADLINE_S:.0f} s: {''.join(seen)[-2000:]}") from None
    return seen


@pytest.fixture
def started(demo_url: str) -> Iterator[tuple[dict[str, str], queue.Queue[str], str]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = f"http://127.0.0.1:{port}"
    base = {**os.environ, "HOTLEAD_DATABASE_URL": demo_url, "PYTHONUNBUFFERED": "1"}
    fakes = subprocess.Popen([sys.executable, "-m", "bot.cli", "dev", "fakes", "--public-url", server],
                             env=base, stdout=subprocess.PIPE, text=True)
    serve = None
    try:
        assert fakes.stdout is not None
        shown = lines_of(fakes.stdout)
        exports = [line for line in until(shown, "# ready") if line.startswith("export ")]
        settings = dict(line.removeprefix("export ").strip().split("=", 1) for line in exports)
        serve = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(port), "--no-scheduler",
                                  "--chat-workers", "0"], env={**base, **settings}, stderr=subprocess.PIPE, text=True)
        assert serve.stderr is not None
        until(lines_of(serve.stderr), "serving")
        yield settings, shown, server
    finally:
        for process in (serve, fakes):
            if process is not None:
                process.terminate()
                process.wait(timeout=15)


def test_the_local_try_out_answers_whatsapp_and_slack(
    started: tuple[dict[str, str], queue.Queue[str], str], demo_url: str,
) -> None:
    settings, shown, server = started
    env = {**settings, "HOTLEAD_DATABASE_URL": demo_url}
    answer = CliRunner().invoke(cli, ["dev", "whatsapp", "--url", server, "who should I call today?"], env=env)
    assert answer.exit_code == 0, answer.output
    assert "<Response><Message>" in answer.output and "Call these first today" in answer.output
    sent = CliRunner().invoke(cli, ["dev", "slack", "--url", server, "top leads"], env=env)
    assert sent.exit_code == 0 and "Slack event sent: 200" in sent.output
    posted = until(shown, "[slack] chat.postMessage")
    assert "C0HOTLEAD" in posted[-1]
    unsigned = CliRunner().invoke(cli, ["dev", "slack", "--url", server, "top leads"],
                                  env={**env, "SLACK_SIGNING_SECRET": "not-the-secret"})
    assert "Slack event sent: 401" in unsigned.output  # the server checks signatures as Slack's SDK does
