"""Two `hotlead serve` processes on one PostgreSQL database, as behind a load balancer: a burst of 3,000 events
split between them, Slack's retries landing on the other process, and one process killed (SIGKILL) mid-burst.
Every accepted event is stored, every alert is posted exactly once, every question answered at most once, and
the weekly digest due at start-up goes out once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import IO, Any

import httpx
import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, bindparam, text

from bot.config import Settings
from bot.fakes import FakeSlack, slack_event_body, slack_headers
from bot.jobs import WEEKLY_DIGEST, start_scheduler
from storage.db import make_engine
from storage.history import all_reps

pytestmark = pytest.mark.postgresql_only

API, TOKEN, SECRET = "two-servers-api", "xoxb-two-servers", "two-servers-secret"
ALERTS, DIGEST = "C0ALERTS", "C0DIGEST"
EVENTS, KILL_AT, QUESTIONS = 3000, 1500, 40
LEASE_S = 3  # the survivor takes back the killed process's claims this soon
SETTLE_S = 120.0  # the bound on waiting for the queue to drain after the burst


@contextmanager
def serving(env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], str, IO[str]]]:
    """`hotlead serve` (with its scheduler) on a free port; the process, its URL and its log."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--no-whatsapp", "--port", str(port)],
                                   env={**os.environ, **env}, stderr=log, text=True)
        url = f"http://127.0.0.1:{port}"
        try:
            _up(process, url, log)
            yield process, url, log
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=20)


def _up(process: subprocess.Popen[str], url: str, log: IO[str]) -> None:
    for _ in range(600):  # bounded: up to a minute for the server to answer
        try:
            httpx.get(f"{url}/healthz", timeout=1).raise_for_status()
            return
        except httpx.HTTPError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    log.seek(0)
    raise AssertionError(f"hotlead serve did not start: {log.read()[-3000:]}")


def digest_due_now(url: str) -> None:
    """Store the schedule with the weekly digest due a minute ago: both processes find it due at start-up. (The
    job store is edited directly: a scheduler, even paused, runs what is due once more as it shuts down.)"""
    settings = Settings(hotlead_database_url=url)
    start_scheduler(settings).shutdown(wait=True)  # the jobs stored, nothing due yet
    engine = make_engine(url)
    store = SQLAlchemyJobStore(engine=engine)
    store.start(BackgroundScheduler(timezone=UTC), "default")
    job = store.lookup_job(WEEKLY_DIGEST)
    assert job is not None
    job._modify(next_run_time=datetime.now(UTC) - timedelta(minutes=1))
    store.update_job(job)
    store.shutdown()
    engine.dispose()


def warm_leads(engine: Engine, count: int) -> list[str]:
    """Open leads just below hot by their latest score: a few strong events turn them hot (alerts follow)."""
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(text(
            "SELECT l.external_id FROM score s JOIN (SELECT max(id) AS id FROM score GROUP BY lead_id) m "
            "ON m.id = s.id JOIN lead l ON l.id = s.lead_id LEFT JOIN outcome o ON o.lead_id = l.id "
            "WHERE o.id IS NULL AND s.band = 'warm' ORDER BY s.percentile DESC, l.id LIMIT :n"), {"n": count})]


def event(number: int, leads: list[str]) -> dict[str, Any]:
    kinds = ("demo_request", "meeting", "page_view", "email_reply", "trial_event")
    kind = kinds[number % len(kinds)]
    return {"lead": leads[number % len(leads)], "kind": kind, "occurred_at": datetime.now(UTC).isoformat(),
            "page_type": "pricing" if kind == "page_view" else "", "detail": {"burst": number}}


