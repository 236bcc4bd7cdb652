"""The sync's writing side, on both engines, driven by a scripted connector (the connectors themselves are tested
against local fakes of the CRMs' APIs with the official clients): created, updated, unchanged and refused per
object, idempotent, atomic per page, resuming from its cursors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from bot.crm.records import OBJECTS, Company, Contact, Deal, Engagement, Kind, Owner, Page, Record, Refused
from bot.crm.sync import Stages, sync
from tests.bot.crm_checks import counts
from tests.conftest import run_sql

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
STAGES = Stages(frozenset({"closedwon"}), frozenset({"closedlost"}))


class Scripted:
    """A connector whose records are set by the test, each with its modified time (the records put together a
    millisecond apart, in order, so that no page ends inside a tie); pages of `size`, cursors ISO times."""

    name = "hubspot"

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self.records: dict[Kind, list[tuple[datetime, Record]]] = {}
        self.fail_after: int | None = None  # raise after this many pages (an outage mid-sync)
        self.asked: list[str | None] = []  # the `since` of each pull

    def put(self, kind: Kind, at: datetime, *records: Record) -> None:
        kept = [(t, r) for t, r in self.records.get(kind, []) if r.crm_id not in {n.crm_id for n in records}]
        put = [(at + timedelta(milliseconds=n), r) for n, r in enumerate(records)]
        self.records[kind] = sorted(kept + put, key=lambda pair: (pair[0], pair[1].crm_id))

    def check(self) -> str:
        return "scripted"

    def pages(self, kind: Kind, since: str | None) -> Iterator[Page]:
        self.asked.append(since)
        due = [(t, r) for t, r in self.records.get(kind, []) if since is None or t > datetime.fromisoformat(since)]
        for start in range(0, len(due), self.size):
            if self.fail_after is not None:
                if self.fail_after == 0:
                    raise ConnectionError("the CRM went away")
                self.fail_after -= 1
            chunk = due[start:start + self.size]
            yield Page(kind, [r for _t, r in chunk], chunk[-1][0].isoformat(), [t for t, _r in chunk])


def pipeline() -> Scripted:
    crm = Scripted()
    crm.put("owners", T0, Owner("o1", "Jordan Lee", "jordan@example.com"), Owner("o2", "Ana Ruiz", "ana@example.com"))
    crm.put("companies", T0, Company("c1", "Acme Corp", "acme.com", "software", 120, "DE"),
            Company("c2", "Globex", None, None, None, None))
    crm.put("contacts", T0, *(Contact(f"h{i}", f"Person {i}", T0 - timedelta(days=30), email=f"p{i}@acme.com",
                                      company_id="c1" if i % 2 else "c2", owner_id="o1") for i in range(5)))
    crm.put("deals", T0, Deal("d1", ("h1",), "closedwon", 12_000.0, T0), Deal("d2", ("h2",), "appointmentscheduled"))
    crm.put("engagements", T0,
            Engagement("e1", "h1", "email", T0 - timedelta(days=3), "inbound", "We need this live before Q1."),
            Engagement("e2", "h3", "call", T0 - timedelta(days=2), "outbound", "Discussed\x00 pricing."),
            Engagement("e3", "h9", "note", T0 - timedelta(days=1), "outbound", "Unknown contact"))
    return crm


def test_a_first_sync_creates_everything_and_a_second_changes_nothing(engine: Engine) -> None:
    crm = pipeline()
    first = sync(engine, crm, STAGES)
    assert first["crm"] == "hubspot" and set(first["objects"]) == {"owners", "companies", "contacts", "deals",
                                                                   "engagements"}
    assert counts(first, "contacts") == (5, 5, 0, 0, 0)
    assert counts(first, "companies") == (2, 2, 0, 0, 0)
    assert counts(first, "deals") == (2, 2, 0, 0, 0)
    assert counts(first, "engagements") == (3, 2, 0, 0, 1)
    assert first["objects"]["engagements"]["refusals"] == [{"crm_id": "e3", "why": "its contact h9 was not synced"}]
    with engine.connect() as conn:
        assert run_sql(conn, "SELECT count(*) FROM lead").scalar_one() == 5
        won = run_sql(conn, "SELECT o.converted, o.amount, l.status FROM outcome o JOIN lead l ON l.id = o.lead_id "
                            "WHERE l.external_id = 'h1'").one()
        assert tuple(won) == (1, 12_000.0, "won")
        assert run_sql(conn, "SELECT text FROM message ORDER BY text").scalars().all() == [
            "Discussed pricing.", "We need this live before Q1."]  # a NUL in CRM text is dropped, not a failed page
        assert run_sql(conn, "SELECT kind FROM activity ORDER BY kind").scalars().all() == ["call", "email_reply"]
    again = sync(engine, crm, STAGES)  # nothing modified since the cursors: nothing read
    assert all(counts(again, kind)[0] == 0 for kind in again["objects"])
    with engine.begin() as conn:  # every cursor forgotten: all read again, none changed
        run_sql(conn, "DELETE FROM crm_cursor")
    replay = sync(engine, crm, STAGES)
    assert counts(replay, "contacts") == (5, 0, 0, 5, 0) and counts(replay, "engagements")[1] == 0
    with engine.connect() as conn:
        assert run_sql(conn, "SELECT count(*) FROM message").scalar_one() == 2


def test_changed_records_only_are_read_a_won_deal_is_an_outcome_and_a_reassigned_rep_the_owner(
        engine: Engine) -> None:
    crm = pipeline()
    sync(engine, crm, STAGES)
    later = T0 + timedelta(hours=1)
    contact = next(r for _t, r in crm.records["contacts"] if r.crm_id == "h2")
    assert isinstance(contact, Contact)
    crm.put("contacts", later, replace(contact, owner_id="o2", title="CTO"))
    crm.put("deals", later, Deal("d2", ("h2",), "closedwon", 5_000.0, later))
    report = sync(engine, crm, STAGES)
    assert counts(report, "contacts") == (1, 0, 1, 0, 0) and counts(report, "deals") == (1, 0, 1, 0, 0)
    with engine.connect() as conn:
        owner, title, status = run_sql(conn, "SELECT r.name, l.title, l.status FROM lead l JOIN rep r ON "
                                             "r.id = l.owner_id WHERE l.external_id = 'h2'").one()
        assert (owner, title, status) == ("Ana Ruiz", "CTO", "won")
    crm.put("deals", later + timedelta(hours=1), Deal("d2", ("h2",), "qualifiedtobuy"))  # reopened
    assert counts(sync(engine, crm, STAGES), "deals") == (1, 0, 1, 0, 0)
    with engine.connect() as conn:
        assert run_sql(conn, "SELECT count(*) FROM outcome o JOIN lead l ON l.id = o.lead_id "
                             "WHERE l.external_id = 'h2'").scalar_one() == 0


def test_an_outage_mid_sync_keeps_the_pages_written_and_the_next_sync_resumes(engine: Engine) -> None:
    crm = pipeline()
    crm.fail_after = 3  # owners (1 page), companies (1 page), contacts' first page; then the CRM goes away
    with pytest.raises(ConnectionError):
        sync(engine, crm, STAGES)
    with engine.connect() as conn:
        assert run_sql(conn, "SELECT count(*) FROM lead").scalar_one() == 2  # one whole page, nothing half-written
        assert run_sql(conn, "SELECT kind FROM crm_cursor ORDER BY kind").scalars().all() == [
            "companies", "contacts", "owners"]
    crm.fail_after = None
    resumed = sync(engine, crm, STAGES)
    assert counts(resumed, "contacts") == (3, 3, 0, 0, 0) and counts(resumed, "owners")[0] == 0


def test_records_the_connector_could_not_read_are_refused_with_their_id(engine: Engine) -> None:
    crm = pipeline()
    crm.put("contacts", T0, Refused("h7", "no name and no email"))
    crm.put("deals", T0, Deal("d9", (), "closedwon"))
    report = sync(engine, crm, STAGES)
    assert report["objects"]["contacts"]["refusals"] == [{"crm_id": "h7", "why": "no name and no email"}]
    assert report["objects"]["deals"]["refusals"] == [{"crm_id": "d9", "why": "no associated contact: nothing "
                                                                               "to score"}]
    assert counts(report, "contacts") == (6, 5, 0, 0, 1)


def cursor_of(engine: Engine, kind: str) -> str:
    with engine.connect() as conn:
        return str(run_sql(conn, "SELECT cursor FROM crm_cursor WHERE kind = ?", (kind,)).scalar_one())


def test_a_record_that_shows_up_late_is_read_in_the_look_back_window_and_only_it_is_counted(engine: Engine) -> None:
    crm = pipeline()
    sync(engine, crm, STAGES)
    reached = cursor_of(engine, "contacts")
    late = datetime.fromisoformat(reached) - timedelta(minutes=3)  # committed after the sync read past it
    crm.put("contacts", late, Contact("h8", "Late Comer", T0, email="late@acme.com", company_id="c1"))
    crm.put("contacts", late + timedelta(seconds=1), Refused("h6", "no name and no email"))
    missed = sync(engine, crm, STAGES)  # no look-back: the cursor is past it, never read
    assert counts(missed, "contacts") == (0, 0, 0, 0, 0)
    report = sync(engine, crm, STAGES, lookback=timedelta(minutes=10))
    assert crm.asked[-5:] == [(datetime.fromisoformat(cursor_of(engine, kind)) - timedelta(minutes=10)).isoformat(
        timespec="milliseconds").replace("+00:00", "Z") for kind in OBJECTS]
    assert counts(report, "contacts") == (2, 1, 0, 0, 1)  # the late one; a refusal is reported while it is read
    assert report["objects"]["contacts"]["rechecked"] == 5  # read before, as they were: not counted
    assert all(counts(report, kind)[0] == 0 for kind in ("owners", "companies", "deals"))
    assert counts(report, "engagements") == (1, 0, 0, 0, 1)  # e3, about a contact never synced, still refused
    assert cursor_of(engine, "contacts") == reached  # a look-back never moves the cursor back
    again = sync(engine, crm, STAGES, lookback=timedelta(minutes=10))
    assert counts(again, "contacts") == (1, 0, 0, 0, 1) and again["objects"]["contacts"]["rechecked"] == 6
    with engine.connect() as conn:
        assert run_sql(conn, "SELECT name FROM lead WHERE external_id = 'h8'").scalar_one() == "Late Comer"


def test_a_change_committed_late_is_an_update(engine: Engine) -> None:
    crm = pipeline()
    sync(engine, crm, STAGES)
    late = datetime.fromisoformat(cursor_of(engine, "deals")) - timedelta(minutes=1)
    crm.put("deals", late, Deal("d2", ("h2",), "closedlost", None, late))
    report = sync(engine, crm, STAGES, lookback=timedelta(minutes=10))
    assert counts(report, "deals") == (1, 0, 1, 0, 0) and report["objects"]["deals"]["rechecked"] == 1
    with engine.connect() as conn:
        assert run_sql(conn, "SELECT l.status FROM lead l WHERE l.external_id = 'h2'").scalar_one() == "lost"


def test_a_full_sync_finds_an_association_no_modified_time_dates(engine: Engine) -> None:
    crm = pipeline()
    crm.put("deals", T0 - timedelta(days=1), Deal("d3", (), "closedwon", 9_000.0, T0))
    assert sync(engine, crm, STAGES)["objects"]["deals"]["refused"] == 1  # no contact yet: nothing to score
    crm.records["deals"] = [(t, Deal("d3", ("h4",), "closedwon", 9_000.0, T0) if r.crm_id == "d3" else r)
                            for t, r in crm.records["deals"]]  # associated a day later: its modified time stays
    assert counts(sync(engine, crm, STAGES, lookback=timedelta(minutes=10)), "deals") == (0, 0, 0, 0, 0)
    cursors = {kind: cursor_of(engine, kind) for kind in OBJECTS}
    full = sync(engine, crm, STAGES, full=True)
    assert counts(full, "deals") == (1, 1, 0, 0, 0) and full["objects"]["deals"]["rechecked"] == 2
    assert counts(full, "contacts") == (0, 0, 0, 0, 0) and full["objects"]["contacts"]["rechecked"] == 5
    assert {kind: cursor_of(engine, kind) for kind in OBJECTS} == cursors  # a full read moves no cursor back
    with engine.connect() as conn:
        assert run_sql(conn, "SELECT l.status FROM lead l WHERE l.external_id = 'h4'").scalar_one() == "won"


def test_a_contacts_seniority_is_read_from_its_title_and_a_missing_title_keeps_it(engine: Engine) -> None:
    crm = pipeline()
    crm.put("contacts", T0, Contact("h5", "Vera Vance", T0, email="vera@acme.com", title="Vice President, Sales"),
            Contact("h6", "Nico Null", T0, email="nico@acme.com"))
    sync(engine, crm, STAGES)
    with engine.begin() as conn:
        levels = dict(run_sql(conn, "SELECT external_id, seniority FROM lead WHERE external_id IN ('h5', 'h6')").all())
        assert levels == {"h5": "vp", "h6": None}
        run_sql(conn, "UPDATE lead SET seniority = 'director' WHERE external_id = 'h6'")  # as a CSV import gave it
    later = T0 + timedelta(hours=1)
    crm.put("contacts", later, Contact("h5", "Vera Vance", T0, email="vera@acme.com", title="CEO"),
            Contact("h6", "Nico Null", T0, email="nico@acme.com", phone="+4915112345678"))
    assert counts(sync(engine, crm, STAGES), "contacts") == (2, 0, 2, 0, 0)
    with engine.connect() as conn:
        levels = dict(run_sql(conn, "SELECT external_id, seniority FROM lead WHERE external_id IN ('h5', 'h6')").all())
    assert levels == {"h5": "c_level", "h6": "director"}  # no title in the CRM: the level given before stays


def test_progress_is_told_after_every_page_with_the_counts_so_far(engine: Engine) -> None:
    crm = pipeline()  # pages of two records
    told: list[tuple[str, int]] = []
    sync(engine, crm, STAGES, progress=lambda kind, counts: told.append((kind, counts.read)))
    assert told == [("owners", 2), ("companies", 2), ("contacts", 2), ("contacts", 4), ("contacts", 5),
                    ("deals", 2), ("engagements", 2), ("engagements", 3)]


def test_rows_the_team_had_before_the_first_sync_are_linked_not_doubled(engine: Engine) -> None:
    """A CSV import made the lead (with the CRM's id as its external id), the rep and the account: the first sync
    links them, so that write-back addresses the CRM record, and makes no second lead, rep or account."""
    with engine.begin() as conn:
        rep = run_sql(conn, "INSERT INTO rep (name, role, email, timezone) VALUES ('J. Lee', 'rep', "
                            "'JORDAN@example.com', 'UTC') RETURNING id").scalar_one()
        account = run_sql(conn, "INSERT INTO account (name, extra) VALUES ('Acme Corp', '{}') RETURNING id"
                          ).scalar_one()
        lead = run_sql(conn, "INSERT INTO lead (external_id, name, status, attributes, created_at) VALUES "
                             "('h1', 'Person 1', 'open', '{}', ?) RETURNING id", (T0.replace(tzinfo=None),)
                       ).scalar_one()
    crm = pipeline()
    first = sync(engine, crm, STAGES)
    assert counts(first, "contacts")[1] == 4 and counts(first, "owners")[1] == 1  # h1 and o1 were there
    with engine.connect() as conn:
        links = {(kind, crm_id): local for kind, crm_id, local in run_sql(
            conn, "SELECT kind, crm_id, local_id FROM crm_link WHERE kind IN ('contacts', 'owners', 'companies')")}
        assert (links[("contacts", "h1")], links[("owners", "o1")], links[("companies", "c1")]) == (lead, rep, account)
        assert run_sql(conn, "SELECT count(*) FROM lead").scalar_one() == 5
        assert run_sql(conn, "SELECT owner_id, account_id FROM lead WHERE id = ?", (lead,)).one() == (rep, account)
