"""Write-back through the outbox: each moved score queued once, the newest one only, in batches, nothing lost
while the CRM is down; driven by a recording writer (the connectors' write side is tested against the fakes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from bot.crm.errors import CrmError
from bot.crm.records import ScoreUpdate
from bot.crm.writeback import channel, queue_moved
from bot.push.outbox import Outbox
from scoring.incremental import rescore_leads
from tests.conftest import run_sql

NOW = datetime.now(UTC)


class Recording:
    name, target, batch = "hubspot", "contacts", 100

    def __init__(self) -> None:
        self.requests: list[list[ScoreUpdate]] = []
        self.down = False

    def write_scores(self, updates: list[ScoreUpdate]) -> dict[str, str | None]:
        self.requests.append(updates)
        if self.down:
            raise CrmError("HubSpot is unavailable (503)")
        return {u.crm_id: "no such contact" if u.crm_id == "gone" else None for u in updates}


def link(engine: Engine, count: int) -> list[int]:
    with engine.begin() as conn:
        ids = run_sql(conn, "SELECT lead_id FROM score GROUP BY lead_id ORDER BY lead_id LIMIT ?",
                      (count,)).scalars().all()
        for lead in ids:
            run_sql(conn, "INSERT INTO crm_link (crm, kind, crm_id, local_id) VALUES ('hubspot', 'contacts', ?, ?)",
                    (f"h{lead}", lead))
    return list(ids)


def test_each_moved_score_is_written_once_newest_only_in_batches(demo_engine: Engine) -> None:
    leads = link(demo_engine, 150)
    crm = Recording()
    assert queue_moved(demo_engine, crm, NOW) == 150  # the first time: every linked lead's latest score
    assert queue_moved(demo_engine, crm, NOW) == 0  # nothing moved since
    outbox = Outbox(demo_engine, {"hubspot": channel(crm)}, clock=lambda: NOW)
    while outbox.deliver_due():
        pass
    assert [len(r) for r in crm.requests] == [100, 50]
    first = {u.crm_id: u for r in crm.requests for u in r}
    with demo_engine.connect() as conn:
        latest = dict(run_sql(conn, "SELECT lead_id, probability FROM score WHERE id IN (SELECT max(id) FROM score "
                                    "GROUP BY lead_id)").all())
    assert all(first[f"h{lead}"].score == round(100 * latest[lead]) for lead in leads)
    assert all(u.reasons and u.reasons.count("\n") <= 2 for u in first.values())  # the top three, a line each
    # two moves of one lead before anything is sent: the CRM gets the newest only
    with demo_engine.begin() as conn:
        run_sql(conn, "INSERT INTO activity (lead_id, kind, occurred_at, page_type, detail) VALUES "
                      "(?, 'demo_request', ?, '', '{}')", (leads[0], (NOW - timedelta(hours=1)).isoformat(" ")))
    rescore_leads(demo_engine, [leads[0]], NOW)
    assert queue_moved(demo_engine, crm, NOW) == 1
    with demo_engine.begin() as conn:
        run_sql(conn, "INSERT INTO activity (lead_id, kind, occurred_at, page_type, detail) VALUES "
                      "(?, 'page_view', ?, 'pricing', '{}')", (leads[0], (NOW - timedelta(minutes=30)).isoformat(" ")))
    rescore_leads(demo_engine, [leads[0]], NOW)
    assert queue_moved(demo_engine, crm, NOW) == 1
    while outbox.deliver_due():
        pass
    assert len(crm.requests) == 3 and [u.crm_id for u in crm.requests[2]] == [f"h{leads[0]}"]
    with demo_engine.connect() as conn:
        states = dict(run_sql(conn, "SELECT status, count(*) FROM alert WHERE kind = 'crm_score' GROUP BY status"
                              ).all())
        newest = run_sql(conn, "SELECT probability FROM score WHERE lead_id = ? ORDER BY id DESC LIMIT 1",
                         (leads[0],)).scalar_one()
    assert states == {"sent": 151, "superseded": 1}
    assert crm.requests[2][0].score == round(100 * newest)


def test_a_crm_outage_during_write_back_loses_nothing(demo_engine: Engine) -> None:
    link(demo_engine, 40)
    crm = Recording()
    crm.down = True
    now = [NOW]
    outbox = Outbox(demo_engine, {"hubspot": channel(crm)}, clock=lambda: now[0])
    queue_moved(demo_engine, crm, NOW)
    for _ in range(30):  # 15 minutes of a CRM that answers nothing
        outbox.deliver_due()
        now[0] += timedelta(seconds=30)
    assert len(crm.requests) > 3 and all(len(r) in (1, 40) for r in crm.requests)  # whole tries, then probes
    crm.down = False
    now[0] += timedelta(seconds=30)
    while outbox.deliver_due():
        pass
    written = [u.crm_id for r in crm.requests[-2:] for u in r]
    assert sorted(set(written)) == sorted(written) and len(written) == 40  # the probe, then the rest: each once
    with demo_engine.connect() as conn:
        assert run_sql(conn, "SELECT count(*) FROM alert WHERE kind = 'crm_score' AND status = 'sent'"
                       ).scalar_one() == 40
