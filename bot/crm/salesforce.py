"""Salesforce connector: logs in with OAuth (a username, password and security token, or the connected app alone
with the client-credentials flow), pages through SOQL queries with simple-salesforce and writes the scores back.

Each kind is read oldest change first (SystemModstamp, then Id) after the cursor, the last record's SystemModstamp;
a first read leaves converted Leads out (their Contacts are read). A page is about one Salesforce batch (2,000
records) and never ends inside records changed at the same instant: the next pull starts after that instant, so the
rest of a tie would be lost. bot/crm/salesforce_records.py turns the rows into records.

Write-back puts each moved score into the custom fields of bot/crm/salesforce_fields.py, 200 records a request
(sObject Collections, Salesforce's limit); `ensure_fields` (run by `hotlead connect`) creates the missing ones. A
request that fails as a whole raises CrmError and the outbox retries it, never a pause here: 5xx and network
failures at once, a refusal (the org's API limit used up, the score fields missing or hidden) as SalesforceRefused
with `retry_after`, an hour.
"""

from __future__ import annotations

import functools
import heapq
import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

import httpx
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from bot.config import Settings
from bot.crm.errors import CrmError
from bot.crm.records import Kind, Page, ScoreUpdate, instant
from bot.crm.salesforce_fields import (
    SCORE_FIELDS,
    SETUP_CODES,
    WRITTEN,
    Row,
    SalesforceRefused,
    ScoreField,
    field_line,
    outcomes,
    score_record,
    setup_problem,
)
from bot.crm.salesforce_records import batches, read_rows

log = logging.getLogger(__name__)
T = TypeVar("T")

PAGE_SIZE = 2_000  # Salesforce's query batch
RETRY_DELAYS = (2.0, 10.0, 30.0)  # seconds between tries while Salesforce answers 5xx or not at all
TIMEOUT_S = 60.0
# kind -> (object, fields besides SystemModstamp, a condition of its own)
QUERIES: dict[Kind, tuple[tuple[str, str, str], ...]] = {
    "owners": (("User", "Id, Name, Email", "UserType = 'Standard'"),),
    "companies": (("Account", "Id, Name, Website, Industry, NumberOfEmployees, BillingCountry", ""),),
    "contacts": (("Lead", "Id, Name, Email, Phone, Title, LeadSource, Company, OwnerId, CreatedDate, IsConverted, "
                          "ConvertedContactId", ""),
                 ("Contact", "Id, Name, Email, Phone, Title, LeadSource, AccountId, OwnerId, CreatedDate", "")),
    "deals": (("Opportunity", "Id, StageName, Amount, CloseDate, IsClosed, "
                              "(SELECT ContactId FROM OpportunityContactRoles)", ""),),
    "engagements": (("Task", "Id, WhoId, Description, TaskSubtype, Type, CallType, CreatedDate", ""),
                    ("Event", "Id, WhoId, Description, StartDateTime", "")),
}
DELETED: dict[Kind, tuple[str, ...]] = {"contacts": ("Lead", "Contact")}  # whose deletions take a lead out of play
UNREAD = {"Lead": "IsConverted = FALSE"}  # a first read's condition, instead of the object's own
WRITE_BATCH = 200  # records per sObject Collections request: Salesforce's limit


class _Unavailable(Exception):
    """Salesforce answered 5xx or not at all: worth another try after a pause."""


