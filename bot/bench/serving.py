"""`hotlead serve` in its own process, as deployed, for the chat and push benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import httpx
from sqlalchemy import Engine


@contextmanager
def served(engine: Engine, env: dict[str, str], *args: str) -> Iterator[str]:
    """Run `hotlead serve ARGS` on a free local port with these settings; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, "HOTLEAD_DATABASE_URL": engine.url.render_as_string(hide_password=False), **env}
    # the server's log goes to a file, not a pipe: a chatty server never blocks on a full pipe
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", *args, "--no-scheduler", "--port",
                                    str(port)], env=environment, stderr=log, text=True)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(process, url, log)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait_until_up(process: subprocess.Popen[str], url: str, log: IO[str]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/healthz", timeout=1).raise_for_status()
            return
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"hotlead serve did not start: {log.read()[-4000:]}") from None
            time.sleep(0.1)
