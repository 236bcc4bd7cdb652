"""Salesforce write-back against the local fake, through the real simple-salesforce and the real outbox: scores in
requests of 200 (sObject Collections), a refused record failing alone, outages and an expired session losing
nothing, the org's API limit and missing score fields waiting an hour; `ensure_fields` creating the fields once
or saying the manual steps; and `hotlead connect` + `hotlead sync` end to end."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from click.testing import Result
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError
from sqlalchemy import Engine, text

from bot.config import Settings
from bot.crm.records import ScoreUpdate
from bot.crm.salesforce import SalesforceConnector
from bot.crm.salesforce_fields import REFUSED_WAIT_S, SCORE_FIELDS, SalesforceRefused
from bot.crm.writeback import KIND, channel
from bot.fakes import FakeSalesforce
from bot.push.outbox import Outbox, enqueue
from storage.db import json_dumps
from storage.history import stamp
from tests.conftest import run_sql

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
OBJECTS = ("Lead", "Contact")


class Ticking:
    """A clock a second further on at each reading: every record changes at an instant of its own."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def salesforce(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSalesforce]:
    with FakeSalesforce(client_id="3MVG9.hotlead", client_secret="consumer-secret", clock=Ticking()) as fake:
        for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):  # trust the fake's own certificate
            monkeypatch.setenv(name, fake.ca_file)
        yield fake


def connect(fake: FakeSalesforce) -> tuple[SalesforceConnector, list[float]]:
    slept: list[float] = []
    return SalesforceConnector(Settings.from_env(fake.env()), sleep=slept.append), slept


def ready(fake: FakeSalesforce) -> tuple[SalesforceConnector, list[float]]:
    """A connector on an org whose score fields exist and are granted to the API user."""
    connector, slept = connect(fake)
    connector.ensure_fields()
    fake.grant_field_access()
    fake.clear()
    return connector, slept


def update(crm_id: str, n: int) -> ScoreUpdate:
    return ScoreUpdate(crm_id, n % 101, ("hot", "warm", "cold")[n % 3],
                       f"Asked for a demo\nVisited pricing {n} times\nCompany of 120", T0 + timedelta(minutes=n))


def queue(engine: Engine, updates: list[ScoreUpdate]) -> None:
    """Write-backs queued as bot.crm.writeback queues them."""
    for n, u in enumerate(updates):
        enqueue(engine, kind=KIND, channel="salesforce", target="Lead", dedupe_key=f"{KIND}:salesforce:{n}",
                payload={"crm_id": u.crm_id, "score": u.score, "band": u.band, "reasons": u.reasons,
                         "scored_at": u.scored_at.isoformat()}, now=T0)