class SalesforceConnector:
    """Pulls a Salesforce org's records for the sync (bot/crm/sync.py) and writes the scores back
    (bot/crm/writeback.py)."""

    name = "salesforce"
    target = "Lead"  # the outbox's target: Leads and Contacts share one queue and one pace
    batch = WRITE_BATCH

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.sleep = sleep
        self._api: Salesforce | None = None

    def check(self) -> str:
        """Log in and read one Lead: what `hotlead connect` prints."""
        self._api = None
        instance, usage = self._fetch(_test_query, "a test query")
        who = self.settings.salesforce_username or "the connected app's Run As user"
        used = f"; {usage.used:,} of {usage.total:,} API requests used in the last 24 hours" if usage else ""
        return f"Salesforce: logged in at https://{instance} as {who}{used}"

    def pages(self, kind: Kind, since: str | None) -> Iterator[Page]:
        """The records of `kind` changed after `since` (an ISO time; None: all), oldest change first. A Lead
        converted since is a `Converted` into its Contact, one deleted since a `Deleted`; a first read (no `since`)
        skips converted Leads: there is nothing of theirs to carry over, their Contacts are read as they are."""
        first = {} if since else UNREAD
        streams = [self._rows(sobject, _soql(sobject, fields, first.get(sobject, condition), since))
                   for sobject, fields, condition in QUERIES[kind]]
        if since:  # the ones deleted since (in the Recycle Bin, which only queryAll reads): out of play
            streams += [self._rows(sobject, _soql(sobject, "Id, IsDeleted", "IsDeleted = TRUE", since), deleted=True)
                        for sobject in DELETED.get(kind, ())]
        for rows in batches(heapq.merge(*streams, key=lambda row: row["SystemModstamp"]), PAGE_SIZE):
            records, modified = read_rows(rows)
            yield Page(kind, records, rows[-1]["SystemModstamp"], modified)

    def write_scores(self, updates: list[ScoreUpdate]) -> dict[str, str | None]:
        """Each update into its Lead or Contact, a request per 200; per Id, None when written, else why Salesforce
        refused that record (it alone). CrmError when a request failed as a whole: the outbox retries it."""
        answers: dict[str, str | None] = {}
        typed: list[tuple[str, ScoreUpdate]] = []
        for update in updates:
            sobject = WRITTEN.get(update.crm_id[:3])
            if sobject is None:
                answers[update.crm_id] = f"not a Lead or Contact Id: {update.crm_id}"
            else:
                typed.append((sobject, update))
        typed.sort(key=lambda pair: pair[0])  # one chunk per object: Salesforce takes at most ten a request
        for start in range(0, len(typed), WRITE_BATCH):
            chunk = typed[start:start + WRITE_BATCH]
            body = {"allOrNone": False, "records": [score_record(sobject, update) for sobject, update in chunk]}
            answers.update(outcomes(chunk, self._fetch(functools.partial(_save, body), "the score write-back",
                                                        patient=False)))
        return answers

    def ensure_fields(self) -> list[str]:
        """Create the score fields on Lead and Contact where missing (Tooling API); a line per field: created,
        exists, or what an admin must do in Setup."""
        lines = []
        for sobject in WRITTEN.values():
            described = self._fetch(functools.partial(_describe, sobject), f"the {sobject} describe")
            updateable = {str(field["name"]).lower(): field.get("updateable", True) for field in described["fields"]}
            for field in SCORE_FIELDS:
                if field.name.lower() in updateable:
                    lines.append(field_line(sobject, field, "exists" if updateable[field.name.lower()] else
                                             "read-only"))
                    continue
                refusal = self._fetch(functools.partial(_create_field, sobject, field),
                                      f"creating {sobject}.{field.name}")
                if refusal is None:
                    lines.append(field_line(sobject, field, "created"))
                elif refusal[0] == "DUPLICATE_DEVELOPER_NAME":  # there, but describe does not show it to this user
                    lines.append(field_line(sobject, field, "hidden"))
                else:
                    lines.append(field_line(sobject, field, "refused", f"{refusal[0]}: {refusal[1]}"))
        return lines

    def _rows(self, sobject: str, soql: str, *, deleted: bool = False) -> Iterator[Row]:
        """A query's rows, batch by batch; `deleted`: through queryAll, which sees the Recycle Bin."""
        what = f"the {sobject} query"
        answer = self._fetch(lambda api: api.query(soql, include_deleted=deleted, timeout=TIMEOUT_S), what)
        yield from answer["records"]
        while not answer["done"]:  # the next batch, through the query locator Salesforce handed out
            answer = self._fetch(functools.partial(_more, answer["nextRecordsUrl"]), what)
            yield from answer["records"]

    def _fetch(self, request: Callable[[Salesforce], Any], what: str, *, patient: bool = True) -> Any:
        """One REST call: a new login once if the session expired; while Salesforce is unavailable, pauses
        (patient) or a CrmError at once (a write-back: the outbox owns the retries)."""
        persist = self._patiently if patient else _at_once
        logged_in_again = False
        while True:
            api = self._api or self._login(persist)
            try:
                return persist(functools.partial(_answer, request, api, what))
            except SalesforceExpiredSession as error:
                if logged_in_again:
                    raise CrmError("Salesforce refused the session it had just issued (INVALID_SESSION_ID): check "
                                   "that the integration user's profile has API Enabled") from error
                log.info("Salesforce session expired: logging in again")
                logged_in_again, self._api = True, None

    def _login(self, persist: Callable[[Callable[[], Row]], Row]) -> Salesforce:
        settings = self.settings
        app = "the Salesforce connected app"
        needs = [("salesforce_client_id", f"{app} (its consumer key)"),
                 ("salesforce_client_secret", f"{app} (its consumer secret)")]
        if settings.salesforce_username:
            needs.append(("salesforce_password", f"the Salesforce login of {settings.salesforce_username}"))
        settings.require_all(needs)
        form = {"grant_type": "client_credentials", "client_id": settings.salesforce_client_id,
                "client_secret": settings.salesforce_client_secret}
        if settings.salesforce_username:
            form.update(grant_type="password", username=settings.salesforce_username,
                        password=f"{settings.salesforce_password}{settings.salesforce_security_token or ''}")
        url = f"{settings.salesforce_login_url.rstrip('/')}/services/oauth2/token"
        token = persist(lambda: _token(url, form))
        self._api = Salesforce(instance_url=token["instance_url"], session_id=token["access_token"])
        return self._api

    def _patiently(self, attempt: Callable[[], T]) -> T:
        delays = list(RETRY_DELAYS)
        while True:
            try:
                return attempt()
            except _Unavailable as error:
                if not delays:
                    raise CrmError(f"Salesforce is not answering ({error}), {len(RETRY_DELAYS) + 1} tries: try "
                                   "again later (https://status.salesforce.com shows incidents)") from error
                delay = delays.pop(0)
                log.warning("Salesforce is not answering (%s): trying again in %ss", error, delay)
                self.sleep(delay)


