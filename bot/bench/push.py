"""Push latency: events posted to `hotlead serve` at a steady rate during open demo sessions, timed from the
request to the WhatsApp message that reports them arriving at a local fake of the Twilio API."""

from __future__ import annotations

import json
import random
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import Engine

from bot.bench.serving import served
from bot.fakes import FakeTwilio
from bot.push.demo import start_session
from storage.db import json_loads, make_engine
from storage.history import all_reps
from storage.push import mark_whatsapp_seen
from storage.samples import open_leads, sent_alert_payloads

API = "bench-api-token"
SID, AUTH, FROM = "AC" + "7" * 32, "bench-twilio-token", "whatsapp:+15550009999"
SESSIONS = 25
SETTLE_S = 30.0  # after the last event, how long alerts may take before the missing events count as lost


def _sessions(engine: Engine, count: int) -> list[str]:
    """Open `count` demo sessions (reps inside WhatsApp's 24-hour window); their leads' external ids."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        leads = open_leads(conn=conn, limit=count)
        reps = sorted(rep.id for rep in all_reps(conn=conn) if rep.role != "manager")
        mark_whatsapp_seen(conn=conn, now=now)
        for i, (lead_id, _) in enumerate(leads):
            start_session(conn, lead_id=lead_id, rep_id=reps[i % len(reps)], minutes=120,
                          starts_at=now - timedelta(minutes=1))
    return [external for _, external in leads]


def measure(engine: Engine, rate: float = 50.0, seconds: float = 60.0, seed: int = 7) -> dict[str, Any]:
    """Post `rate` pricing-page events a second for `seconds` and time each until its WhatsApp alert."""
    leads = _sessions(engine, SESSIONS)
    pick = random.Random(seed)
    total = int(rate * seconds)
    sent_at: dict[int, float] = {}  # activity id -> when its request was sent
    failed = 0
    lock = threading.Lock()
    env = {"HOTLEAD_API_TOKEN": API, "TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": AUTH,
           "TWILIO_WHATSAPP_FROM": FROM, "HOTLEAD_PUBLIC_URL": "https://hotlead.example.com", "HOTLEAD_NLP": "rules"}
    with FakeTwilio(SID, AUTH) as twilio, httpx.Client(timeout=30) as http, \
            served(engine, {**env, "TWILIO_API_URL": twilio.url}, "--no-slack") as server:

        def post(number: int, lead: str) -> None:
            nonlocal failed
            moment = datetime.now(UTC).isoformat()
            event = {"lead": lead, "kind": "page_view", "occurred_at": moment,
                     "detail": {"url": f"/pricing?visit={number}", "page_type": "pricing"}}
            started = time.monotonic()
            response = http.post(f"{server}/api/events", json=event, headers={"Authorization": f"Bearer {API}"})
            with lock:
                if response.status_code == 202:
                    sent_at[response.json()["ids"][0]] = started
                else:
                    failed += 1

        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=16) as pool:
            for number in range(total):  # a steady rate: event n leaves at began + n / rate
                time.sleep(max(0.0, began + number / rate - time.monotonic()))
                pool.submit(post, number, pick.choice(leads))
        sending_s = time.monotonic() - began
        arrived = _arrivals(engine, twilio, set(sent_at), deadline=time.monotonic() + SETTLE_S)
    latencies = np.asarray([arrived[i] - sent_at[i] for i in sent_at if i in arrived]) * 1000
    lost = total - len(latencies)
    return {"events": total, "lost": lost, "refused": failed, "messages": len(twilio.calls_to("messages")),
            "events_per_s": round(total / sending_s, 1), "sessions": SESSIONS,
            "p50_ms": round(float(np.percentile(latencies, 50)), 1) if len(latencies) else None,
            "p99_ms": round(float(np.percentile(latencies, 99)), 1) if len(latencies) else None,
            "max_ms": round(float(latencies.max()), 1) if len(latencies) else None}


def _arrivals(engine: Engine, twilio: FakeTwilio, wanted: set[int], deadline: float) -> dict[int, float]:
    """For each wanted activity id, when the WhatsApp message that reported it reached the fake."""
    found: dict[int, float] = {}
    while time.monotonic() < deadline:
        at_by_sid = {json.loads(c.answer)["sid"]: c.at for c in twilio.calls_to("messages") if c.status == 201}
        with engine.connect() as conn:
            rows = sent_alert_payloads(conn=conn, kind="demo")
        for sid, payload in rows:
            for item in json_loads(payload)["items"]:
                if item["kind"] == "events" and sid in at_by_sid:
                    found.setdefault(item["id"], at_by_sid[sid])
        if wanted <= set(found):
            break
        time.sleep(0.2)
    return found


def run(leads: int = 2000, rate: float = 50.0, seconds: float = 60.0, database: Path | None = None,
        seed: int = 7) -> dict[str, Any]:
    """Measure on `database` (demo sessions and events are added to it) or on a fresh demo of `leads` leads."""
    if database is not None:
        return measure(make_engine(f"sqlite:///{database}"), rate, seconds, seed)
    from bot.bench.chat import build

    with tempfile.TemporaryDirectory(prefix="hotlead-push-") as tmp:
        engine = build(Path(tmp), leads, seed)
        try:
            return measure(engine, rate, seconds, seed)
        finally:
            engine.dispose()