class Now:
    """The outbox's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def drain(outbox: Outbox) -> None:
    while outbox.deliver_due():
        pass


def statuses(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(run_sql(conn, "SELECT status, count(*) FROM alert GROUP BY status").all())


def written(fake: FakeSalesforce, record_id: str) -> tuple[Any, ...]:
    row = fake.records["Lead" if record_id.startswith("00Q") else "Contact"][record_id]
    return tuple(row.get(field.name) for field in SCORE_FIELDS)


def expected(u: ScoreUpdate) -> tuple[Any, ...]:
    return float(u.score), u.band, u.reasons, u.scored_at


def add_leads(fake: FakeSalesforce, count: int) -> list[str]:
    return [fake.add("Lead", LastName=f"Lead {i}", Company="Acme") for i in range(count)]


def test_450_scores_go_in_requests_of_200_and_land_on_the_leads(engine: Engine,
                                                                 salesforce: FakeSalesforce) -> None:
    connector, slept = ready(salesforce)
    updates = [update(lead, n) for n, lead in enumerate(add_leads(salesforce, 450))]
    queue(engine, updates)
    drain(Outbox(engine, {"salesforce": channel(connector)}, clock=Now()))
    requests = salesforce.calls_to("composite")
    assert [len(call.params["records"]) for call in requests] == [200, 200, 50]
    assert {call.params["allOrNone"] for call in requests} == {False}
    assert requests[0].params["records"][0] == {
        "attributes": {"type": "Lead"}, "id": updates[0].crm_id, "Hotlead_Score__c": 0, "Hotlead_Band__c": "hot",
        "Hotlead_Reasons__c": "Asked for a demo\nVisited pricing 0 times\nCompany of 120",
        "Hotlead_Scored_At__c": "2026-11-02T09:00:00.000Z"}
    assert all(written(salesforce, u.crm_id) == expected(u) for u in updates)
    assert statuses(engine) == {"sent": 450} and slept == []


def test_a_record_salesforce_refuses_fails_alone_and_leads_and_contacts_share_a_request(
        engine: Engine, salesforce: FakeSalesforce) -> None:
    connector, _ = ready(salesforce)
    leads = add_leads(salesforce, 4)
    contact = salesforce.add("Contact", LastName="Ruiz")
    salesforce.delete(leads[1])
    salesforce.convert(leads[2])  # converted since the sync read it
    updates = [update(record, n) for n, record in enumerate([leads[0], contact, leads[1], leads[2], leads[3]])]
    queue(engine, updates)
    drain(Outbox(engine, {"salesforce": channel(connector)}, clock=Now()))
    [request] = salesforce.calls_to("composite")
    assert [r["attributes"]["type"] for r in request.params["records"]] == ["Contact", "Lead", "Lead", "Lead",
                                                                            "Lead"]  # a chunk per object
    assert [written(salesforce, u.crm_id) == expected(u) for u in (updates[0], updates[1], updates[4])] == [True] * 3
    with engine.connect() as conn:
        failed = run_sql(conn, "SELECT last_error FROM alert WHERE status = 'failed'").scalars().all()
    assert sorted(failed) == ["CANNOT_UPDATE_CONVERTED_LEAD: cannot reference converted lead",
                                       "ENTITY_IS_DELETED: entity is deleted"]
    assert statuses(engine) == {"sent": 3, "failed": 2}


def test_an_outage_loses_nothing_and_each_record_is_written_once(engine: Engine,
                                                                  salesforce: FakeSalesforce) -> None:
    connector, slept = ready(salesforce)
    updates = [update(lead, n) for n, lead in enumerate(add_leads(salesforce, 250))]
    queue(engine, updates)
    now = Now()
    outbox = Outbox(engine, {"salesforce": channel(connector)}, clock=now)
    salesforce.down = True
    for _ in range(20):  # ten minutes of a Salesforce that answers 503 only
        outbox.deliver_due()
        now.now += timedelta(seconds=30)
    assert salesforce.refused > 3 and salesforce.calls_to("composite") == [] and slept == []
    assert statuses(engine) == {"queued": 250}
    salesforce.down = False
    for _ in range(20):  # the probe gets through, then the queue goes at once
        outbox.deliver_due()
        now.now += timedelta(seconds=30)
    ids = [record["id"] for call in salesforce.calls_to("composite") if call.status == 200
           for record in call.params["records"]]
    assert sorted(ids) == sorted(u.crm_id for u in updates)  # each once
    assert all(written(salesforce, u.crm_id) == expected(u) for u in updates)
    assert statuses(engine) == {"sent": 250}


def test_a_record_another_transaction_locks_retries_the_request_instead_of_failing_it(
        engine: Engine, salesforce: FakeSalesforce) -> None:
    connector, _ = ready(salesforce)
    updates = [update(lead, n) for n, lead in enumerate(add_leads(salesforce, 10))]
    queue(engine, updates)
    now = Now()
    outbox = Outbox(engine, {"salesforce": channel(connector)}, clock=now)
    salesforce.locked.add(updates[3].crm_id)  # a trigger or another integration holds its row
    outbox.deliver_due()
    assert statuses(engine) == {"queued": 10}
    salesforce.locked.clear()
    now.now += timedelta(seconds=10)
    drain(outbox)
    assert statuses(engine) == {"sent": 10} and all(written(salesforce, u.crm_id) == expected(u) for u in updates)


def test_an_expired_session_mid_write_logs_in_again_once(salesforce: FakeSalesforce) -> None:
    connector, slept = ready(salesforce)
    leads = add_leads(salesforce, 20)
    assert connector.write_scores([update(lead, n) for n, lead in enumerate(leads[:10])]) == \
        dict.fromkeys(leads[:10])
    salesforce.expire_session()
    assert connector.write_scores([update(lead, n) for n, lead in enumerate(leads[10:])]) == \
        dict.fromkeys(leads[10:])
    assert [call.status for call in salesforce.calls_to("composite")] == [200, 401, 200]
    assert len(salesforce.calls_to("token")) == 1 and slept == []  # ready() logged in before clear()


def test_the_orgs_used_up_api_limit_pauses_the_write_back_an_hour(engine: Engine,
                                                                   salesforce: FakeSalesforce) -> None:
    connector, _ = ready(salesforce)
    updates = [update(lead, n) for n, lead in enumerate(add_leads(salesforce, 30))]
    queue(engine, updates)
    now = Now()
    outbox = Outbox(engine, {"salesforce": channel(connector)}, clock=now)
    salesforce.exceed_api_limit(calls=1)
    with pytest.raises(SalesforceRefused) as refused:
        connector.write_scores(updates[:1])
    assert refused.value.retry_after == REFUSED_WAIT_S == 3600
    salesforce.exceed_api_limit(calls=1)
    outbox.deliver_due()
    now.now += timedelta(minutes=59)
    outbox.deliver_due()
    assert [call.status for call in salesforce.calls_to("composite")] == [403, 403]  # no try within the hour
    now.now += timedelta(minutes=2)
    drain(outbox)
    assert statuses(engine) == {"sent": 30} and all(written(salesforce, u.crm_id) == expected(u) for u in updates)


def test_score_fields_the_user_cannot_see_wait_for_the_admin_instead_of_failing(engine: Engine,
                                                                                 salesforce: FakeSalesforce) -> None:
    connector, _ = connect(salesforce)
    connector.ensure_fields()  # created, but no field-level security yet
    updates = [update(lead, n) for n, lead in enumerate(add_leads(salesforce, 5))]
    queue(engine, updates)
    now = Now()
    outbox = Outbox(engine, {"salesforce": channel(connector)}, clock=now)
    outbox.deliver_due()
    [refused] = salesforce.calls_to("composite")
    assert refused.status == 400 and json.loads(refused.answer)[0]["errorCode"] == "INVALID_FIELD"
    with engine.connect() as conn:
        errors = set(run_sql(conn, "SELECT last_error FROM alert WHERE status = 'queued'").scalars())
    assert len(errors) == 1 and "give the integration user Edit access to them (field-level security)" in \
        errors.pop()
    salesforce.grant_field_access()  # the admin's step
    now.now += timedelta(seconds=REFUSED_WAIT_S + 1)
    drain(outbox)
    assert statuses(engine) == {"sent": 5} and all(written(salesforce, u.crm_id) == expected(u) for u in updates)


def test_ensure_fields_creates_the_fields_once_and_says_how_to_make_them_visible(salesforce: FakeSalesforce) -> None:
    connector, _ = connect(salesforce)
    lines = connector.ensure_fields()
    names = [f"{sobject}.{field.name}" for sobject in OBJECTS for field in SCORE_FIELDS]
    assert [line.split(":")[0] for line in lines] == names
    assert lines[0] == ("Lead.Hotlead_Score__c: created; Hotlead writes it once the integration user may see it: "
                        "Setup > Object Manager > Lead > Fields & Relationships > Hotlead score > Set Field-Level "
                        "Security: Visible, not Read-Only, for the integration user's profile")
    created = salesforce.calls_to("tooling")
    assert [call.params["FullName"] for call in created] == names and {c.status for c in created} == {201}
    assert created[2].params["Metadata"] == {"label": "Hotlead reasons", "description": "Written by Hotlead's "
                                             "score write-back", "type": "LongTextArea", "length": 32_768,
                                             "visibleLines": 3}
    assert salesforce.custom_fields["Contact"]["Hotlead_Score__c"]["precision"] == 3
    # not granted yet: describe hides them, and creating them again says they are there
    assert all(line.endswith("exists, but the integration user cannot see it: Setup > Object Manager > "
                             f"{name.split('.')[0]} > Fields & Relationships > {field.label} > Set Field-Level "
                             "Security: Visible, not Read-Only, for the integration user's profile")
               for line, name, field in zip(connector.ensure_fields(), names, SCORE_FIELDS * 2, strict=True))
    assert {call.status for call in salesforce.calls_to("tooling")[8:]} == {400}  # DUPLICATE_DEVELOPER_NAME
    salesforce.grant_field_access()
    assert connector.ensure_fields() == [f"{name}: exists" for name in names]
    assert len(salesforce.calls_to("tooling")) == 16 and len(salesforce.calls_to("describe")) == 6


def test_without_customize_application_ensure_fields_says_the_manual_steps(salesforce: FakeSalesforce) -> None:
    salesforce.customize_application = False
    connector, _ = connect(salesforce)
    lines = connector.ensure_fields()
    assert len(lines) == 8 and all(": create it by hand (INSUFFICIENT_ACCESS_OR_READONLY: insufficient access "
                                   "rights on object id; creating fields takes Customize Application)" in line
                                   for line in lines)
    assert lines[0].endswith("Setup > Object Manager > Lead > Fields & Relationships > New > Number, Length 3, "
                             "Decimal Places 0, Field Label 'Hotlead score', Field Name Hotlead_Score; at Establish "
                             "field-level security make it Visible for the integration user's profile")
    assert "New > Text Area (Long), Length 32768, 3 visible lines, Field Label 'Hotlead reasons'" in lines[6]
    assert salesforce.custom_fields == {name: {} for name in salesforce.custom_fields}


def test_the_fake_refuses_writes_salesforce_refuses(salesforce: FakeSalesforce) -> None:
    ready(salesforce)
    lead, converted = add_leads(salesforce, 2)
    contact = salesforce.add("Contact", LastName="Ruiz")
    form = {"grant_type": "password", "client_id": "3MVG9.hotlead", "client_secret": "consumer-secret",
            "username": "hotlead@example.com", "password": "passwordtoken"}
    token = httpx.post(f"{salesforce.login_url}/services/oauth2/token", data=form).json()
    api = Salesforce(instance_url=token["instance_url"], session_id=token["access_token"])

    def patch(*records: dict[str, Any], all_or_none: bool = False) -> Any:
        body = {"allOrNone": all_or_none, "records": list(records)}
        try:
            return api.restful("composite/sobjects", method="PATCH", json=body)
        except SalesforceError as error:
            return error.status, error.content[0]["errorCode"]

    def score(record_id: str, **fields: Any) -> dict[str, Any]:
        return {"attributes": {"type": "Lead"}, "id": record_id, "Hotlead_Score__c": 50, **fields}

    def codes(results: list[dict[str, Any]]) -> list[str | None]:
        return [r["errors"][0]["statusCode"] if r["errors"] else None for r in results]

    assert patch(*[score(lead)] * 201) == (400, "EXCEEDED_ID_LIMIT")
    assert patch({"id": lead, "Hotlead_Score__c": 50}) == (400, "INVALID_TYPE")
    assert patch(score(lead, Budget__c=5)) == (400, "INVALID_FIELD")
    assert patch(score(lead, Hotlead_Scored_At__c="yesterday")) == (400, "JSON_PARSER_ERROR")
    salesforce.convert(converted)
    assert codes(patch(score(lead, Hotlead_Band__c="x" * 11), score(lead, Hotlead_Score__c=1000),
                       score(contact), score(lead[:15] + "AAA"), score(converted), score(lead, Name="x"),
                       {"attributes": {"type": "Lead"}, "Hotlead_Score__c": 1})) == [
        "STRING_TOO_LONG", "NUMBER_OUTSIDE_VALID_RANGE", "MALFORMED_ID", "MALFORMED_ID",
        "CANNOT_UPDATE_CONVERTED_LEAD", "INVALID_FIELD_FOR_INSERT_UPDATE", "MISSING_ARGUMENT"]
    assert codes(patch(score(lead, Hotlead_Score__c=7), score(converted), all_or_none=True)) == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK", "CANNOT_UPDATE_CONVERTED_LEAD"]
    assert salesforce.records["Lead"][lead].get("Hotlead_Score__c") is None  # rolled back
    assert codes(patch(score(lead[:14] + "Z"))) == ["INVALID_CROSS_REFERENCE_KEY"]
    assert patch(score(lead[:15], hotlead_score__c=7)) == [{"id": lead, "success": True, "errors": []}]
    assert salesforce.records["Lead"][lead]["Hotlead_Score__c"] == 7.0  # field names in any case, 15-char Ids
    with pytest.raises(SalesforceError) as missing:
        api.restful("sobjects/Leads/describe")
    assert missing.value.status == 404
    with pytest.raises(SalesforceError) as sizeless:
        api.restful("tooling/sobjects/CustomField", method="POST",
                    json={"FullName": "Lead.Size__c", "Metadata": {"label": "Size", "type": "Text"}})
    assert sizeless.value.content[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"


def accounts_with_deals(fake: FakeSalesforce) -> None:
    """An org of 150 Leads and 50 Contacts, 30 of them with an Opportunity: 10 won, 10 lost, 10 open."""
    owner = fake.add("User", FirstName="Jordan", LastName="Lee", Email="jordan@acme.com", Username="jordan@acme")
    account = fake.add("Account", Name="Globex", Website="globex.com", OwnerId=owner)
    for i in range(150):
        fake.add("Lead", LastName=f"Lead {i}", Company=f"Company {i % 20}", Email=f"lead{i}@example.com",
                 OwnerId=owner)
    contacts = [fake.add("Contact", LastName=f"Contact {i}", AccountId=account, Email=f"c{i}@globex.com",
                         OwnerId=owner) for i in range(50)]
    for i, stage in enumerate(["Closed Won"] * 10 + ["Closed Lost"] * 10 + ["Prospecting"] * 10):
        deal = fake.add("Opportunity", Name=f"Deal {i}", StageName=stage, Amount=1000 * (i + 1),
                        CloseDate=date(2026, 10, 1) + timedelta(days=i), AccountId=account)
        fake.add("OpportunityContactRole", OpportunityId=deal, ContactId=contacts[i])
    fake.add("Task", WhoId=contacts[0], TaskSubtype="Email", Description="Can we start in January?")


def add_scores(engine: Engine, count: int) -> None:
    """A score for the first `count` synced Salesforce leads, as `hotlead score` would append."""
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO model_version (version, algorithm, params, features, trained_at, metrics, "
                          "artifact, status) VALUES ('v1', 'xgboost', '{}', '{}', :at, '{}', :blob, 'active')"),
                     {"at": stamp(T0), "blob": b""})
        leads = conn.execute(text("SELECT local_id FROM crm_link WHERE crm = 'salesforce' AND kind = 'contacts' "
                                  "ORDER BY crm_id LIMIT :count"), {"count": count}).scalars().all()
        for n, lead in enumerate(leads):
            conn.execute(text(
                "INSERT INTO score (lead_id, model_version_id, scored_at, probability, percentile, band, reasons) "
                "SELECT :lead, id, :at, :p, 50.0, 'warm', :reasons FROM model_version WHERE version = 'v1'"),
                {"lead": lead, "at": stamp(T0), "p": n / 100,
                 "reasons": json_dumps([{"text": "Asked for a demo"}, {"text": "Visited pricing"}])})


def test_connect_then_sync_pulls_the_org_and_writes_the_moved_scores_back(
        run: Callable[..., Result], engine: Engine, salesforce: FakeSalesforce) -> None:
    accounts_with_deals(salesforce)
    env = salesforce.env()
    connected = run("connect", "salesforce", env=env)
    assert connected.exit_code == 0, connected.output
    assert "  Lead.Hotlead_Score__c: created; Hotlead writes it once" in connected.output
    salesforce.grant_field_access()
    first = run("sync", "--json", env=env)
    assert first.exit_code == 0, first.output
    report = json.loads(first.output)
    assert report["crm"] == "salesforce" and isinstance(report["seconds"], float)
    assert list(report["objects"]) == ["owners", "companies", "contacts", "deals", "engagements"]
    assert all({"read", "created", "updated", "unchanged", "refused"} <= set(counts)
               for counts in report["objects"].values())
    counts = {kind: (c["read"], c["created"], c["refused"]) for kind, c in report["objects"].items()}
    assert counts == {"owners": (1, 1, 0), "companies": (1, 1, 0), "contacts": (220, 220, 0),
                      "deals": (30, 30, 0), "engagements": (1, 1, 0)}  # 200 people and 20 Lead companies
    assert report["written_back"] == {"queued": 0, "sent": 0, "waiting": 0}
    with engine.connect() as conn:
        outcomes = dict(run_sql(conn, "SELECT converted, count(*) FROM outcome GROUP BY converted").all())
    assert outcomes == {1: 10, 0: 10}
    add_scores(engine, 60)
    second = json.loads(run("sync", "--json", env=env).output)
    assert second["written_back"] == {"queued": 60, "sent": 60, "waiting": 0}
    assert second["objects"]["contacts"]["read"] == 0
    scored = {i: row for i, row in salesforce.records["Lead"].items() if row.get("Hotlead_Score__c") is not None}
    scored |= {i: row for i, row in salesforce.records["Contact"].items() if row.get("Hotlead_Score__c") is not None}
    assert len(scored) == 60 and {row["Hotlead_Band__c"] for row in scored.values()} == {"warm"}
    assert {row["Hotlead_Reasons__c"] for row in scored.values()} == {"Asked for a demo\nVisited pricing"}
    # a write-back moves the records' SystemModstamp: the next sync reads them again, and nothing changes
    third = json.loads(run("sync", "--json", env=env).output)
    assert (third["objects"]["contacts"]["read"], third["objects"]["contacts"]["unchanged"]) == (60, 60)  # the 60
    # written (50 Contacts, 10 Leads); their Leads' companies come with the first Lead naming them in the page, here
    # Leads read again in the look-back window (all of this org was made in the last ten minutes): rechecked
    assert third["objects"]["contacts"]["rechecked"] == 160
    assert third["written_back"]["queued"] == 0


def test_a_record_committed_late_is_read_by_the_next_sync(run: Callable[..., Result], engine: Engine,
                                                          salesforce: FakeSalesforce) -> None:
    """A Salesforce transaction's SystemModstamp is when it started: one that commits after a sync read past that
    time shows up before the cursor. The CLI's sync reads HOTLEAD_CRM_LOOKBACK_MINUTES before it again."""
    accounts_with_deals(salesforce)
    env = salesforce.env()
    assert run("sync", "--crm", "salesforce", "--json", env=env).exit_code == 0
    with engine.connect() as conn:
        reached = datetime.fromisoformat(run_sql(conn, "SELECT cursor FROM crm_cursor WHERE kind = 'contacts'"
                                                 ).scalar_one())
    clock = salesforce.clock
    assert isinstance(clock, Ticking)
    resumed, clock.now = clock.now, reached - timedelta(minutes=4)
    late = salesforce.add("Lead", LastName="Late", Company="Initech", Email="late@initech.com")
    clock.now = resumed
    sync = ("sync", "--crm", "salesforce", "--json")
    missed = json.loads(run(*sync, env={**env, "HOTLEAD_CRM_LOOKBACK_MINUTES": "0"}).output)
    assert missed["objects"]["contacts"]["read"] == 0  # without a look-back it is never read
    found = json.loads(run(*sync, env=env).output)["objects"]["contacts"]  # the default look-back: 10 minutes
    assert (found["read"], found["created"]) == (2, 2)  # the Lead and its company, nothing else counted
    assert found["rechecked"] > 0
    said = run("sync", "--crm", "salesforce", env=env)  # the text report says what the window read again
    line = next(line for line in said.output.splitlines() if line.startswith("contacts"))
    assert said.exit_code == 0 and " read       0 " in line and f"(rechecked {found['rechecked'] + 2:,})" in line
    with engine.connect() as conn:
        assert run_sql(conn, "SELECT name FROM lead WHERE external_id = ?", (late,)).scalar_one() == "Late"


