"""Chat latency: signed Slack mentions sent to `hotlead serve` by concurrent askers, timed until the reply
reaches the (local, fake) Slack Web API."""

from __future__ import annotations

import random
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import Engine

from bot.bench.serving import served
from bot.fakes import FakeSlack, slack_event_body, slack_headers
from storage.db import make_engine
from storage.history import all_reps
from storage.push import lead_count
from storage.samples import best_scored_names

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"
WARMUP = 9  # one question of each shape


def build(folder: Path, leads: int, seed: int) -> Engine:
    """A demo database with conversations read (rules), a trained model and scores."""
    from bot.bench.speed import build as build_demo
    from scoring.rescore import rescore
    from scoring.signals import analyze_pending
    from scoring.training import train

    engine, _imported = build_demo(folder, leads, seed)
    analyze_pending(engine, mode="rules")
    train(engine)
    rescore(engine)
    return engine


def questions(engine: Engine, count: int, seed: int, every_shape: bool = False) -> list[str]:
    """A realistic mix: why-questions about scored leads and accounts, top lists, call lists, comparisons."""
    with engine.connect() as conn:
        leads = best_scored_names(conn=conn, limit=200)
    pick = random.Random(seed)
    shapes = [
        lambda: f"why is {pick.choice(leads)[0]} hot?",
        lambda: "why is {1} at {2} a 90?".format(*pick.choice(leads)),
        lambda: f"why is {pick.choice(leads)[2]} hot?",
        lambda: "top leads",
        lambda: "top 5 hot leads in fintech",
        lambda: "who should I call today?",
        lambda: f"compare {pick.choice(leads)[0]} and {pick.choice(leads)[0]}",
        lambda: f"what changed for {pick.choice(leads)[2]} this week?",
        lambda: f"account {pick.choice(leads)[2]}",
    ]
    if every_shape:
        return [shape() for shape in shapes]
    return [pick.choice(shapes)() for _ in range(count)]


def measure(engine: Engine, count: int = 300, concurrency: int = 10, seed: int = 7) -> dict[str, Any]:
    """Send `count` questions from `concurrency` askers (each waits for its answer before asking again)."""
    with engine.connect() as conn:
        users = [rep.slack_user_id for rep in all_reps(conn=conn) if rep.slack_user_id]
    asked = questions(engine, WARMUP, seed + 1, every_shape=True) + questions(engine, count, seed)
    env = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET}
    with FakeSlack(token=TOKEN) as slack, httpx.Client(timeout=30) as http, \
            served(engine, {**env, "SLACK_API_URL": slack.url}, "--no-whatsapp") as server:

        def one(number: int, question: str) -> float:
            channel = f"CBENCH{number:06d}"
            slack.invite(channel)
            body = slack_event_body({"type": "app_mention", "user": users[number % len(users)],
                                     "text": f"<@UHOTLEAD> {question}", "channel": channel, "ts": f"{time.time():.6f}"})
            started = time.monotonic()
            response = http.post(f"{server}/slack/events", content=body, headers=slack_headers(SECRET, body))
            response.raise_for_status()
            call = slack.first("chat.postMessage", lambda c: c.params.get("channel") == channel, timeout=30)
            return call.at - started

        for number in range(WARMUP):  # model, name index and caches loaded, as in a running server
            one(number, asked[number])
        latencies, elapsed = _ask_concurrently(one, list(enumerate(asked[WARMUP:], start=WARMUP)), concurrency)
    ms = np.asarray(latencies) * 1000
    return {"questions": len(latencies), "concurrency": concurrency, "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p99_ms": round(float(np.percentile(ms, 99)), 1), "mean_ms": round(statistics.fmean(ms), 1),
            "max_ms": round(float(ms.max()), 1), "questions_per_s": round(len(latencies) / elapsed, 1)}


def _ask_concurrently(one: Any, queue: list[tuple[int, str]], concurrency: int) -> tuple[list[float], float]:
    """Latencies of every question asked by `concurrency` askers, and the seconds it took."""
    latencies: list[float] = []
    lock = threading.Lock()

    def asker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                number, question = queue.pop(0)
            latency = one(number, question)
            with lock:
                latencies.append(latency)

    started = time.monotonic()
    threads = [threading.Thread(target=asker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.monotonic() - started


def run(leads: int = 2000, questions_count: int = 300, concurrency: int = 10, database: Path | None = None,
        seed: int = 7) -> dict[str, Any]:
    """Measure on `database`, or on a freshly built demo of `leads` leads."""
    if database is not None:
        engine = make_engine(f"sqlite:///{database}")
        return {"leads": _leads(engine), **measure(engine, questions_count, concurrency, seed)}
    with tempfile.TemporaryDirectory(prefix="hotlead-chat-") as tmp:
        engine = build(Path(tmp), leads, seed)
        try:
            return {"leads": leads, **measure(engine, questions_count, concurrency, seed)}
        finally:
            engine.dispose()


def _leads(engine: Engine) -> int:
    with engine.connect() as conn:
        return lead_count(conn=conn)
