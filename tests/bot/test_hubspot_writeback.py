"""HubSpot write-back through the official client against the local HubSpot fake: scores into the contacts' Hotlead
properties in batch updates of 100, driven by the outbox (a refused contact fails alone, a 429 pauses, an outage
loses nothing), the properties set up by `connect`; and the issue's Done-when, end to end through the CLI."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import Result
from sqlalchemy import Engine

from bot.config import Settings
from bot.crm import sync as sync_module
from bot.crm.errors import CrmError
from bot.crm.hubspot import FIELDS, HubSpotConnector, HubSpotError
from bot.crm.records import ScoreUpdate
from bot.crm.sync import Stages, sync
from bot.crm.writeback import channel
from bot.fakes import FakeHubSpot
from bot.fakes.hubspot import READ_SCOPES
from bot.fakes.hubspot_portal import KEEN, fill, iso
from bot.push.outbox import Outbox, enqueue
from storage.db import make_engine
from storage.history import stamp, utc
from storage.queries import open_lead_ids
from tests.bot.conftest import SleepClock as Clock
from tests.bot.crm_checks import cli_json, counts, won_and_owned
from tests.conftest import run_sql

TOKEN = "pat-na1-hotlead"
WRITE = {"crm.objects.contacts.write", "crm.schemas.contacts.write"}
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SCORED = datetime(2026, 11, 30, 22, 15, 30, 250_000, tzinfo=UTC)
BANDS = ("hot", "warm", "cold")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeHubSpot]:
    with FakeHubSpot(TOKEN, scopes=READ_SCOPES | WRITE, clock=clock) as server:
        yield server


def connect(fake: FakeHubSpot, clock: Clock, token: str = TOKEN) -> HubSpotConnector:
    return HubSpotConnector(Settings(hubspot_access_token=token, hubspot_api_url=fake.url), sleep=clock.sleep,
                            clock=clock)


def update(crm_id: str, n: int) -> ScoreUpdate:
    return ScoreUpdate(crm_id, n % 101, BANDS[n % 3], f"Visited pricing {n}×\nReplied within a day\nVP title", SCORED)


def queue(engine: Engine, contacts: list[str]) -> None:
    """A write-back per contact, as `queue_moved` queues them."""
    for n, crm_id in enumerate(contacts):
        u = update(crm_id, n)
        enqueue(engine, kind="crm_score", channel="hubspot", target="contacts", dedupe_key=f"crm_score:{crm_id}",
                payload={"crm_id": u.crm_id, "score": u.score, "band": u.band, "reasons": u.reasons,
                         "scored_at": u.scored_at.isoformat()}, now=NOW)


def written(fake: FakeHubSpot) -> list[str]:
    """The contacts HubSpot's batch updates wrote, in order (a contact twice: written twice)."""
    return [result["id"] for call in fake.calls_to("contacts.batch_update") if call.status < 300
            for result in json.loads(call.answer)["results"]]


def on_the_contacts(fake: FakeHubSpot, ids: Iterable[str]) -> dict[str, dict[str, str | None]]:
    return {crm_id: {k: v for k, v in fake.records["contacts"][crm_id].properties.items() if k.startswith("hotlead_")}
            for crm_id in ids}


