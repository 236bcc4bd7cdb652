"""HubSpot connector: reads a private app's CRM through HubSpot's official client (hubspot-api-client).

What each kind reads: owners are the CRM users (listed: owners have no search); companies, contacts and deals
are searched; engagements are the emails, meetings, calls and notes searched one object at a time and merged by
time. A deal names its contacts, and an engagement its contact, through v4 associations (search results carry
none), read one batch per page of results. How a result becomes a record: bot/crm/hubspot_records.py.

Each kind is read oldest change first, after the cursor: the last record's modified time. Every search request
starts again from the last modified time seen, as HubSpot's own sample app iterates search results, so the offset
never grows (a search cannot page past its 10,000th result) and a record modified meanwhile cannot shift another
out of view; the records at that time already read come back once and are skipped. A page never ends inside
records modified at the same instant: the next pull starts after that instant, so the rest of a tie would be lost.

Write-back (`write_scores`) puts each moved score into the contact properties `ensure_fields` creates (or says how
to by hand; both in bot/crm/hubspot_fields.py), up to 100 contacts in one batch update, as HubSpot allows. One
request per call, never retried or waited here: the outbox retries a failed request, and waits as long as a 429
asks (`HubSpotError.retry_after`). A contact HubSpot does not have is refused alone (its batch update answers 207
naming it; should it refuse the whole batch naming it, the rest is sent again without it). A write moves the
contact's `lastmodifieddate`, as any property change does in HubSpot, so the next pull reads the contacts just
written back: nothing the sync reads changed, so it counts them unchanged and scores nothing anew (a write-back
never feeds itself).
"""

from __future__ import annotations

import functools
import heapq
import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import hubspot
import urllib3
from hubspot.crm.contacts import BatchInputSimplePublicObjectBatchInput, SimplePublicObjectBatchInput
from hubspot.crm.properties import PropertyGroupCreate

from bot.config import Settings
from bot.crm.errors import CrmError
from bot.crm.hubspot_fields import (
    FIELDS,
    GROUP,
    GROUP_LABEL,
    SCHEMA_SCOPE,
    Field,
    by_hand,
    field_line,
    refused_ids,
    score_properties,
)
from bot.crm.hubspot_records import ENGAGEMENTS, SOURCES, Json, Source, milliseconds, parse_time, read_owner
from bot.crm.pace import Pacer
from bot.crm.records import Converted, Deleted, Kind, Page, Record, ScoreUpdate, instant

log = logging.getLogger(__name__)
Found = tuple[datetime, Record]  # a record and its last-modified time

PAGE = 100  # records a page of the sync holds; most owners a list page answers
SEARCH_PAGE = 200  # most results a search answers a request (the searches' rate limit makes each one count)
ASSOCIATED = 100  # most records a v4 association batch read takes
SEARCHES_PER_SECOND = 5  # HubSpot's limit on the search endpoints, per account
BATCH = 100  # most contacts one batch update takes
WRITE_SCOPE = "crm.objects.contacts.write"
ATTEMPTS = 5  # tries of one request while HubSpot rate-limits it or answers 5xx or not at all
TIMEOUT_S = 30  # the generated client would wait forever
SCOPES = ("crm.objects.contacts.read", "crm.objects.companies.read", "crm.objects.deals.read",
          "crm.objects.owners.read", "sales-email-read")


