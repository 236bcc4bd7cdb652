"""The HubSpot connector pulls through HubSpot's official client from a strict local HubSpot."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import hubspot
import pytest

from bot.config import MissingSettingError, Settings
from bot.crm.errors import CrmError
from bot.crm.hubspot import HubSpotConnector
from bot.crm.records import Company, Contact, Deal, Engagement, Kind, Owner, Page, Refused
from bot.fakes import FakeHubSpot
from bot.fakes.hubspot import EMAIL_SCOPE, PORTAL_ID, READ_SCOPES
from tests.bot.conftest import SleepClock as Clock

TOKEN = "pat-na1-hotlead"
GRANTED = READ_SCOPES | {"crm.objects.contacts.write"}  # what the sync reads with and write-back writes with
LATER = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeHubSpot]:
    with FakeHubSpot(TOKEN, scopes=GRANTED, clock=clock) as server:
        yield server


def connect(fake: FakeHubSpot, clock: Clock, token: str | None = TOKEN) -> HubSpotConnector:
    return HubSpotConnector(Settings(hubspot_access_token=token, hubspot_api_url=fake.url), sleep=clock.sleep,
                            clock=clock)


def pull(connector: HubSpotConnector, kind: Kind, since: str | None = None) -> list[Page]:
    return list(connector.pages(kind, since))


def ids(pages: list[Page]) -> list[str]:
    return [record.crm_id for page in pages for record in page.records]


def written(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_check_names_the_account(fake: FakeHubSpot, clock: Clock) -> None:
    assert str(PORTAL_ID) in connect(fake, clock).check()
    assert [call.method for call in fake.calls] == ["account.details", "token.info"]
    assert fake.calls[1].params == {"tokenKey": TOKEN}


def test_check_names_every_scope_the_private_app_lacks_at_once(clock: Clock) -> None:
    with (FakeHubSpot(TOKEN, scopes=READ_SCOPES - {"crm.objects.deals.read"}, clock=clock) as fake,
          pytest.raises(CrmError) as lacking):
        connect(fake, clock).check()
    said = str(lacking.value)
    assert said.startswith("HubSpot's private app lacks the scopes crm.objects.deals.read, "
                           "crm.objects.contacts.write: tick them in HubSpot under Settings > Integrations")
    assert "\n" not in said and TOKEN not in said


def test_a_token_hubspot_does_not_describe_is_checked_as_it_is_used(clock: Clock) -> None:
    with FakeHubSpot(TOKEN, scopes=READ_SCOPES, clock=clock) as fake:
        fake.describes_tokens = False  # not a private app's token: its scopes cannot be read up front
        assert str(PORTAL_ID) in connect(fake, clock).check()
        assert [call.status for call in fake.calls] == [200, 404]


def test_a_missing_token_is_a_missing_setting(fake: FakeHubSpot, clock: Clock) -> None:
    with pytest.raises(MissingSettingError, match="HUBSPOT_ACCESS_TOKEN"):
        connect(fake, clock, token=None).check()
    with pytest.raises(MissingSettingError, match="HUBSPOT_ACCESS_TOKEN"):
        pull(connect(fake, clock, token=None), "contacts")
    assert fake.calls == []


def test_a_bad_token_is_one_line_naming_the_variable_and_the_scopes(fake: FakeHubSpot, clock: Clock) -> None:
    with pytest.raises(CrmError, match=r"refused the access token \(401\): check HUBSPOT_ACCESS_TOKEN .*"
                                       r"crm\.objects\.contacts\.read") as refused:
        connect(fake, clock, token="pat-na1-revoked").check()
    assert "\n" not in str(refused.value) and clock.sleeps == []
    assert fake.calls[0].status == 401 and b"INVALID_AUTHENTICATION" in fake.calls[0].answer


def test_a_missing_scope_is_named(clock: Clock) -> None:
    with FakeHubSpot(TOKEN, scopes=["crm.objects.contacts.read"], clock=clock) as fake:
        fake.add("deals", dealstage="closedwon")
        with pytest.raises(CrmError, match=r"\(403, missing crm\.objects\.deals\.read\)"):
            pull(connect(fake, clock), "deals")


def test_2500_contacts_come_once_oldest_change_first_with_cursors(fake: FakeHubSpot, clock: Clock) -> None:
    added = fake.add_contacts(2500)
    for n, contact in enumerate(random.Random(17).sample(added, 400)):  # changed since, in another order
        fake.touch("contacts", [contact], LATER + timedelta(seconds=n))
    pages = pull(connect(fake, clock), "contacts")
    modified = {record.id: record.modified for record in fake.records["contacts"].values()}
    assert sorted(ids(pages)) == sorted(added)
    assert [modified[crm_id] for crm_id in ids(pages)] == sorted(modified.values())
    assert all(len(page.records) == 100 and page.kind == "contacts" for page in pages)
    assert [page.cursor for page in pages] == [written(modified[page.records[-1].crm_id]) for page in pages]
    searches = fake.calls_to("contacts.search")
    assert all("after" not in call.params for call in searches)  # never an offset: each search starts anew
    answered, limited = [[call for call in searches if call.status == status] for status in (200, 429)]
    assert len(answered) == 13 and limited == []  # 200 a search (HubSpot's most), paced under 5 searches a second
    assert clock.sleeps == pytest.approx([1.1] * 2)  # each sixth search waits for the first of five to age out


def test_an_incremental_pull_returns_exactly_the_records_touched(fake: FakeHubSpot, clock: Clock) -> None:
    added = fake.add_contacts(700)
    connector = connect(fake, clock)
    cursor = pull(connector, "contacts")[-1].cursor
    touched = random.Random(3).sample(added, 100)
    fake.touch("contacts", touched, LATER)
    again = pull(connector, "contacts", cursor)
    assert sorted(ids(again)) == sorted(touched) and again[-1].cursor == written(LATER)
    assert pull(connector, "contacts", again[-1].cursor) == []


def test_a_429_in_the_middle_is_waited_out_and_nothing_is_lost_or_doubled(fake: FakeHubSpot, clock: Clock) -> None:
    added = fake.add_contacts(1000)
    fake.rate_limit_at(4, retry_after=7)
    pages = pull(connect(fake, clock), "contacts")
    assert sorted(ids(pages)) == sorted(added)
    assert 7.0 in clock.sleeps and [call.status for call in fake.calls].count(429) >= 1
    limited = next(n for n, call in enumerate(fake.calls) if call.status == 429)
    assert fake.calls[limited + 1].params == fake.calls[limited].params  # the same request again


def test_a_rate_limit_that_does_not_end_is_reported(fake: FakeHubSpot, clock: Clock) -> None:
    fake.add_contacts(1)
    for n in range(1, 6):
        fake.rate_limit_at(n, retry_after=2)
    with pytest.raises(CrmError, match=r"^HubSpot kept rate-limiting the requests to search the contacts \(5 tries\)"):
        pull(connect(fake, clock), "contacts")
    assert clock.sleeps == [2.0] * 4


def test_records_modified_at_one_instant_are_never_split_across_a_cursor(fake: FakeHubSpot, clock: Clock) -> None:
    tied = fake.add_contacts(250, at=LATER, step=timedelta(0))
    after = fake.add_contacts(80, at=LATER + timedelta(seconds=1))
    connector = connect(fake, clock)
    pages = pull(connector, "contacts")
    assert sorted(ids(pages)) == sorted(tied + after)
    assert [len(page.records) for page in pages] == [250, 80] and pages[0].cursor == written(LATER)
    assert sorted(ids(pull(connector, "contacts", pages[0].cursor))) == sorted(after)


def test_more_than_10000_changes_come_without_paging_past_the_10000th_result(fake: FakeHubSpot,
                                                                            clock: Clock) -> None:
    added = fake.add_contacts(10_050)
    got = ids(pull(connect(fake, clock), "contacts"))
    assert len(got) == len(set(got)) == 10_050 and set(got) == set(added)
    assert all(call.status in (200, 429) for call in fake.calls)


def test_the_fake_refuses_to_page_a_search_past_its_10000th_result(fake: FakeHubSpot) -> None:
    fake.searches_per_second = None
    fake.add_contacts(10_010, step=timedelta(0))
    url, auth = f"{fake.url}/crm/v3/objects/contacts/search", {"Authorization": f"Bearer {TOKEN}"}
    last = httpx.post(url, json={"limit": 100, "after": "9900"}, headers=auth)
    assert last.status_code == 200 and last.json()["paging"]["next"]["after"] == "10000"
    past = httpx.post(url, json={"limit": 100, "after": "10000"}, headers=auth)
    assert past.status_code == 400 and past.json()["status"] == "error"
    assert past.json()["category"] == "VALIDATION_ERROR" and past.json()["correlationId"]
    assert httpx.post(url, json={"limit": 201}, headers=auth).status_code == 400


def test_an_outage_is_retried_with_backoff_then_reported(fake: FakeHubSpot, clock: Clock) -> None:
    fake.add_contacts(3)
    fake.down = True
    with pytest.raises(CrmError, match=r"^HubSpot is unavailable: 503"):
        pull(connect(fake, clock), "contacts")
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0]


def test_an_outage_that_ends_loses_nothing(fake: FakeHubSpot, clock: Clock) -> None:
    added = fake.add_contacts(3)
    fake.down = True

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        fake.down = False

    connector = HubSpotConnector(Settings(hubspot_access_token=TOKEN, hubspot_api_url=fake.url), sleep=sleep,
                                 clock=clock)
    assert ids(pull(connector, "contacts")) == added and clock.sleeps == [1.0]


def test_without_sales_email_read_an_email_comes_without_its_content(clock: Clock) -> None:
    """As HubSpot documents it: email engagements are read with the contacts scope, their content needs
    sales-email-read (redacted without it); `check` names the scope before a sync misses every email's text."""
    with FakeHubSpot(TOKEN, scopes=GRANTED - {EMAIL_SCOPE}, clock=clock) as fake:
        lead = fake.add("contacts", firstname="Ada", lastname="Lovelace")
        email = fake.add("emails", contacts=[lead], hs_timestamp="2026-02-01T10:00:00Z",
                         hs_email_direction="INCOMING_EMAIL", hs_email_text="We need this by Friday.")
        (record,) = [record for page in pull(connect(fake, clock), "engagements") for record in page.records]
        assert isinstance(record, Engagement) and record.crm_id == email and record.text is None
        with pytest.raises(CrmError, match=r"lacks the scope sales-email-read: tick it in HubSpot"):
            connect(fake, clock).check()