def lead_rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(run_sql(conn, "SELECT external_id, id FROM lead").all())


def texts_of(engine: Engine, lead_id: int) -> list[str]:
    with engine.connect() as conn:
        return list(run_sql(conn, "SELECT text FROM message WHERE lead_id = ? ORDER BY text", (lead_id,)).scalars())


def test_a_lead_converted_into_a_new_contact_goes_on_as_it_history_and_write_back_included(
        run: Callable[..., Result], engine: Engine, salesforce: FakeSalesforce) -> None:
    """Salesforce's lead conversion: the Lead becomes a Contact, which takes over its activity. The lead Hotlead
    scored goes on under the Contact's id (one lead, its messages kept), and its next score goes to the Contact."""
    owner = salesforce.add("User", LastName="Lee", Email="lee@acme.com", Username="lee@acme")
    lead = salesforce.add("Lead", FirstName="Ada", LastName="Byron", Company="Initech", Email="ada@initech.com",
                          Title="VP Finance", OwnerId=owner)
    salesforce.add("Task", WhoId=lead, TaskSubtype="Email", Description="Send the contract, we sign Friday.")
    env = salesforce.env()
    assert run("connect", "salesforce", env=env).exit_code == 0  # the score fields made, then granted
    salesforce.grant_field_access()
    sync = ("sync", "--crm", "salesforce", "--json")
    assert run(*sync, env=env).exit_code == 0
    before = lead_rows(engine)[lead]
    contact = salesforce.convert(lead)
    converted = json.loads(run(*sync, env=env).output)["objects"]
    assert (converted["contacts"]["created"], converted["contacts"]["refused"]) == (0, 0)
    assert converted["engagements"]["created"] == 0  # the Task moved to the Contact: nothing new
    rows = lead_rows(engine)
    assert lead not in rows and rows[contact] == before  # the same lead, now under the Contact's id
    assert texts_of(engine, before) == ["Send the contract, we sign Friday."]
    with engine.connect() as conn:
        assert run_sql(conn, "SELECT crm_id FROM crm_link WHERE kind = 'contacts' AND local_id = ?",
                       (before,)).scalars().all() == [contact]
    add_scores(engine, 10)
    scored = json.loads(run(*sync, env=env).output)["written_back"]
    assert scored == {"queued": 1, "sent": 1, "waiting": 0}
    assert salesforce.records["Contact"][contact]["Hotlead_Band__c"] == "warm"  # not the converted Lead