class HubSpotError(CrmError):
    """HubSpot refused a request (`status`, the JSON `body` it answered) or did not answer (status 0). On a 429,
    `retry_after` is the seconds it asks to wait (None otherwise: the outbox paces a target on it)."""

    def __init__(self, message: str, status: int = 0, body: Json | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.body, self.retry_after = status, body or {}, retry_after


class HubSpotConnector:
    """Pages of HubSpot records changed since a cursor (`pages`), after a cheap check of the token (`check`); the
    moved scores written back into the contacts (`write_scores`), once `ensure_fields` made their properties."""

    name = "hubspot"
    target = "contacts"  # what write-back writes
    batch = BATCH

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._sleep = sleep
        self._searches = Pacer(SEARCHES_PER_SECOND, 1.0, clock=clock, sleep=sleep)
        self._apis: dict[str, Any] = {}

    @functools.cached_property
    def _client(self) -> Any:
        token = self._settings.require("hubspot_access_token", "the HubSpot connector (a private app's access token)")
        return hubspot.Client.create(access_token=token, host=self._settings.hubspot_api_url.rstrip("/"))

    def check(self) -> str:
        """The account the token opens, in a few words; CrmError when HubSpot refuses the token, or when the
        private app lacks a scope the sync reads with or write-back writes with (named, all at once: a missing
        write scope would otherwise show only at the first write-back)."""
        api_client = self._api("owners").api_client  # the official client has no account API of its own
        details = self._call("read the account details", functools.partial(
            api_client.call_api, "/account-info/v3/details", "GET", auth_settings=["oauth2"],
            _return_http_data_only=True, _preload_content=False, _request_timeout=TIMEOUT_S))
        granted = self._granted_scopes()
        missing = [scope for scope in (*SCOPES, WRITE_SCOPE) if granted is not None and scope not in granted]
        if missing:
            raise HubSpotError(
                f"HubSpot's private app lacks the scope{'s' if len(missing) > 1 else ''} {', '.join(missing)}: tick "
                f"{'them' if len(missing) > 1 else 'it'} in HubSpot under Settings > Integrations > Private Apps > "
                f"the app > Scopes, then run `hotlead connect hubspot` again", 403)
        return (f"HubSpot account {details.get('portalId')} ({details.get('uiDomain')}, {details.get('timeZone')}, "
                f"{details.get('companyCurrency')})")

    def _granted_scopes(self) -> set[str] | None:
        """The scopes the private app's token holds (HubSpot's access-token-info call); None when HubSpot does not
        describe this token (not a private app's: its calls then say which scope they miss, when they do)."""
        api_client = self._api("owners").api_client
        token = self._settings.hubspot_access_token
        try:
            info = self._call("read the token's scopes", functools.partial(
                api_client.call_api, "/oauth/v2/private-apps/get/access-token-info", "POST",
                body={"tokenKey": token}, header_params={"Content-Type": "application/json"}, auth_settings=[],
                _return_http_data_only=True, _preload_content=False, _request_timeout=TIMEOUT_S))
        except HubSpotError as error:
            if error.status not in (400, 401, 403, 404):
                raise
            log.info("HubSpot did not describe the access token (%s): its scopes are checked as it is used",
                     error.status)
            return None
        return {str(scope) for scope in info.get("scopes") or []}

    def pages(self, kind: Kind, since: str | None) -> Iterator[Page]:
        """Pages of the records of `kind` modified after `since` (an ISO time; None: all), oldest change first."""
        after = milliseconds(parse_time(since, "cursor")) if since else None
        if kind == "owners":
            found: Iterator[Found] = self._owners(after)
        elif kind == "engagements":
            found = heapq.merge(*(self._search(source, after) for source in ENGAGEMENTS), key=lambda item: item[0])
        else:
            found = self._search(SOURCES[kind], after)
        page: list[Found] = []
        for item in found:
            if len(page) >= PAGE and item[0] != page[-1][0]:
                yield _page(kind, page)
                page = []
            page.append(item)
        if page:
            yield _page(kind, page)
        if kind == "contacts" and after is not None:
            yield from self._archived(after)

    def _archived(self, after: int) -> Iterator[Page]:
        """The contacts archived after `after` (epoch milliseconds) as `Deleted`, a page per list page, without a
        cursor: HubSpot's search never finds an archived record and its list of them filters on nothing, so the
        whole list (archived records stay 90 days) is read each sync, after the searches (one archived meanwhile
        is in it)."""
        cursor = None
        while True:
            answer = self._call("list the archived contacts", functools.partial(
                self._api("contact list").get_page, limit=PAGE, after=cursor, archived=True, properties=[],
                _preload_content=False, _request_timeout=TIMEOUT_S))
            gone = [(parse_time(result.get("archivedAt"), "archivedAt"), result) for result in answer["results"]]
            gone = [(moment, result) for moment, result in gone if milliseconds(moment) > after]
            if gone:
                yield Page("contacts", [Deleted(str(result["id"])) for _, result in gone], None,
                           [moment for moment, _ in gone])
            cursor = _next(answer)
            if cursor is None:
                return

    def write_scores(self, updates: list[ScoreUpdate]) -> dict[str, str | None]:
        """Write each score into its contact, in one batch update (at most BATCH); per contact id, None when
        written, else why HubSpot refused that contact. HubSpotError when the request failed as a whole (a 429
        carries `retry_after`): nothing is retried or waited here, the outbox does both."""
        if len(updates) > self.batch:
            raise ValueError(f"a HubSpot batch update takes at most {self.batch} contacts, not {len(updates)}")
        pending = {update.crm_id: update for update in updates}
        answers: dict[str, str | None] = {}
        while pending:
            body = BatchInputSimplePublicObjectBatchInput(inputs=[
                SimplePublicObjectBatchInput(id=update.crm_id, properties=score_properties(update))
                for update in pending.values()])
            try:
                answer = self._call("write the scores", functools.partial(
                    self._api("batch").update, body, _preload_content=False, _request_timeout=TIMEOUT_S),
                    attempts=1, scopes=(WRITE_SCOPE,))
            except HubSpotError as error:
                named = refused_ids(error.body, pending, whole=True) if error.status in (400, 404) else {}
                if not named:  # refused as a whole, for no contact of its own: the outbox tries again later
                    raise HubSpotError(_write_refused(error), error.status, error.body, error.retry_after) from None
                answers |= named  # a missing contact failed the whole batch: the rest again, without it
                pending = {crm_id: update for crm_id, update in pending.items() if crm_id not in named}
                continue
            refused = refused_ids(answer, pending)
            answers |= {crm_id: refused.get(crm_id) for crm_id in pending}
            pending = {}
        return answers

    def ensure_fields(self) -> list[str]:
        """Create the property group "Hotlead" and the score properties a contact lacks; a line per property
        (created, exists), or, when the token may not create properties, the steps to create them by hand."""
        def listed(api: Any, what: str) -> dict[str, Json]:
            answer = self._call(f"list the contact {what}", functools.partial(
                api.get_all, "contacts", _preload_content=False, _request_timeout=TIMEOUT_S))
            return {str(item["name"]): item for item in answer.get("results") or []}

        groups, existing = listed(self._api("groups"), "property groups"), listed(self._api("properties"), "properties")
        missing = [field for field in FIELDS if field.name not in existing]
        created: list[Field] = []
        try:
            if missing and GROUP not in groups:
                self._create(self._api("groups").create, PropertyGroupCreate(name=GROUP, label=GROUP_LABEL,
                                                                             display_order=-1), f"group {GROUP}")
            for field in missing:
                self._create(self._api("properties").create, field.create(), field.name)
                created.append(field)
        except HubSpotError as error:
            if error.status != 403:
                raise
            return by_hand([field for field in missing if field not in created], groups)
        return [field_line(field, existing.get(field.name)) for field in FIELDS]

    def _create(self, create: Callable[..., Any], body: Any, what: str) -> None:
        try:
            self._call(f"create the contact property {what}", functools.partial(
                create, "contacts", body, _preload_content=False, _request_timeout=TIMEOUT_S), scopes=(SCHEMA_SCOPE,))
        except HubSpotError as error:
            if error.status != 409:  # 409: made meanwhile (another `connect`): it is there, as wanted
                raise

    def _owners(self, after: int | None) -> Iterator[Found]:
        owners, cursor = [], None
        while True:
            answer = self._call("list the owners", functools.partial(
                self._api("owners").get_page, limit=PAGE, after=cursor, _preload_content=False,
                _request_timeout=TIMEOUT_S))
            owners += answer["results"]
            cursor = _next(answer)
            if cursor is None:
                break
        changed = [(parse_time(owner["updatedAt"], "updatedAt"), owner) for owner in owners]
        changed = [(moment, owner) for moment, owner in changed if after is None or milliseconds(moment) > after]
        for moment, owner in sorted(changed, key=lambda item: (item[0], int(item[1]["id"]))):
            yield moment, read_owner(owner)

    def _search(self, source: Source, after: int | None) -> Iterator[Found]:
        """Every record of `source` modified after `after` (epoch milliseconds), oldest change first, each once."""
        bound, operator = after, "GT"
        seen: set[str] = set()  # the records modified at `bound` already read
        while True:
            filters = [] if bound is None else [_filter(source.modified, operator, bound)]
            answer = self._find(source, filters, source.modified)
            results = answer["results"]
            yield from self._read(source, [result for result in results if result["id"] not in seen])
            if _next(answer) is None:
                return
            last = milliseconds(source.when(results[-1]))
            at_last = {result["id"] for result in results if milliseconds(source.when(result)) == last}
            if operator == "GTE" and last == bound:  # a whole page modified at one instant: read that instant by id
                yield from self._by_id(source, last, seen | at_last)
                operator, seen = "GT", set()
            else:
                bound, operator, seen = last, "GTE", at_last

    def _by_id(self, source: Source, moment: int, seen: set[str]) -> Iterator[Found]:
        """The records of `source` modified at exactly `moment`, by id, but those in `seen`."""
        last_id = 0
        while True:
            answer = self._find(source, [_filter(source.modified, "EQ", moment),
                                         _filter("hs_object_id", "GT", last_id)], "hs_object_id")
            yield from self._read(source, [result for result in answer["results"] if result["id"] not in seen])
            if _next(answer) is None:
                return
            last_id = int(answer["results"][-1]["id"])

    def _find(self, source: Source, filters: list[Json], sort: str) -> Json:
        body = {"filterGroups": [{"filters": filters}] if filters else [],
                "properties": [*source.properties, source.modified],
                "sorts": [{"propertyName": sort, "direction": "ASCENDING"}], "limit": SEARCH_PAGE}
        return self._call(f"search the {source.name}", functools.partial(
            self._api(source.name).do_search, public_object_search_request=body, _preload_content=False,
            _request_timeout=TIMEOUT_S), pace=self._searches)

    def _read(self, source: Source, results: list[Json]) -> Iterator[Found]:
        """The records of these search results; a merged contact's former ids each a `Converted` into it first (a
        merge dates the contact it leaves, not the ones it took in: those are found no more)."""
        contacts = self._contacts(source.name, [result["id"] for result in results]) if source.associated else {}
        for result in results:
            when = source.when(result)
            if source.name == "contacts":
                merged = str(result["properties"].get("hs_merged_object_ids") or "").split(";")
                for former in dict.fromkeys(crm_id.strip() for crm_id in merged):
                    if former and former != result["id"]:
                        yield when, Converted(former, result["id"])
            yield when, source.read(result, contacts.get(result["id"], ()))

    def _contacts(self, name: str, ids: list[str]) -> dict[str, tuple[str, ...]]:
        """The contacts each of these records is associated with (a batch read per ASSOCIATED ids)."""
        found: dict[str, tuple[str, ...]] = {}
        for start in range(0, len(ids), ASSOCIATED):
            request = {"inputs": [{"id": record_id} for record_id in ids[start:start + ASSOCIATED]]}
            answer = self._call(f"read the contacts of the {name}", functools.partial(
                self._api("associations").get_page, name, "contacts", request, _preload_content=False,
                _request_timeout=TIMEOUT_S))  # answered 207 with an error for each record that has none
            found |= {str(result["from"]["id"]): tuple(sorted((str(to["toObjectId"]) for to in result["to"]),
                                                              key=int)) for result in answer["results"]}
        return found

    def _api(self, name: str) -> Any:
        """The official client's API for `name` (made once: each holds its own connection pool)."""
        if name not in self._apis:
            crm = self._client.crm
            self._apis[name] = (crm.contacts.basic_api if name == "contact list" else
                                crm.owners.owners_api if name == "owners" else
                                crm.associations.v4.batch_api if name == "associations" else
                                crm.contacts.batch_api if name == "batch" else
                                crm.properties.core_api if name == "properties" else
                                crm.properties.groups_api if name == "groups" else
                                getattr(crm, name).search_api if name in SOURCES else
                                getattr(crm.objects, name).search_api)
        return self._apis[name]

    def _call(self, what: str, request: Callable[[], Any], *, attempts: int = ATTEMPTS,
              scopes: tuple[str, ...] = SCOPES, pace: Pacer | None = None) -> Json:
        """One request's JSON answer: a 429 waited out (Retry-After), a 5xx or no answer retried with backoff, up
        to `attempts` tries in all, each try first waiting on `pace`; HubSpotError naming `scopes` when the token
        is refused."""
        status, problem, wait = 0, "", 0.0
        body: Json = {}
        for attempt in range(attempts):
            backoff = 2.0 ** attempt
            try:
                if pace:
                    pace.wait()
                response = request()
                try:
                    return dict(json.loads(response.data or b"{}"))
                finally:
                    response.release_conn()
            except urllib3.exceptions.HTTPError as error:  # no answer at all
                status, problem, body, wait = 0, f"no answer ({type(error).__name__})", {}, backoff
            except Exception as error:  # each package of the generated client raises its own ApiException
                if not isinstance(getattr(error, "status", None), int):
                    raise
                status, body = error.status, _error_body(getattr(error, "body", None))  # type: ignore[attr-defined]
                if status in (401, 403):
                    raise HubSpotError(_refused_token(status, body, scopes), status, body) from None
                if 0 < status < 500 and status != 429:
                    raise HubSpotError(f"HubSpot refused to {what} ({status}): {body.get('message', '')}", status,
                                       body) from None
                problem = f"{status} {body.get('message') or getattr(error, 'reason', '')}".strip()
                wait = _retry_after(getattr(error, "headers", None)) or backoff
            if attempt + 1 < attempts:
                self._sleep(wait)
        tries = f"{attempts} tries" if attempts > 1 else "one try"
        if status == 429:
            raise HubSpotError(f"HubSpot kept rate-limiting the requests to {what} ({tries}): try again later"
                               if attempts > 1 else f"HubSpot rate-limited the request to {what}: it asks to wait "
                               f"{wait:g} s", status, body, retry_after=wait)
        raise HubSpotError(f"HubSpot is unavailable: {problem} ({tries} to {what})", status, body)


def _page(kind: Kind, found: list[Found]) -> Page:
    return Page(kind, [record for _, record in found], instant(found[-1][0]), [moment for moment, _ in found])


def _filter(name: str, operator: str, value: int) -> Json:
    return {"propertyName": name, "operator": operator, "value": str(value)}


def _next(answer: Json) -> str | None:
    """The `after` of the next page, None on the last."""
    return ((answer.get("paging") or {}).get("next") or {}).get("after")


def _retry_after(headers: Any) -> float | None:
    try:
        return float(headers.get("Retry-After")) if headers is not None else None
    except (TypeError, ValueError):
        return None


def _error_body(raw: Any) -> Json:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _refused_token(status: int, body: Json, scopes: tuple[str, ...] = SCOPES) -> str:
    missing = [scope for error in body.get("errors") or [] if isinstance(error, dict)
               for scope in (error.get("context") or {}).get("requiredGranularScopes") or []]
    why = f"{status}, missing {', '.join(missing)}" if missing else str(status)
    return (f"HubSpot refused the access token ({why}): check HUBSPOT_ACCESS_TOKEN and the private app's "
            f"scope{'s' if len(scopes) > 1 else ''} {', '.join(scopes)}")


def _write_refused(error: HubSpotError) -> str:
    """Why a batch update failed as a whole (each of the errors HubSpot listed), and what to do when the score
    properties are missing."""
    listed = [str(item["message"]) for item in error.body.get("errors") or [] if isinstance(item, dict)
              and item.get("message")]
    if not listed or error.status in (401, 403, 429) or error.status >= 500:
        return str(error)
    message = f"HubSpot refused to write the scores ({error.status}): {'; '.join(listed)}"
    if "PROPERTY_DOESNT_EXIST" in json.dumps(error.body):
        message += " (run `hotlead connect hubspot`: it creates the score properties)"
    return message