def alert_states(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(run_sql(conn, "SELECT status, count(*) FROM alert GROUP BY status").all())


def drain(outbox: Outbox) -> None:
    while outbox.deliver_due():
        pass


def test_250_scores_go_in_batches_of_100_onto_the_contacts(engine: Engine, fake: FakeHubSpot, clock: Clock) -> None:
    contacts = fake.add_contacts(250)
    connector = connect(fake, clock)
    connector.ensure_fields()
    queue(engine, contacts)
    drain(Outbox(engine, {"hubspot": channel(connector)}, clock=lambda: NOW))
    calls = fake.calls_to("contacts.batch_update")
    assert [len(call.params["inputs"]) for call in calls] == [100, 100, 50] and {c.status for c in calls} == {200}
    assert sorted(written(fake)) == sorted(contacts) and alert_states(engine) == {"sent": 250}
    assert on_the_contacts(fake, contacts) == {crm_id: {
        "hotlead_score": str(n % 101), "hotlead_band": BANDS[n % 3], "hotlead_scored_at": "2026-11-30T22:15:30.250Z",
        "hotlead_reasons": f"Visited pricing {n}×\nReplied within a day\nVP title"}
        for n, crm_id in enumerate(contacts)}
    sent = calls[0].params["inputs"][0]["properties"]["hotlead_scored_at"]
    assert sent == str(int(SCORED.timestamp() * 1000)) and clock.sleeps == []  # a datetime as epoch milliseconds


@pytest.mark.parametrize("whole_batch", [False, True], ids=["207 as documented", "400 for the whole batch"])
def test_a_deleted_contact_fails_alone(engine: Engine, fake: FakeHubSpot, clock: Clock, whole_batch: bool) -> None:
    contacts = fake.add_contacts(30)
    connector = connect(fake, clock)
    connector.ensure_fields()
    fake.archive("contacts", [contacts[7]])
    fake.missing_ids_fail_batch = whole_batch
    queue(engine, contacts)
    drain(Outbox(engine, {"hubspot": channel(connector)}, clock=lambda: NOW))
    calls = fake.calls_to("contacts.batch_update")
    assert [call.status for call in calls] == ([400, 200] if whole_batch else [207])
    assert sorted(written(fake)) == sorted(contacts[:7] + contacts[8:])  # the rest written, once
    assert alert_states(engine) == {"sent": 29, "failed": 1}
    with engine.connect() as conn:
        error = run_sql(conn, "SELECT last_error FROM alert WHERE status = 'failed'").scalar_one()
    assert error.startswith("HubSpot refused the contact (") and "may be deleted or not exist" in error


def test_a_429_in_the_middle_pauses_for_retry_after_and_loses_nothing(engine: Engine, fake: FakeHubSpot,
                                                                     clock: Clock) -> None:
    contacts = fake.add_contacts(250)
    connector = connect(fake, clock)
    connector.ensure_fields()
    queue(engine, contacts)
    now = [NOW]
    outbox = Outbox(engine, {"hubspot": channel(connector)}, clock=lambda: now[0])
    fake.rate_limit_at(2, retry_after=30)  # the second batch update
    assert outbox.deliver_due() == 100
    assert outbox.deliver_due() == 0 and [c.status for c in fake.calls_to("contacts.batch_update")] == [200, 429]
    now[0] += timedelta(seconds=29)
    assert outbox.deliver_due() == 0 and len(fake.calls_to("contacts.batch_update")) == 2  # not before 30 s
    now[0] += timedelta(seconds=2)
    drain(outbox)
    assert [c.status for c in fake.calls_to("contacts.batch_update")] == [200, 429, 200, 200]
    assert sorted(written(fake)) == sorted(contacts) and alert_states(engine) == {"sent": 250}
    assert clock.sleeps == []  # the outbox waited, not the connector


def test_an_outage_then_recovery_writes_each_score_once(engine: Engine, fake: FakeHubSpot, clock: Clock) -> None:
    contacts = fake.add_contacts(250)
    connector = connect(fake, clock)
    connector.ensure_fields()
    queue(engine, contacts)
    now = [NOW]
    outbox = Outbox(engine, {"hubspot": channel(connector)}, clock=lambda: now[0])
    fake.down = True
    for _ in range(20):  # 10 minutes of a HubSpot answering 503
        outbox.deliver_due()
        now[0] += timedelta(seconds=30)
    assert fake.refused >= 3 and written(fake) == [] and alert_states(engine) == {"queued": 250}
    fake.down = False
    now[0] += timedelta(seconds=30)
    drain(outbox)
    assert sorted(written(fake)) == sorted(contacts)  # each once: nothing lost, nothing twice
    assert alert_states(engine) == {"sent": 250} and clock.sleeps == []


def test_ensure_fields_creates_the_group_and_four_properties_once(fake: FakeHubSpot, clock: Clock) -> None:
    connector = connect(fake, clock)
    assert connector.ensure_fields() == [f"contacts.{f.name}: created" for f in FIELDS]
    assert connector.ensure_fields() == [f"contacts.{f.name}: exists" for f in FIELDS]
    assert len(fake.calls_to("contacts.create_group")) == 1 and len(fake.calls_to("contacts.create_property")) == 4
    assert fake.groups["hotlead"]["label"] == "Hotlead"
    made = {name: (p["type"], p["fieldType"], p["groupName"], [o["value"] for o in p["options"]])
            for name, p in fake.properties.items() if name.startswith("hotlead_")}
    assert made == {"hotlead_score": ("number", "number", "hotlead", []),
                    "hotlead_band": ("enumeration", "select", "hotlead", ["hot", "warm", "cold"]),
                    "hotlead_reasons": ("string", "textarea", "hotlead", []),
                    "hotlead_scored_at": ("datetime", "date", "hotlead", [])}


def test_without_the_schema_scope_ensure_fields_gives_the_steps_by_hand(clock: Clock) -> None:
    with FakeHubSpot(TOKEN, scopes=READ_SCOPES | {"crm.objects.contacts.write"}, clock=clock) as fake:
        lines = connect(fake, clock).ensure_fields()
        assert [call.status for call in fake.calls_to("contacts.create_group")] == [403]
        assert not any(name.startswith("hotlead") for name in fake.properties)
    assert all(f"contacts.{f.name}: missing: the private app lacks the scope crm.schemas.contacts.write" in line
               for f, line in zip(FIELDS, lines, strict=False))
    steps = "\n".join(lines)
    assert "Settings → Data Management → Properties → Contact properties → Create property" in steps
    for label, kind, name in [("Hotlead score", "Number", "hotlead_score"),
                              ("Hotlead band", "Dropdown select, with the options hot, warm and cold", "hotlead_band"),
                              ("Hotlead reasons", "Multi-line text", "hotlead_reasons"),
                              ("Hotlead scored at", "Date and time picker", "hotlead_scored_at")]:
        assert f"  {label}: field type {kind}; internal name {name}" in lines


def test_connect_without_the_write_scope_says_so_and_connects_nothing(run: Callable[..., Result], engine: Engine,
                                                                       clock: Clock) -> None:
    with FakeHubSpot(TOKEN, scopes=READ_SCOPES, clock=clock) as fake:
        said = run("connect", "hubspot", env={"HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_API_URL": fake.url})
        assert not fake.calls_to("contacts.create_group")  # nothing set up in HubSpot either
    assert said.exit_code == 1 and said.output.count("\n") == 1 and TOKEN not in said.output
    assert "lacks the scope crm.objects.contacts.write: tick it in HubSpot under Settings > Integrations" in said.output
    with engine.connect() as conn:
        assert run_sql(conn, "SELECT count(*) FROM meta WHERE key = 'crm_connected'").scalar_one() == 0


def test_whole_request_failures_raise_one_line_without_waiting(clock: Clock) -> None:
    with FakeHubSpot(TOKEN, scopes=READ_SCOPES, clock=clock) as fake:  # no write scope
        contact = fake.add_contacts(1)[0]
        with pytest.raises(CrmError, match=r"\(403, missing crm\.objects\.contacts\.write\): check "
                                           r"HUBSPOT_ACCESS_TOKEN and the private app's scope crm\.objects"):
            connect(fake, clock).write_scores([update(contact, 1)])
        fake.scopes |= WRITE
        with pytest.raises(CrmError, match=r'^HubSpot refused to write the scores \(400\): Property "hotlead_score" '
                                           r'does not exist; Property "hotlead_band" .* \(run `hotlead connect'):
            connect(fake, clock).write_scores([update(contact, 1)])  # the properties were never made
        connect(fake, clock).ensure_fields()
        with pytest.raises(CrmError, match=r"refused the access token \(401\)"):
            connect(fake, clock, token="pat-na1-revoked").write_scores([update(contact, 1)])
        fake.rate_limit_at(1, retry_after=7)
        with pytest.raises(HubSpotError, match="asks to wait 7 s") as limited:
            connect(fake, clock).write_scores([update(contact, 1)])
        assert limited.value.retry_after == 7.0
        fake.down = True
        with pytest.raises(HubSpotError, match=r"^HubSpot is unavailable: 503 .*\(one try to write the scores\)$") \
                as down:
            connect(fake, clock).write_scores([update(contact, 1)])
        assert down.value.retry_after is None and clock.sleeps == []
    with pytest.raises(ValueError, match="at most 100"):
        connect(fake, clock).write_scores([update(str(n), n) for n in range(101)])


def test_contacts_written_back_come_back_to_the_next_sync_unchanged(engine: Engine, fake: FakeHubSpot,
                                                                     clock: Clock) -> None:
    contacts = fake.add_contacts(300)
    connector = connect(fake, clock)
    connector.ensure_fields()
    stages = Stages(frozenset({"closedwon"}), frozenset({"closedlost"}))
    assert sync(engine, connector, stages)["objects"]["contacts"]["created"] == 300
    assert connector.write_scores([update(crm_id, n) for n, crm_id in enumerate(contacts[:100])]) == dict.fromkeys(
        contacts[:100])
    again = sync(engine, connector, stages)["objects"]["contacts"]  # HubSpot moved their lastmodifieddate
    assert (again["read"], again["unchanged"], again["updated"], again["created"]) == (100, 100, 0, 0)
    assert sync(engine, connector, stages)["objects"]["contacts"]["read"] == 0  # and once only: no loop


def test_a_contact_the_search_finds_late_is_read_in_the_look_back_window(engine: Engine, fake: FakeHubSpot,
                                                                        clock: Clock) -> None:
    """HubSpot's search index lags behind its writes: a contact can be searchable only after a later one was read.
    Its lastmodifieddate is then before the cursor; the next sync's look-back finds it, counting nothing else."""
    fake.add_contacts(300)
    connector = connect(fake, clock)
    stages = Stages(frozenset({"closedwon"}), frozenset({"closedlost"}))
    sync(engine, connector, stages)
    with engine.connect() as conn:
        reached = datetime.fromisoformat(run_sql(conn, "SELECT cursor FROM crm_cursor WHERE kind = 'contacts'"
                                                 ).scalar_one())
    late = fake.add("contacts", at=reached - timedelta(seconds=90), firstname="Late", lastname="Indexed",
                    email="late@example.com")
    assert sync(engine, connector, stages)["objects"]["contacts"]["read"] == 0  # no look-back: never read
    found = sync(engine, connector, stages, lookback=timedelta(minutes=10))["objects"]["contacts"]
    assert (found["read"], found["created"], found["rechecked"]) == (1, 1, 300)  # 300 s of contacts, one a second
    with engine.connect() as conn:
        assert run_sql(conn, "SELECT name FROM lead WHERE external_id = ?", (late,)).scalar_one() == "Late Indexed"


@pytest.mark.parametrize("new_id", [False, True], ids=["into the primary", "under a new id"])
def test_merged_contacts_become_one_lead_with_both_histories(engine: Engine, fake: FakeHubSpot, clock: Clock,
                                                             new_id: bool) -> None:
    """A contact merged into another is found no more; the one that remains names it in hs_merged_object_ids:
    its lead's messages, activity and deals go to the remaining contact's lead (one lead, not two)."""
    primary, secondary = fake.add_contacts(2)
    fake.add("emails", contacts=[primary], hs_timestamp="2026-02-01T10:00:00Z", hs_email_direction="INCOMING_EMAIL",
             hs_email_text="Can you send pricing?")
    fake.add("calls", contacts=[secondary], hs_timestamp="2026-02-02T10:00:00Z", hs_call_body="Budget approved.")
    connector = connect(fake, clock)
    stages = Stages(frozenset({"closedwon"}), frozenset({"closedlost"}))
    sync(engine, connector, stages)
    with engine.connect() as conn:
        before = dict(run_sql(conn, "SELECT external_id, id FROM lead").all())
    kept = fake.merge(primary, secondary, new_id=new_id)
    merged = sync(engine, connector, stages)["objects"]
    assert merged["contacts"]["read"] == (3 if new_id else 2) and merged["contacts"]["refused"] == 0
    assert merged["contacts"]["created"] == 0  # no lead made: the merged ones carried over
    with engine.connect() as conn:
        after = dict(run_sql(conn, "SELECT external_id, id FROM lead").all())
        texts = run_sql(conn, "SELECT m.text FROM message m JOIN lead l ON l.id = m.lead_id WHERE l.external_id = ? "
                              "ORDER BY m.text", (kept,)).scalars().all()
    assert after == {kept: before[primary]}
    assert texts == ["Budget approved.", "Can you send pricing?"]
    again = sync(engine, connector, stages)["objects"]["contacts"]
    assert again["read"] == 0  # a merge carried over once is not news


def test_an_archived_contact_leaves_play_and_comes_back_when_restored(engine: Engine, fake: FakeHubSpot,
                                                                       clock: Clock) -> None:
    """A contact deleted in HubSpot is archived: searches find it no more, the archived list does. Its lead stops
    being scored, listed and alerted (status deleted); a decided lead keeps its outcome; a restore brings it back."""
    contacts = fake.add_contacts(4)
    deal = fake.add("deals", contacts=[contacts[3]], dealstage="closedwon", amount="900",
                    closedate="2026-11-20T10:00:00Z")
    connector = connect(fake, clock)
    stages = Stages(frozenset({"closedwon"}), frozenset({"closedlost"}))
    sync(engine, connector, stages)
    fake.archive("contacts", [contacts[0], contacts[3]])
    gone = sync(engine, connector, stages)["objects"]["contacts"]
    assert (gone["read"], gone["updated"]) == (1, 1)  # the won one stays as it was: not counted

    def statuses() -> dict[str, str]:
        with engine.connect() as conn:
            return dict(run_sql(conn, "SELECT external_id, status FROM lead").all())

    assert statuses() == {contacts[0]: "deleted", contacts[1]: "open", contacts[2]: "open", contacts[3]: "won"}
    with engine.connect() as conn:
        in_play = {str(k) for k in run_sql(conn, "SELECT external_id FROM lead WHERE id IN ({})".format(
            ", ".join(str(i) for i in open_lead_ids(conn=conn)))).scalars()}
    assert in_play == {contacts[1], contacts[2]}
    assert sync(engine, connector, stages)["objects"]["contacts"]["read"] == 0  # once only
    record, _ = fake.archived["contacts"].pop(contacts[0])  # restored: found again, modified now
    fake.records["contacts"][contacts[0]] = record
    fake.touch("contacts", [contacts[0]], datetime(2026, 12, 1, tzinfo=UTC))
    back = sync(engine, connector, stages)["objects"]["contacts"]
    assert (back["read"], back["updated"]) == (1, 1) and statuses()[contacts[0]] == "open"
    assert deal in fake.records["deals"]


def test_a_first_sync_reads_no_archived_contact(engine: Engine, fake: FakeHubSpot, clock: Clock) -> None:
    kept, gone = fake.add_contacts(2)
    fake.archive("contacts", [gone])
    sync(engine, connect(fake, clock), Stages(frozenset(), frozenset()))
    assert not fake.calls_to("contacts.list")  # nothing of it to take out of play
    with engine.connect() as conn:
        assert run_sql(conn, "SELECT external_id FROM lead").scalars().all() == [kept]


# --- The Done-when, end to end through the CLI -------------------------------------------------------------

def newest_scores(engine: Engine) -> dict[str, dict[str, str]]:
    """Each scored HubSpot contact's newest score as write-back writes it."""
    with engine.connect() as conn:
        rows = run_sql(conn, "SELECT k.crm_id, s.probability, s.band, s.reasons, s.scored_at FROM score s JOIN "
                             "crm_link k ON k.crm = 'hubspot' AND k.kind = 'contacts' AND k.local_id = s.lead_id "
                             "WHERE s.id IN (SELECT max(id) FROM score GROUP BY lead_id)").all()
    found = {}
    for crm_id, probability, band, reasons, scored_at in rows:
        texts = [r["text"] for r in (json.loads(reasons) if isinstance(reasons, str) else reasons or [])][:3]
        moment = utc(scored_at)
        found[crm_id] = {"hotlead_score": str(round(100 * float(probability))), "hotlead_band": band,
                         "hotlead_reasons": "\n".join(texts), "hotlead_scored_at": iso(moment)}
    return found



def test_done_when_a_whole_portal_syncs_changes_sync_and_moved_scores_go_back(
        engine_name: str, db_url: str, run: Callable[..., Result], clock: Clock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's Done-when: 10,000 contacts, 2,000 companies, 3,000 deals and 50,000 engagements synced through
    the CLI, then 100 changes, then the moved scores written back, once with HubSpot down. Measured on a shared
    2-core machine (a benchmark beside it): 42 s on SQLite, 89 s on PostgreSQL (140 s before a page's references
    were read in one query each), so PostgreSQL runs it at a fifth of the size unless HOTLEAD_DONE_WHEN_FULL=1."""
    full = engine_name == "sqlite" or os.environ.get("HOTLEAD_DONE_WHEN_FULL") == "1"
    fraction = 1 if full else 5
    contacts, companies, deals, engagements = (count // fraction for count in (10_000, 2_000, 3_000, 50_000))
    now = datetime.now(UTC)
    original = sync_module.connector_for
    monkeypatch.setattr(sync_module, "connector_for",  # the CLI's connector waits on the test's clock
                        lambda name, settings, sleep=None: original(name, settings, sleep=clock.sleep, clock=clock))
    with FakeHubSpot(TOKEN, scopes=READ_SCOPES | WRITE, clock=clock) as fake:
        portal = fill(fake, now, contacts=contacts, companies=companies, deals=deals, engagements=engagements)
        env = {"HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_API_URL": fake.url, "HOTLEAD_NLP": "rules"}
        assert run("init", env=env).exit_code == 0
        connected = cli_json(run, "connect", "hubspot", env=env)
        assert connected["fields"] == [f"contacts.{f.name}: created" for f in FIELDS]

        # 1. the whole portal, a 429 (Retry-After) in the middle
        fake.rate_limit_at(engagements // 250, retry_after=3)
        first = cli_json(run, "sync", env=env)
        assert counts(first, "owners") == (20, 20, 0, 0, 0)
        assert counts(first, "companies") == (companies, companies, 0, 0, 0)
        assert counts(first, "contacts") == (contacts, contacts, 0, 0, 0)
        assert counts(first, "deals") == (deals, deals, 0, 0, 0)
        assert counts(first, "engagements") == (engagements, engagements, 0, 0, 0)
        assert first["crm"] == "hubspot" and first["seconds"] > 0 and first["written_back"]["queued"] == 0
        assert 3.0 in clock.sleeps and [call.status for call in fake.calls].count(429) == 1  # the planted one:
        # the searches are paced under HubSpot's 5 a second, never answered "secondly limit"
        engine = make_engine(db_url)
        with engine.connect() as conn:
            assert run_sql(conn, "SELECT count(*) FROM lead").scalar_one() == contacts

        # 2. a hundred records modified: only they are read again
        rng = random.Random(5)
        touched, reassigned = portal.contacts[:50], portal.contacts[50:80]
        for crm_id in touched:
            fake.change("contacts", crm_id)
        new_owner = {crm_id: rng.choice([o for o in portal.owners
                                         if o != fake.records["contacts"][crm_id].properties["hubspot_owner_id"]])
                     for crm_id in reassigned}
        for crm_id, owner in new_owner.items():
            fake.change("contacts", crm_id, hubspot_owner_id=owner)
        won = portal.open_deals[:20]
        for deal in won:
            fake.change("deals", deal, dealstage="closedwon", amount="25000", closedate=iso(now - timedelta(hours=2)))
        second = cli_json(run, "sync", env=env)
        assert counts(second, "contacts") == (80, 0, 30, 50, 0) and counts(second, "deals") == (20, 0, 20, 0, 0)
        assert [counts(second, kind)[0] for kind in ("owners", "companies", "engagements")] == [0, 0, 0]
        outcomes, owners = won_and_owned(engine, "hubspot")
        assert all(outcomes[portal.deal_contact[deal]] == 1 for deal in won)
        assert {crm_id: owners[crm_id] for crm_id in reassigned} == new_owner

        # 3. trained and scored: HubSpot gets exactly the moved scores, each once
        trained = cli_json(run, "train", env=env)
        assert trained["promoted"], trained
        before = len(written(fake))
        scored = cli_json(run, "score", env=env)
        expected = newest_scores(engine)
        back = scored["written_back"]
        assert back["queued"] == len(expected) and back["sent"] + back["waiting"] == len(expected)
        drained = cli_json(run, "sync", env=env)  # `score` sends 5,000 at most (50 outbox passes): sync sends the rest
        assert drained["written_back"]["sent"] == back["waiting"] and drained["written_back"]["waiting"] == 0
        assert counts(drained, "contacts") == (back["sent"], 0, 0, back["sent"], 0)  # its own writes: unchanged
        sent = written(fake)[before:]
        assert sorted(sent) == sorted(expected) and on_the_contacts(fake, expected) == expected

        # 4. HubSpot down while moved scores are written back: they wait, and the next sync sends them
        keen = sorted((p for p in portal.contacts if p in expected), key=lambda p: -portal.fit[p])[:60]
        for crm_id in keen:
            for hours in (30, 20, 3):
                fake.add("meetings", contacts=[crm_id], hs_timestamp=iso(now - timedelta(hours=hours)),
                         hs_meeting_body=KEEN[hours % len(KEEN)])
            fake.add("emails", contacts=[crm_id], hs_timestamp=iso(now - timedelta(hours=1)),
                     hs_email_direction="INCOMING_EMAIL", hs_email_text=KEEN[0])
        assert counts(cli_json(run, "sync", env=env), "engagements")[:2] == (240, 240)
        before = len(written(fake))
        fake.down = True
        offline = cli_json(run, "score", env=env)
        fake.down = False
        moved = {crm_id: score for crm_id, score in newest_scores(engine).items() if expected.get(crm_id) != score}
        assert offline["written"] > 0 and offline["written_back"] == {"queued": len(moved), "sent": 0,
                                                                      "waiting": len(moved)}
        assert len(written(fake)) == before and fake.refused >= 1
        with engine.begin() as conn:  # later: their backoff has passed
            run_sql(conn, "UPDATE alert SET next_attempt_at = ? WHERE status = 'queued'", (stamp(now),))
        later = cli_json(run, "sync", env=env)
        assert later["written_back"] == {"queued": 0, "sent": len(moved), "waiting": 0}
        assert sorted(written(fake)[before:]) == sorted(moved) and on_the_contacts(fake, moved) == moved
        engine.dispose()
