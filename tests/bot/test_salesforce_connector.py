"""The Salesforce connector against a local fake of Salesforce's token endpoint and REST query API, through the real
simple-salesforce: both logins, paging through nextRecordsUrl, incremental pulls, an expired session, the org's API
limit, outages (the pauses go through an injected sleep), and each object kind as Hotlead's records."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError

from bot.config import MissingSettingError, Settings
from bot.crm.errors import CrmError
from bot.crm.records import Company, Contact, Deal, Engagement, Owner, Page, Refused
from bot.crm.salesforce import RETRY_DELAYS, SalesforceConnector
from bot.fakes import FakeSalesforce

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


class Ticking:
    """A clock a `step` (one second) further on at each reading: every record changes at an instant of its own."""

    def __init__(self) -> None:
        self.now = T0
        self.step = timedelta(seconds=1)

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


@pytest.fixture
def clock() -> Ticking:
    return Ticking()


@pytest.fixture
def salesforce(clock: Ticking, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSalesforce]:
    with FakeSalesforce(client_id="3MVG9.hotlead", client_secret="consumer-secret", clock=clock) as fake:
        for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):  # trust the fake's own certificate
            monkeypatch.setenv(name, fake.ca_file)
        yield fake


def connect(fake: FakeSalesforce, flow: str = "password", **env: str) -> tuple[SalesforceConnector, list[float]]:
    """A connector on the fake's settings (`env` overrides them) and the pauses it took."""
    slept: list[float] = []
    return SalesforceConnector(Settings.from_env({**fake.env(flow), **env}), sleep=slept.append), slept


def contacts_of(pages: list[Page]) -> list[Contact]:
    return [record for page in pages for record in page.records if isinstance(record, Contact)]


def add_leads(fake: FakeSalesforce, count: int) -> list[str]:
    return [fake.add("Lead", FirstName="Lead", LastName=str(i), Company="Acme") for i in range(count)]


def test_the_password_flow_sends_the_password_with_the_security_token(salesforce: FakeSalesforce) -> None:
    connector, _ = connect(salesforce)
    said = connector.check()
    [login] = salesforce.calls_to("token")
    assert login.params["grant_type"] == "password" and login.params["password"] == "passwordtoken"
    assert login.headers["host"].startswith("localhost")  # the login host, then the org's own instance
    assert said == (f"Salesforce: logged in at {salesforce.instance_url} as hotlead@example.com; "
                    "1 of 100,000 API requests used in the last 24 hours")


def test_the_client_credentials_flow_logs_in_at_my_domain(salesforce: FakeSalesforce) -> None:
    connector, _ = connect(salesforce, "client_credentials")
    assert "as the connected app's Run As user" in connector.check()
    [login] = salesforce.calls_to("token")
    assert login.params["grant_type"] == "client_credentials" and "username" not in login.params


def test_the_client_credentials_flow_at_the_login_host_says_to_use_my_domain(salesforce: FakeSalesforce) -> None:
    connector, _ = connect(salesforce, "client_credentials", SALESFORCE_LOGIN_URL=salesforce.login_url)
    with pytest.raises(CrmError, match=r"request not supported on this domain\): .*set SALESFORCE_LOGIN_URL"):
        connector.check()


@pytest.mark.parametrize(("env", "said"), [
    ({"SALESFORCE_PASSWORD": "wrong"}, "Salesforce refused the login (invalid_grant: authentication failure): "
                                       "check SALESFORCE_USERNAME, SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN"),
    ({"SALESFORCE_CLIENT_SECRET": "wrong"}, "Salesforce refused the login (invalid_client: invalid client "
                                            "credentials): check SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET"),
    ({"SALESFORCE_CLIENT_ID": "wrong"}, "Salesforce refused the login (invalid_client_id: client identifier "
                                        "invalid): check SALESFORCE_CLIENT_ID"),
])
def test_a_refused_login_says_which_settings_to_check(salesforce: FakeSalesforce, env: dict[str, str],
                                                      said: str) -> None:
    connector, slept = connect(salesforce, **env)
    with pytest.raises(CrmError) as refused:
        list(connector.pages("contacts", None))
    assert str(refused.value).startswith(said) and "\n" not in str(refused.value)
    assert slept == [] and salesforce.calls_to("query") == []