def settle(engine: Engine) -> Counter[str]:
    """Wait (bounded) until no alert is queued or sending; the statuses."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        with engine.connect() as conn:
            found = Counter(row[0] for row in conn.execute(text("SELECT status FROM alert")))
        if not found.keys() & {"queued", "sending"} or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def test_two_servers_a_burst_retries_and_a_kill(demo_engine: Engine, demo_url: str) -> None:
    digest_due_now(demo_url)
    leads = warm_leads(demo_engine, 60)
    with demo_engine.connect() as conn:
        users = [rep.slack_user_id for rep in all_reps(conn=conn) if rep.slack_user_id]
    with FakeSlack(token=TOKEN, channels=[ALERTS, DIGEST]) as slack, ExitStack() as servers:
        env = {"HOTLEAD_DATABASE_URL": demo_url, "HOTLEAD_API_TOKEN": API, "SLACK_BOT_TOKEN": TOKEN,
               "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": slack.url, "HOTLEAD_NLP": "rules",
               "HOTLEAD_ALERT_CHANNEL": ALERTS, "HOTLEAD_DIGEST_CHANNEL": DIGEST,
               "HOTLEAD_OUTBOX_LEASE_S": str(LEASE_S)}
        doomed, one, _ = servers.enter_context(serving(env))
        survivor, two, log = servers.enter_context(serving(env))
        urls = [one, two]

        def post(number: int) -> list[int]:
            """Post event `number` to one of the two (alternating); the ids it was stored under, if accepted."""
            try:
                answer = httpx.post(f"{urls[number % 2]}/api/events", json=event(number, leads),
                                    headers={"Authorization": f"Bearer {API}"}, timeout=30)
            except httpx.HTTPError:
                return []  # the killed process: not accepted
            assert answer.status_code < 500, answer.text
            return [int(i) for i in answer.json().get("ids", [])] if answer.status_code in (200, 202) else []

        def ask(number: int) -> int:
            """A question with its event id, sent to one process and retried on the other; which got it first."""
            body = slack_event_body({"type": "app_mention", "user": users[number % len(users)],
                                     "text": "<@UHOTLEAD> top 3 leads", "channel": ALERTS,
                                     "ts": f"1765000000.{number:06d}"}, event_id=f"Ev0TWO{number:06d}")
            first = number % 2
            for attempt, index in enumerate((first, 1 - first)):
                headers = slack_headers(SECRET, body)
                if attempt:
                    headers |= {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
                with suppress(httpx.HTTPError):
                    httpx.post(f"{urls[index]}/slack/events", content=body, headers=headers, timeout=30)
            return first

        accepted: list[int] = []
        with ThreadPoolExecutor(max_workers=16) as pool:
            first_half = list(pool.map(post, range(KILL_AT)))
            firsts = list(pool.map(ask, range(QUESTIONS)))
            doomed.send_signal(signal.SIGKILL)  # mid-burst: no cleanup of any kind
            doomed.wait(timeout=10)
            second_half = list(pool.map(post, range(KILL_AT, EVENTS)))
        for ids in first_half + second_half:
            accepted.extend(ids)

        statuses = settle(demo_engine)
        posted = [int(m["metadata"]["event_payload"]["alert"]) for target in [ALERTS, *users]
                  for m in slack.posted(target) if (m.get("metadata") or {}).get("event_type") == "hotlead_alert"]
        answers = Counter(m.get("thread_ts") for m in slack.posted(ALERTS) if "Top 3" in str(m.get("text")))
        digests = [m for m in slack.posted(DIGEST) if "weekly digest" in str(m.get("text"))]
        assert survivor.poll() is None
        log.seek(0)
        said = log.read()

    # every accepted event is stored
    assert len(accepted) >= EVENTS // 2
    with demo_engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM activity WHERE id IN :ids").bindparams(
            bindparam("ids", expanding=True)), {"ids": accepted}).scalar_one()
    assert stored == len(set(accepted))
    # every alert posted exactly once, none left behind
    assert statuses["sent"] > 0 and not statuses.keys() & {"queued", "sending"}, statuses
    assert sorted(posted) == sorted(set(posted)), Counter(posted).most_common(3)
    with demo_engine.connect() as conn:
        sent = {row[0] for row in conn.execute(text("SELECT id FROM alert WHERE status = 'sent' "
                                                    "AND channel = 'slack'"))}
    assert set(posted) == sent
    # each question answered at most once; exactly once when it first reached the survivor
    assert max(answers.values()) == 1
    assert all(answers[f"1765000000.{n:06d}"] == 1 for n, first in enumerate(firsts) if first == 1)
    # the digest due at start-up went out once
    assert len(digests) == 1, ([json.dumps(d)[:200] for d in digests], said[-3000:])