def _at_once(attempt: Callable[[], T]) -> T:
    try:
        return attempt()
    except _Unavailable as error:
        raise CrmError(f"Salesforce is not answering ({error}): the write-back is tried again later") from error


def _test_query(api: Salesforce) -> tuple[str, Any]:
    """Read one Lead: the instance that answered and the org's API usage it reported (Sforce-Limit-Info)."""
    api.query("SELECT Id FROM Lead LIMIT 1", timeout=TIMEOUT_S)
    return api.sf_instance, api.api_usage.get("api-usage")


def _more(url: str, api: Salesforce) -> Any:
    return api.query_more(url, identifier_is_url=True, timeout=TIMEOUT_S)


def _token(url: str, form: dict[str, Any]) -> Row:
    """The token endpoint's answer, or CrmError saying which setting to check."""
    try:
        answer = httpx.post(url, data=form, timeout=TIMEOUT_S)
    except httpx.TransportError as error:
        raise _Unavailable(f"{type(error).__name__} at {url}") from error
    if answer.status_code >= 500:
        raise _Unavailable(f"HTTP {answer.status_code} at {url}")
    try:
        body = answer.json()
    except ValueError:
        body = None
    if answer.status_code == 200 and isinstance(body, dict) and "access_token" in body:
        return body
    if not isinstance(body, dict) or "error" not in body:
        raise CrmError(f"Salesforce refused the login (HTTP {answer.status_code} at {url}): check "
                       "SALESFORCE_LOGIN_URL (https://login.salesforce.com, test.salesforce.com or your My Domain)")
    code, description = body["error"], body.get("error_description", "")
    raise CrmError(f"Salesforce refused the login ({code}: {description}): {_login_hint(code, description, form)}")