def test_engagements_are_merged_by_time_with_their_text_and_direction(fake: FakeHubSpot, clock: Clock) -> None:
    lead = fake.add("contacts", firstname="Ada", lastname="Lovelace")
    when = "2026-02-01T10:00:00Z"
    reply = fake.add("emails", contacts=[lead], hs_timestamp=when, hs_email_direction="INCOMING_EMAIL",
                     hs_email_text="We need this by Friday.")
    meeting = fake.add("meetings", contacts=[lead], hs_timestamp=when,
                       hs_meeting_body="<p>Demo went <b>well</b>.</p><p>Pricing next&nbsp;week &amp; legal.</p>")
    call = fake.add("calls", contacts=[lead], hs_timestamp=when, hs_call_direction="INBOUND",
                    hs_call_body="<div>Asked about SSO<br>and SOC 2</div><script>x()</script>")
    note = fake.add("notes", contacts=[lead], hs_timestamp="1769940000000", hs_note_body="<ul><li>budget ok</li></ul>")
    sent = fake.add("emails", contacts=[lead], hs_timestamp=when, hs_email_direction="EMAIL",
                    hs_email_html="<html><body>Following up</body></html>")
    orphan = fake.add("notes", hs_timestamp=when, hs_note_body="nobody's")
    pages = pull(connect(fake, clock), "engagements")
    records = {record.crm_id: record for page in pages for record in page.records}
    assert ids(pages) == [reply, meeting, call, note, sent, orphan]  # oldest change first, across the four objects
    assert records[reply] == Engagement(reply, lead, "email", datetime(2026, 2, 1, 10, tzinfo=UTC), "inbound",
                                        "We need this by Friday.")
    assert records[meeting] == Engagement(meeting, lead, "meeting", datetime(2026, 2, 1, 10, tzinfo=UTC),
                                          "outbound", "Demo went well. Pricing next week & legal.")
    assert isinstance(records[call], Engagement) and records[call].direction == "inbound"
    assert records[call].text == "Asked about SSO and SOC 2"
    assert isinstance(records[note], Engagement) and records[note].text == "budget ok"
    assert records[note].occurred_at == datetime(2026, 2, 1, 10, tzinfo=UTC)
    assert isinstance(records[sent], Engagement) and records[sent].text == "Following up"
    assert records[sent].direction == "outbound"
    assert records[orphan] == Refused(orphan, "no associated contact")
    assert len(fake.calls_to("notes.associations")) == 1


