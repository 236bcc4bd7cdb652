"""/api/events while the database is busy: another connection holds SQLite's write lock (as a bulk import does);
the intake answers 202 within its short wait, spools the checked body, and the drainer stores it once the lock
frees, through the live pipeline, also after a restart. SQLite only: one writer at a time is SQLite's (a bulk
import holds the whole file); PostgreSQL's writers lock rows, and there the intake writes at once."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from bot.app import create_app
from bot.config import Settings
from bot.push.api import Intake
from bot.push.demo import start_session
from bot.server import BackgroundServer
from storage.db import json_loads
from storage.live import Stored
from storage.spool import Spool, spool_path
from tests.conftest import run_sql

pytestmark = pytest.mark.sqlite_only

API = "api-token-queue"
WAIT_S = 0.2  # the intake's lock wait, injected: well under the engine's busy_timeout of 10 s


def until(condition: Callable[[], object], within: float = 10.0) -> object:
    """Poll `condition` until it is truthy (bounded): the drainer runs in a thread of the server."""
    deadline = time.monotonic() + within
    while not (found := condition()):
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.02)
    return found


@contextmanager
def write_lock(engine: Engine) -> Iterator[sqlite3.Connection]:
    """SQLite's write lock, held by another connection (as `hotlead import` holds it) until the block ends."""
    holder = sqlite3.connect(str(engine.url.database), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield holder
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def serve(engine: Engine) -> BackgroundServer:
    settings = Settings(hotlead_api_token=API, hotlead_nlp="rules")
    return BackgroundServer(create_app(settings, slack=False, whatsapp=False, engine=engine, lock_wait_s=WAIT_S))


def post(url: str, path: str, body: object) -> httpx.Response:
    return httpx.post(f"{url}{path}", json=body, headers={"Authorization": f"Bearer {API}"}, timeout=5)


def activities(engine: Engine, kind: str) -> list[int]:
    with engine.connect() as conn:
        return [r[0] for r in run_sql(conn, "SELECT id FROM activity WHERE kind = ? ORDER BY id", (kind,))]


def demo_alert_items(engine: Engine) -> list[dict]:
    """The items of the demo alerts the live pipeline queued (it queues one for what happens during a demo)."""

    with engine.connect() as conn:
        return [i for (payload,) in run_sql(conn, "SELECT payload FROM alert WHERE kind = 'demo'")
                for i in json_loads(payload)["items"]]


def open_demo(engine: Engine, lead: str) -> None:
    with engine.begin() as conn:
        lead_id = run_sql(conn, "SELECT id FROM lead WHERE external_id = ?", (lead,)).scalar_one()
        rep_id = run_sql(conn, "SELECT id FROM rep WHERE role != 'manager' AND whatsapp IS NOT NULL "
                                      "ORDER BY id LIMIT 1").scalar_one()
        start_session(conn, lead_id=lead_id, rep_id=rep_id, minutes=45)


def event(lead: str, kind: str = "webinar", **extra: object) -> dict:
    return {"lead": lead, "kind": kind, "occurred_at": datetime.now(UTC).isoformat(), **extra}


def test_a_busy_database_queues_the_events_and_the_drainer_stores_them_for_the_pipeline(demo_engine: Engine
                                                                                        ) -> None:
    open_demo(demo_engine, "L000002")
    before = activities(demo_engine, "form_submit")
    with serve(demo_engine) as server:
        with write_lock(demo_engine):
            started = time.monotonic()
            queued = post(server.url, "/api/events", [event("L000002", "form_submit"),
                                                      event("L000002", "form_submit", detail={"n": 2})])
            waited = time.monotonic() - started
            assert queued.status_code == 202, queued.text
            assert queued.json()["queued"] == 2 and queued.json()["ids"] == []
            assert waited < 5  # the short lock wait, not the engine's 10 s busy timeout
            unknown = post(server.url, "/api/events", event("NOBODY"))  # leads are read: no writer blocks that
            assert unknown.status_code == 404 and unknown.json()["field"] == "lead"
            bad = post(server.url, "/api/events", event("L000002", occurred_at="0001-01-01T00:00:00+05:00"))
            assert bad.status_code == 422 and bad.json()["field"] == "occurred_at"
            assert activities(demo_engine, "form_submit") == before  # nothing could be written yet
        stored = until(lambda: activities(demo_engine, "form_submit")[len(before):])
        assert len(stored) == 2
        seen = until(lambda: demo_alert_items(demo_engine))  # the pipeline saw them, as if stored directly
        assert {i["id"] for i in seen} == set(stored)
        assert Spool(spool_path(demo_engine)).counts() == {"pending": 0, "failed": 0}
        direct = post(server.url, "/api/events", event("L000002", kind="meeting"))
        assert direct.status_code == 202 and direct.json()["new"] == 1 and direct.json()["queued"] == 0


def test_a_restart_drains_what_the_last_run_spooled(demo_engine: Engine) -> None:
    before = activities(demo_engine, "meeting")
    last_run = Intake(demo_engine, Recording(), Spool(spool_path(demo_engine)), lock_wait_s=WAIT_S)
    with write_lock(demo_engine):  # the last run spooled a body, and stopped before the import was done
        assert last_run.take("events", event("L000003", kind="meeting"), 1).spooled
    assert Spool(spool_path(demo_engine)).counts()["pending"] == 1
    with serve(demo_engine):
        until(lambda: len(activities(demo_engine, "meeting")) == len(before) + 1)
        until(lambda: Spool(spool_path(demo_engine)).counts()["pending"] == 0)


class Recording:
    """The live pipeline's side of the intake: what it was handed, in order."""

    def __init__(self) -> None:
        self.accepted: list[tuple[str, list[Stored]]] = []

    def accept(self, kind: str, stored: list[Stored]) -> None:
        self.accepted.append((kind, stored))


def test_the_drainer_stores_in_arrival_order_and_keeps_what_it_cannot_store(demo_engine: Engine,
                                                                           tmp_path: Path) -> None:
    spool = Spool(tmp_path / "intake.spool")
    pipeline = Recording()
    intake = Intake(demo_engine, pipeline, spool, lock_wait_s=WAIT_S)
    with write_lock(demo_engine):
        first = intake.take("messages", {"lead": "L000004", "channel": "chat", "text": "first",
                                         "occurred_at": "2026-11-23T10:00:00Z"}, 1)
        gone = intake.take("events", event("L000005", kind="call"), 1)
        last = intake.take("events", [event("L000004", kind="call"), event("L000004", kind="trial_event")], 2)
    assert first.spooled and gone.spooled and last.spooled and pipeline.accepted == []
    with demo_engine.begin() as conn:  # the lead of the second body goes before the drain (a CRM merge)
        run_sql(conn, "UPDATE lead SET external_id = 'MERGED' WHERE external_id = 'L000005'")
    assert intake.drain() == 2
    assert [(kind, [s.values["text"] if kind == "messages" else s.values["kind"] for s in stored])
            for kind, stored in pipeline.accepted] == [("messages", ["first"]), ("events", ["call", "trial_event"])]
    assert spool.counts() == {"pending": 0, "failed": 1}  # kept, with its error, out of the drain
    with spool.engine.connect() as conn:
        assert "unknown lead 'L000005'" in run_sql(conn, "SELECT error FROM spooled").scalar_one()


def test_without_a_spool_a_busy_database_is_a_503_not_a_500(demo_engine: Engine) -> None:
    from starlette.testclient import TestClient

    app = create_app(Settings(hotlead_api_token=API), slack=False, whatsapp=False, engine=demo_engine,
                     lock_wait_s=WAIT_S)
    app.state.hotlead.intake.spool = None  # as on PostgreSQL or an in-memory database
    with TestClient(app) as client, write_lock(demo_engine):
        answer = client.post("/api/events", json=event("L000002"), headers={"Authorization": f"Bearer {API}"})
    assert answer.status_code == 503 and answer.headers["Retry-After"]