def test_missing_settings_are_named_together_before_any_request(salesforce: FakeSalesforce) -> None:
    settings = Settings(salesforce_login_url=salesforce.login_url, salesforce_username="hotlead@example.com")
    with pytest.raises(MissingSettingError) as missing:
        SalesforceConnector(settings).check()
    assert missing.value.names == ["SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET", "SALESFORCE_PASSWORD"]
    assert salesforce.calls == []


def test_5000_leads_come_in_pages_of_2000_through_next_records_url_oldest_first(salesforce: FakeSalesforce) -> None:
    ids = add_leads(salesforce, 5000)
    connector, _ = connect(salesforce)
    pages = list(connector.pages("contacts", None))
    assert [len(contacts_of([page])) for page in pages] == [2000, 2000, 1000]
    assert [contact.crm_id for contact in contacts_of(pages)] == ids  # each once, oldest change first
    last = [salesforce.records["Lead"][ids[i]]["SystemModstamp"] for i in (1999, 3999, 4999)]
    assert [page.cursor for page in pages] == [f"{moment:%Y-%m-%dT%H:%M:%S}.000+0000" for moment in last]
    assert [len(salesforce.calls_to(method)) for method in ("query", "queryMore")] == [2, 2]  # Leads, Contacts
    # the Lead's company comes first in each page, once
    assert [page.records[0] for page in pages] == [Company("lead-company:Acme", "Acme")] * 3
    assert {contact.company_id for contact in contacts_of(pages)} == {"lead-company:Acme"}


def test_an_incremental_pull_after_touching_100_leads_returns_exactly_those(salesforce: FakeSalesforce) -> None:
    ids = add_leads(salesforce, 5000)
    connector, _ = connect(salesforce)
    cursor = list(connector.pages("contacts", None))[-1].cursor
    touched = ids[::50]
    for lead in touched:
        salesforce.update(lead, Title="VP Sales")
    [page] = list(connector.pages("contacts", cursor))
    assert [contact.crm_id for contact in contacts_of([page])] == touched
    assert {contact.title for contact in contacts_of([page])} == {"VP Sales"}
    assert f"SystemModstamp > {T0 + timedelta(seconds=5000):%Y-%m-%dT%H:%M:%S}.000Z" in \
        salesforce.calls_to("query")[-1].params["q"]
    assert list(connector.pages("contacts", page.cursor)) == []


def test_a_page_never_ends_inside_records_changed_at_the_same_instant(salesforce: FakeSalesforce,
                                                                       clock: Ticking) -> None:
    add_leads(salesforce, 1990)
    clock.step = timedelta(0)  # one bulk update: 30 leads changed at one instant, across the batch boundary
    tied = add_leads(salesforce, 30)
    clock.step = timedelta(seconds=1)
    add_leads(salesforce, 100)
    connector, _ = connect(salesforce)
    first, second = list(connector.pages("contacts", None))
    assert len(contacts_of([first])) == 2020 and contacts_of([first])[-1].crm_id == tied[-1]
    assert len(contacts_of(list(connector.pages("contacts", first.cursor)))) == 100 == len(contacts_of([second]))


def test_an_expired_session_mid_pull_logs_in_again_once(salesforce: FakeSalesforce) -> None:
    ids = add_leads(salesforce, 5000)
    connector, slept = connect(salesforce)
    pages = connector.pages("contacts", None)
    first = next(pages)
    salesforce.expire_session()
    rest = list(pages)
    assert [contact.crm_id for contact in contacts_of([first, *rest])] == ids
    assert len(salesforce.calls_to("token")) == 2 and slept == []
    assert [call.status for call in salesforce.calls_to("queryMore")] == [200, 401, 200]