def test_a_lead_converted_into_a_contact_hotlead_has_is_merged_into_it(
        run: Callable[..., Result], engine: Engine, salesforce: FakeSalesforce) -> None:
    account = salesforce.add("Account", Name="Initech")
    contact = salesforce.add("Contact", LastName="Byron", AccountId=account, Email="ada@initech.com")
    lead = salesforce.add("Lead", LastName="Byron", Company="Initech", Email="ada.byron@initech.com")
    salesforce.add("Task", WhoId=lead, TaskSubtype="Call", CallType="Inbound", Description="Asked for a demo.")
    salesforce.add("Task", WhoId=contact, TaskSubtype="Email", Description="Pricing for 40 seats?")
    env = salesforce.env()
    sync = ("sync", "--crm", "salesforce", "--json")
    assert run(*sync, env=env).exit_code == 0
    ids = lead_rows(engine)
    with engine.begin() as conn:  # a rep's verdict on the Lead, before it was converted
        run_sql(conn, "INSERT INTO lead_action (lead_id, action, created_at) VALUES (?, 'hotter', ?)",
                (ids[lead], stamp(T0)))
    salesforce.convert(lead, contact_id=contact)  # a duplicate: converted into the Contact Salesforce had
    merged = json.loads(run(*sync, env=env).output)["objects"]
    assert merged["contacts"]["updated"] >= 1 and merged["contacts"]["refused"] == 0
    rows = lead_rows(engine)
    assert lead not in rows and rows[contact] == ids[contact]
    assert texts_of(engine, ids[contact]) == ["Asked for a demo.", "Pricing for 40 seats?"]
    with engine.connect() as conn:
        assert run_sql(conn, "SELECT count(*) FROM activity WHERE lead_id = ?", (ids[contact],)).scalar_one() == 2
        assert run_sql(conn, "SELECT lead_id FROM lead_action").scalars().all() == [ids[contact]]


