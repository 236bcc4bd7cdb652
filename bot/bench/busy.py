"""The server during a bulk import: `hotlead serve` (its own process) takes `/api/events` at a steady rate and
Slack questions from a few askers while `hotlead import activities` (another process) loads a large export into
the same SQLite file. Reports every event's answer (status, latency, stored or spooled), whether each was stored
in the end, and every question's answer."""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import Engine

from bot.bench.chat import SECRET, TOKEN, build, questions
from bot.bench.serving import served
from bot.fakes import FakeSlack, slack_event_body, slack_headers
from bot.fakes._server import Call
from storage.history import all_reps
from storage.samples import activities_with_detail, lead_external_ids

API = "bench-api-token"
SETTLE_S = 60.0  # after the import, how long spooled events may take to be stored before they count as lost
ANSWER_S = 30.0  # a question not answered this long after it was asked counts as unanswered


def write_export(engine: Engine, path: Path, rows: int, seed: int = 3) -> None:
    """An activity export of `rows` rows about the database's own leads."""
    with engine.connect() as conn:
        leads = lead_external_ids(conn=conn)
    pick = random.Random(seed)
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["lead", "kind", "occurred_at", "page_type", "url"])
        for index in range(rows):
            when = datetime.fromtimestamp(1_735_689_600 + index * 11, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            out.writerow([pick.choice(leads), "page_view", when, "docs", f"/docs/bench-{index}"])


def _in_channel(channel: str, call: Call) -> bool:
    return bool(call.params.get("channel") == channel)


def _percentiles(values: list[float]) -> dict[str, float | None]:
    ms = np.asarray(values) * 1000
    if not len(ms):
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    return {"p50_ms": round(float(np.percentile(ms, 50)), 1), "p99_ms": round(float(np.percentile(ms, 99)), 1),
            "max_ms": round(float(ms.max()), 1)}


def measure(engine: Engine, export: Path, rate: float = 20.0, askers: int = 2, seed: int = 7) -> dict[str, Any]:
    """Post events and ask questions from just before the import starts until it ends."""
    with engine.connect() as conn:
        users = [rep.slack_user_id for rep in all_reps(conn=conn) if rep.slack_user_id]
        leads = lead_external_ids(conn=conn, limit=200)
    asked = questions(engine, 10_000, seed)
    events: list[tuple[int, float, bool]] = []  # (status, seconds, spooled)
    answers: list[float | None] = []
    lock = threading.Lock()
    stop = threading.Event()
    env = {"HOTLEAD_API_TOKEN": API, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "HOTLEAD_NLP": "rules"}
    with FakeSlack(token=TOKEN) as slack, httpx.Client(timeout=60) as http, \
            served(engine, {**env, "SLACK_API_URL": slack.url}, "--no-whatsapp") as server:

        def post(number: int) -> None:
            event = {"lead": leads[number % len(leads)], "kind": "page_view",
                     "occurred_at": datetime.now(UTC).isoformat(), "detail": {"url": f"/pricing?busy={number}"}}
            started = time.monotonic()
            try:
                response = http.post(f"{server}/api/events", json=event, headers={"Authorization": f"Bearer {API}"})
                status, spooled = response.status_code, bool(response.status_code == 202 and
                                                              response.json().get("queued"))
            except httpx.HTTPError:
                status, spooled = 0, False
            with lock:
                events.append((status, time.monotonic() - started, spooled))

        def ask(asker: int) -> None:
            number = asker
            while not stop.is_set():
                channel = f"CBUSY{number:06d}"
                slack.invite(channel)
                body = slack_event_body({"type": "app_mention", "user": users[number % len(users)],
                                         "text": f"<@UHOTLEAD> {asked[number % len(asked)]}", "channel": channel,
                                         "ts": f"{time.time():.6f}"})
                started = time.monotonic()
                answered: float | None = None
                try:
                    http.post(f"{server}/slack/events", content=body, headers=slack_headers(SECRET, body))
                    call = slack.first("chat.postMessage", partial(_in_channel, channel), timeout=ANSWER_S)
                    answered = call.at - started
                except (httpx.HTTPError, AssertionError):
                    answered = None
                with lock:
                    answers.append(answered)
                number += askers

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(askers)]
        for thread in threads:
            thread.start()
        environment = {**os.environ, "HOTLEAD_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
        began = time.monotonic()
        importer = subprocess.Popen([sys.executable, "-m", "bot.cli", "import", "activities", str(export)],
                                    env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        sent = 0
        with ThreadPoolExecutor(max_workers=32) as pool:
            while importer.poll() is None:  # a steady rate: event n leaves at began + n / rate
                time.sleep(max(0.0, began + sent / rate - time.monotonic()))
                pool.submit(post, sent)
                sent += 1
        import_s = time.monotonic() - began
        stop.set()
        for thread in threads:
            thread.join()
        _, said = importer.communicate()
        stored = _stored(engine, sent, deadline=time.monotonic() + SETTLE_S)
    statuses = [status for status, _, _ in events]
    return {"import_rows": rows_in(export), "import_s": round(import_s, 1), "import_exit": importer.returncode,
            "import_error": said.strip()[-300:] if importer.returncode else "",
            "events": {"posted": len(events), "5xx": sum(s >= 500 for s in statuses),
                       "unanswered": sum(s == 0 for s in statuses), "spooled": sum(sp for _, _, sp in events),
                       "lost": len(events) - stored, **_percentiles([t for _, t, _ in events])},
            "questions": {"asked": len(answers), "unanswered": sum(a is None for a in answers),
                          **_percentiles([a for a in answers if a is not None])}}


def rows_in(export: Path) -> int:
    with export.open() as handle:
        return sum(1 for _ in handle) - 1


def _stored(engine: Engine, posted: int, deadline: float) -> int:
    """How many of the posted events are in the store (spooled ones drain after the import)."""
    found = 0
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            found = activities_with_detail(conn=conn, fragment="busy=")
        if found >= posted:
            break
        time.sleep(0.5)
    return found


def run(leads: int = 2000, rows: int = 200_000, rate: float = 20.0, askers: int = 2, seed: int = 7) -> dict[str, Any]:
    """Measure on a fresh demo of `leads` leads and an export of `rows` activities."""
    with tempfile.TemporaryDirectory(prefix="hotlead-busy-") as tmp:
        engine = build(Path(tmp), leads, seed)
        try:
            export = Path(tmp) / "activities.csv"
            write_export(engine, export, rows)
            return {"leads": leads, **measure(engine, export, rate, askers, seed)}
        finally:
            engine.dispose()
