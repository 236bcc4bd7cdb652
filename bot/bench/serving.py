"""`hotlead serve` in its own process, as deployed, for the chat and push benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy import Engine


@contextmanager
def served(engine: Engine, env: dict[str, str], *args: str) -> Iterator[str]:
    """Run `hotlead serve ARGS` on a free local port with these settings; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, "HOTLEAD_DATABASE_URL": str(engine.url), **env}
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", *args, "--no-scheduler", "--port", str(port)],
                               env=environment, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    said = process.stderr.read() if process.stderr else ""
                    raise RuntimeError(f"hotlead serve did not start: {said}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
