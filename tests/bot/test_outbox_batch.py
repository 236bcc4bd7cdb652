"""The outbox's batch channels (a CRM's batch update): many rows of one target per request, each row recorded on
its own answer, a failed request retried whole, a 429 pacing the target; nothing lost, nothing sent twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from bot.push.outbox import Channel, Outbox, SendError, enqueue
from storage import outbox as store
from tests.conftest import run_sql

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Crm:
    """A CRM's batch endpoint as the outbox sees it: records each request; can fail, rate-limit or refuse."""

    def __init__(self) -> None:
        self.requests: list[list[int]] = []
        self.written: list[int] = []
        self.failing = False
        self.limited: float | None = None
        self.refuse: set[int] = set()

    def send_batch(self, rows: list[dict[str, Any]]) -> dict[int, str | None | SendError]:
        ids = [row["payload"]["n"] for row in rows]
        self.requests.append(ids)
        if self.limited is not None:
            raise SendError("429 Too Many Requests", retry_after=self.limited, rate_limited=True)
        if self.failing:
            raise SendError("503 Service Unavailable", unsure=False)
        answers: dict[int, str | None | SendError] = {}
        for row in rows:
            if row["payload"]["n"] in self.refuse:
                answers[row["id"]] = SendError("PROPERTY_DOESNT_EXIST", permanent=True)
            else:
                self.written.append(row["payload"]["n"])
                answers[row["id"]] = None
        return answers


def channel(crm: Crm) -> Channel:
    def one(_row: dict[str, Any]) -> str | None:
        raise AssertionError("a batch channel sends in batches")

    return Channel(one, send_batch=crm.send_batch, batch=100)


def queue(engine: Engine, count: int, now: datetime, start: int = 0) -> None:
    for n in range(start, start + count):
        enqueue(engine, kind="crm_score", channel="hubspot", target="contacts", dedupe_key=f"w:{n}",
                payload={"n": n}, lead_id=None, now=now)


def test_rows_of_one_target_go_in_batches_and_each_is_recorded_on_its_own_answer(engine: Engine) -> None:
    crm = Crm()
    crm.refuse = {7}
    outbox = Outbox(engine, {"hubspot": channel(crm)}, clock=lambda: START)
    queue(engine, 250, START)
    while outbox.deliver_due():
        pass
    assert [len(r) for r in crm.requests] == [100, 100, 50]
    assert sorted(crm.written) == [n for n in range(250) if n != 7]
    with engine.connect() as conn:
        states = dict(run_sql(conn, "SELECT status, count(*) FROM alert GROUP BY status").all())
    assert states == {"sent": 249, "failed": 1}


def test_a_failed_request_is_retried_whole_and_a_429_paces_the_target(engine: Engine) -> None:
    crm = Crm()
    now = [START]
    outbox = Outbox(engine, {"hubspot": channel(crm)}, clock=lambda: now[0], backoff_s=lambda attempts: 60.0)
    queue(engine, 30, START)
    crm.failing = True
    outbox.deliver_due()
    assert crm.requests == [list(range(30))] and crm.written == []
    crm.failing = False
    now[0] += timedelta(seconds=5)
    outbox.deliver_due()  # the outbox probes the failing CRM with its oldest write-back: it answers again
    assert crm.requests[1] == [0]
    outbox.deliver_due()  # and the rest goes at once, in one request, not after the 60 s backoff
    assert crm.requests[2] == list(range(1, 30)) and sorted(crm.written) == list(range(30))
    queue(engine, 10, now[0], start=100)
    crm.limited = 30.0
    outbox.deliver_due()
    assert crm.requests[3] == list(range(100, 110))
    crm.limited = None
    now[0] += timedelta(seconds=20)
    outbox.deliver_due()  # paused for the 30 s the CRM asked
    assert len(crm.requests) == 4
    now[0] += timedelta(seconds=11)
    outbox.deliver_due()
    assert crm.requests[4] == list(range(100, 110))
    assert sorted(crm.written) == [*range(30), *range(100, 110)]  # each once
    with engine.connect() as conn:
        attempts = dict(run_sql(conn, "SELECT dedupe_key, attempts FROM alert WHERE dedupe_key IN ('w:5', 'w:105')"
                                ).all())
    assert attempts == {"w:5": 2, "w:105": 1}  # the failure counted, the 429 did not


def test_a_newer_write_back_supersedes_a_queued_one(engine: Engine) -> None:
    enqueue(engine, kind="crm_score", channel="hubspot", target="contacts", dedupe_key="w:1", payload={"n": 1},
            now=START)
    with engine.begin() as conn:
        lead = run_sql(conn, "INSERT INTO lead (external_id, name, created_at, status, attributes) VALUES "
                             "('h1', 'A', '2026-11-01 00:00:00', 'open', '{}') RETURNING id").scalar_one()
        run_sql(conn, "UPDATE alert SET lead_id = ?", (lead,))
        assert store.supersede_queued(conn, channel="hubspot", kind="crm_score", lead_id=lead) == 1
    crm = Crm()
    Outbox(engine, {"hubspot": channel(crm)}, clock=lambda: START).deliver_due()
    assert crm.requests == []