def test_the_orgs_used_up_api_limit_is_a_crm_error_without_retrying(salesforce: FakeSalesforce) -> None:
    add_leads(salesforce, 10)
    connector, slept = connect(salesforce)
    salesforce.exceed_api_limit(calls=5)
    with pytest.raises(CrmError, match=r"the org's daily API request limit is used up \(REQUEST_LIMIT_EXCEEDED\)"):
        list(connector.pages("contacts", None))
    assert slept == [] and [call.status for call in salesforce.calls_to("query")] == [403]


def test_an_outage_is_waited_out_with_the_injected_sleep(salesforce: FakeSalesforce) -> None:
    ids = add_leads(salesforce, 2500)
    connector, slept = connect(salesforce)
    connector.check()
    salesforce.fail_next(2, status=503)
    assert [contact.crm_id for contact in contacts_of(list(connector.pages("contacts", None)))] == ids
    assert slept == list(RETRY_DELAYS[:2]) and salesforce.refused == 2


def test_a_lasting_outage_is_a_crm_error_after_the_last_try(salesforce: FakeSalesforce) -> None:
    connector, slept = connect(salesforce)
    salesforce.down = True
    with pytest.raises(CrmError, match=r"Salesforce is not answering \(HTTP 503 at .*\), 4 tries: try again later"):
        list(connector.pages("owners", None))
    assert slept == list(RETRY_DELAYS) and salesforce.refused == 4


def test_owners_companies_and_contacts_as_hotlead_records(salesforce: FakeSalesforce) -> None:
    owner = salesforce.add("User", FirstName="Jordan", LastName="Lee", Email="jordan@acme.com",
                           Username="jordan@acme.com.prod")
    account = salesforce.add("Account", Name="Globex", Website="https://www.globex.com/about", Industry="Energy",
                             NumberOfEmployees=1200, BillingCountry="Germany", OwnerId=owner)
    contact = salesforce.add("Contact", FirstName="Ana", LastName="Ruiz", AccountId=account, Email="ana@globex.com",
                             Title="CTO", LeadSource="Web", OwnerId=owner)
    converted = salesforce.add("Lead", LastName="Old", Company="Globex")
    salesforce.convert(converted, contact_id=contact)  # lives on as that Contact: a first read leaves it out
    lead = salesforce.add("Lead", LastName="Kim", Company=" Initech ", Phone="+1 555 0100")
    connector, _ = connect(salesforce)
    [owners] = connector.pages("owners", None)
    [companies] = connector.pages("companies", None)
    [contacts] = connector.pages("contacts", None)
    assert owners.records == [Owner(owner, "Jordan Lee", "jordan@acme.com")]
    assert companies.records == [Company(account, "Globex", "globex.com", "Energy", 1200, "Germany")]
    created = {record.crm_id: record.created_at for record in contacts.records if isinstance(record, Contact)}
    assert contacts.records == [
        Contact(contact, "Ana Ruiz", created[contact], "ana@globex.com", None, "CTO", "Web", account, owner),
        Company("lead-company:Initech", "Initech"),
        Contact(lead, "Kim", created[lead], None, "+1 555 0100", None, None, "lead-company:Initech", None),
    ]
    assert created[contact] == T0 + timedelta(seconds=3)


def test_opportunities_come_with_their_stage_amount_close_date_and_contact_roles(salesforce: FakeSalesforce) -> None:
    ana, ben = (salesforce.add("Contact", LastName=name) for name in ("Ana", "Ben"))
    won = salesforce.add("Opportunity", Name="Globex renewal", StageName="Closed Won", Amount=48_000,
                         CloseDate=date(2026, 10, 30))
    for contact, role in ((ana, "Decision Maker"), (ben, "Evaluator"), (ana, "Economic Buyer")):
        salesforce.add("OpportunityContactRole", OpportunityId=won, ContactId=contact, Role=role)
    open_deal = salesforce.add("Opportunity", Name="Initech pilot", StageName="Prospecting",
                               CloseDate=date(2027, 1, 15))
    connector, _ = connect(salesforce)
    [page] = connector.pages("deals", None)
    assert page.records == [Deal(won, (ana, ben), "Closed Won", 48_000.0, datetime(2026, 10, 30, tzinfo=UTC)),
                            Deal(open_deal, (), "Prospecting")]  # an open deal's close date is only expected