def test_deals_carry_their_contacts_stage_amount_and_close_date(fake: FakeHubSpot, clock: Clock) -> None:
    first, second = fake.add_contacts(2)
    won = fake.add("deals", contacts=[second, first], dealstage="closedwon", amount="12500.50",
                   closedate="2026-01-31T17:00:00.000Z")
    open_deal = fake.add("deals", dealstage="appointmentscheduled")
    odd = fake.add("deals", contacts=[first], dealstage="closedlost", amount="a lot")
    bare = fake.add("deals", contacts=[first], amount="10")
    records = {record.crm_id: record for page in pull(connect(fake, clock), "deals") for record in page.records}
    assert records[won] == Deal(won, (first, second), "closedwon", 12500.5, datetime(2026, 1, 31, 17, tzinfo=UTC))
    assert records[open_deal] == Deal(open_deal, (), "appointmentscheduled")
    assert records[odd] == Refused(odd, "amount 'a lot' is not a number")
    assert records[bare] == Refused(bare, "no dealstage")


def test_contacts_companies_and_owners_in_hotleads_terms(fake: FakeHubSpot, clock: Clock) -> None:
    owner = fake.add_owner("sam@example.com", "Sam", "Rep")
    nameless_owner = fake.add_owner(None)
    company = fake.add("companies", name="Acme", domain="acme.com", industry="SOFTWARE", numberofemployees="250",
                       country="France")
    lead = fake.add("contacts", email="ada@acme.com", jobtitle="CTO", phone="+33 1", hs_analytics_source="ORGANIC",
                    associatedcompanyid=company, hubspot_owner_id=owner, createdate="2025-06-01T08:00:00Z")
    blank = fake.add("contacts", firstname=" ", phone="+1 555")
    connector = connect(fake, clock)
    contacts = {record.crm_id: record for page in pull(connector, "contacts") for record in page.records}
    assert contacts[lead] == Contact(lead, "ada@acme.com", datetime(2025, 6, 1, 8, tzinfo=UTC), "ada@acme.com",
                                     "+33 1", "CTO", "ORGANIC", company, owner)
    assert contacts[blank] == Refused(blank, "no firstname, lastname or email")
    assert ids(pull(connector, "companies")) == [company]
    assert pull(connector, "companies")[0].records == [Company(company, "Acme", "acme.com", "SOFTWARE", 250,
                                                               "France")]
    owners = pull(connector, "owners")
    assert owners[0].records == [Owner(owner, "Sam Rep", "sam@example.com"),
                                 Refused(nameless_owner, "no firstName, lastName or email")]
    fake.touch("owners", [owner], LATER)
    assert ids(pull(connector, "owners", owners[-1].cursor)) == [owner]


def test_the_fake_lists_objects_with_associations_as_the_official_client_reads_them(fake: FakeHubSpot) -> None:
    lead = fake.add("contacts", email="ada@acme.com")
    deals = [fake.add("deals", contacts=[lead], dealstage="closedwon") for _ in range(3)]
    api = hubspot.Client.create(access_token=TOKEN, host=fake.url).crm.deals.basic_api
    first = api.get_page(limit=2, properties=["dealstage"], associations=["contacts"])
    rest = api.get_page(limit=2, after=first.paging.next.after)
    assert [deal.id for deal in first.results + rest.results] == deals and rest.paging is None
    assert first.results[0].properties["dealstage"] == "closedwon"
    assert first.results[0].associations["contacts"].results[0].id == lead
    with pytest.raises(hubspot.crm.deals.ApiException) as refused:
        api.get_page(limit=101)
    assert refused.value.status == 400
    assert httpx.get(f"{fake.url}/crm/v3/objects/widgets", headers={"Authorization": f"Bearer {TOKEN}"}) \
        .status_code == 404
    assert [call.method for call in fake.calls] == ["deals.list", "deals.list", "deals.list", "unknown"]