def _login_hint(error: str, description: str, form: dict[str, Any]) -> str:
    if error == "invalid_client_id":
        return "check SALESFORCE_CLIENT_ID (the connected app's consumer key)"
    if error == "invalid_client":
        return "check SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET (the connected app's consumer key and secret)"
    if form["grant_type"] == "password":
        return ("check SALESFORCE_USERNAME, SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN; a new org also needs "
                "'Allow OAuth Username-Password Flows' turned on")
    if "domain" in description:
        return ("the client-credentials flow is served only at your org's My Domain: set SALESFORCE_LOGIN_URL to it "
                "(https://yourcompany.my.salesforce.com)")
    return "check that the connected app enables the client-credentials flow with a Run As user"


def _answer(request: Callable[[Salesforce], Any], api: Salesforce, what: str) -> Any:
    """The call's answer; 5xx and network failures as _Unavailable, other refusals as CrmError (an expired session
    passes through: the caller logs in again)."""
    try:
        return request(api)
    except (requests.ConnectionError, requests.Timeout) as error:
        raise _Unavailable(type(error).__name__) from error
    except SalesforceExpiredSession:
        raise
    except SalesforceError as error:
        if isinstance(error, SalesforceGeneralError) and error.status >= 500:
            raise _Unavailable(f"HTTP {error.status}") from error
        code, message = _problem(error)
        if code == "REQUEST_LIMIT_EXCEEDED":
            raise SalesforceRefused(f"Salesforce refused {what}: the org's daily API request limit is used up "
                                    f"({code}); Hotlead goes on from where it stopped once Salesforce's rolling "
                                    "24-hour count frees requests (Setup > Company Information shows the usage)"
                                    ) from error
        hint = ": check the integration user may read it (object and field permissions)" \
            if code in ("INVALID_TYPE", "INVALID_FIELD", "INSUFFICIENT_ACCESS") else ""
        raise SalesforceRefused(f"Salesforce refused {what} ({code}: {message}){hint}") from error


def _problem(error: SalesforceError) -> tuple[str, str]:
    """(errorCode, message) from Salesforce's error body, on one line."""
    content: Any = error.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("errorCode")), " ".join(str(content[0].get("message", "")).split())
    return f"HTTP {error.status}", " ".join(str(content).split())[:200]


def _save(body: Row, api: Salesforce) -> Any:
    """PATCH composite/sobjects: Salesforce's answer per record, in request order."""
    try:
        return api.restful("composite/sobjects", method="PATCH", json=body, timeout=TIMEOUT_S)
    except SalesforceMalformedRequest as error:
        code, message = _problem(error)
        if code in SETUP_CODES:
            raise SalesforceRefused(setup_problem(code, message)) from error
        raise


def _describe(sobject: str, api: Salesforce) -> Any:
    return api.restful(f"sobjects/{sobject}/describe", timeout=TIMEOUT_S)


def _create_field(sobject: str, field: ScoreField, api: Salesforce) -> tuple[str, str] | None:
    """Create one custom field (Tooling API CustomField); None when created, else Salesforce's (errorCode,
    message)."""
    body = {"FullName": f"{sobject}.{field.name}",
            "Metadata": {"label": field.label, "description": "Written by Hotlead's score write-back",
                         **field.metadata}}
    try:
        api.restful("tooling/sobjects/CustomField", method="POST", json=body, timeout=TIMEOUT_S)
    except (SalesforceMalformedRequest, SalesforceRefusedRequest) as error:
        code, message = _problem(error)
        if code == "REQUEST_LIMIT_EXCEEDED":
            raise
        return code, message
    return None


def _soql(sobject: str, fields: str, condition: str, since: str | None) -> str:
    conditions = [part for part in (condition, since and f"SystemModstamp > {_soql_time(since)}") if part]
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"SELECT {fields}, SystemModstamp FROM {sobject}{where} ORDER BY SystemModstamp ASC, Id ASC"


def _soql_time(since: str) -> str:
    """An ISO time (Salesforce's own 2026-01-02T03:04:05.000+0000 too) as a SOQL dateTime literal, in UTC."""
    return instant(datetime.fromisoformat(since))