def test_tasks_and_events_become_engagements_and_one_about_nobody_is_refused(salesforce: FakeSalesforce) -> None:
    lead = salesforce.add("Lead", LastName="Kim", Company="Initech")
    contact = salesforce.add("Contact", LastName="Ruiz")
    email = salesforce.add("Task", WhoId=lead, Subject="Email: pricing", Description="Can we start before Q1?",
                           TaskSubtype="Email")
    meeting = salesforce.add("Event", WhoId=contact, Subject="Demo", StartDateTime=T0 + timedelta(days=2))
    call = salesforce.add("Task", WhoId=contact, TaskSubtype="Call", CallType="Inbound",
                          Description="Asked for a quote")
    nobody = salesforce.add("Task", Subject="Prepare the QBR", TaskSubtype="Task")
    note = salesforce.add("Task", WhoId=lead, Type="Other", Description="Met at the trade fair")
    connector, _ = connect(salesforce)
    [page] = connector.pages("engagements", None)
    logged = {record.crm_id: record.occurred_at for record in page.records if isinstance(record, Engagement)}
    assert page.records == [  # Tasks and Events in one order of change
        Engagement(email, lead, "email", logged[email], "outbound", "Can we start before Q1?"),
        Engagement(meeting, contact, "meeting", T0 + timedelta(days=2), "outbound", None),
        Engagement(call, contact, "call", logged[call], "inbound", "Asked for a quote"),
        Refused(nobody, "no WhoId (not about a lead or contact)"),
        Engagement(note, lead, "note", logged[note], "outbound", "Met at the trade fair"),
    ]
    assert logged[email] == T0 + timedelta(seconds=3)


def test_the_fake_refuses_what_salesforce_refuses(salesforce: FakeSalesforce) -> None:
    salesforce.add("Lead", LastName="Kim", Company="Initech")
    form = {"grant_type": "password", "client_id": "3MVG9.hotlead", "client_secret": "consumer-secret",
            "username": "hotlead@example.com", "password": "passwordtoken"}
    as_json = httpx.post(f"{salesforce.login_url}/services/oauth2/token", json=form)
    assert as_json.json() == {"error": "unsupported_grant_type", "error_description": "grant type not supported"}
    token = httpx.post(f"{salesforce.login_url}/services/oauth2/token", data=form).json()
    api = Salesforce(instance_url=token["instance_url"], session_id=token["access_token"])

    def refusal(soql: str) -> tuple[int, str]:
        with pytest.raises(SalesforceError) as refused:
            api.query(soql)
        return refused.value.status, refused.value.content[0]["errorCode"]

    assert refusal("SELECT Id FROM Lead WHERE Name LIKE 'K%'") == (400, "MALFORMED_QUERY")
    assert refusal("SELECT Id FROM Lead ORDER BY") == (400, "MALFORMED_QUERY")
    assert refusal("SELECT Id, Budget FROM Lead") == (400, "INVALID_FIELD")
    assert refusal("SELECT Id FROM Leads") == (400, "INVALID_TYPE")
    assert refusal("SELECT Id FROM Lead WHERE SystemModstamp > '2026-01-01T00:00:00Z'") == \
        (400, "INVALID_QUERY_FILTER_OPERATOR")
    assert api.query("select id, name from lead where isconverted = false limit 5")["records"][0]["Name"] == "Kim"
    assert api.api_usage["api-usage"].total == 100_000 and len(token["access_token"]) > 20
    salesforce.expire_session()
    assert refusal("SELECT Id FROM Lead") == (401, "INVALID_SESSION_ID")
    with pytest.raises(ValueError, match="REQUIRED_FIELD_MISSING: Lead needs Company"):
        salesforce.add("Lead", LastName="Nobody")
    with pytest.raises(ValueError, match="FIELD_INTEGRITY_EXCEPTION"):
        salesforce.add("OpportunityContactRole", OpportunityId=salesforce.add(
            "Opportunity", Name="x", StageName="Prospecting", CloseDate=date(2027, 1, 1)),
            ContactId=next(iter(salesforce.records["Lead"])))