def test_a_first_sync_leaves_converted_leads_out(run: Callable[..., Result], engine: Engine,
                                                  salesforce: FakeSalesforce) -> None:
    lead = salesforce.add("Lead", LastName="Byron", Company="Initech")
    contact = salesforce.convert(lead)
    report = json.loads(run("sync", "--crm", "salesforce", "--json", env=salesforce.env()).output)["objects"]
    assert report["contacts"]["read"] == 1 and set(lead_rows(engine)) == {contact}


def test_a_deleted_lead_or_contact_leaves_play_through_query_all(run: Callable[..., Result], engine: Engine,
                                                                 salesforce: FakeSalesforce) -> None:
    """Deleted records go to the Recycle Bin, which only queryAll reads (IsDeleted): their leads leave play."""
    lead = salesforce.add("Lead", LastName="Gone", Company="Initech")
    kept = salesforce.add("Lead", LastName="Kept", Company="Initech")
    contact = salesforce.add("Contact", LastName="Also Gone")
    env = salesforce.env()
    sync = ("sync", "--crm", "salesforce", "--json")
    assert run(*sync, env=env).exit_code == 0
    assert not any("/queryAll/" in call.path for call in salesforce.calls)  # a first read: nothing to take out
    salesforce.delete(lead)
    salesforce.delete(contact)
    report = json.loads(run(*sync, env={**env, "HOTLEAD_CRM_LOOKBACK_MINUTES": "0"}).output)["objects"]["contacts"]
    assert (report["read"], report["updated"]) == (2, 2)
    assert sum("/queryAll/" in call.path for call in salesforce.calls) == 2  # Lead and Contact
    with engine.connect() as conn:
        statuses = dict(run_sql(conn, "SELECT external_id, status FROM lead").all())
    assert statuses == {lead: "deleted", kept: "open", contact: "deleted"}
    again = json.loads(run(*sync, env=env).output)["objects"]["contacts"]
    assert again["read"] == 0  # taken out once
