"""HubSpot connector: reads a private app's CRM through HubSpot's official client (hubspot-api-client).

What each kind reads: owners are the CRM users (listed: owners have no search); companies, contacts and deals
are searched; engagements are the emails, meetings, calls and notes searched one object at a time and merged by
time. A deal names its contacts, and an engagement its contact, through v4 associations (search results carry
none), read one batch per page of results.

Each kind is read oldest change first, after the cursor: the last record's modified time. Every search request
starts again from the last modified time seen, as HubSpot's own sample app iterates search results, so the offset
never grows (a search cannot page past its 10,000th result) and a record modified meanwhile cannot shift another
out of view; the records at that time already read come back once and are skipped. A page never ends inside
records modified at the same instant: the next pull starts after that instant, so the rest of a tie would be lost.
"""

from __future__ import annotations

import functools
import heapq
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any, Literal

import hubspot
import urllib3

from bot.config import Settings
from bot.crm.errors import CrmError
from bot.crm.records import Company, Contact, Deal, Engagement, Kind, Owner, Page, Record, Refused

Json = dict[str, Any]
Found = tuple[datetime, Record]  # a record and its last-modified time

PAGE = 100
ATTEMPTS = 5  # tries of one request while HubSpot rate-limits it or answers 5xx or not at all
TIMEOUT_S = 30  # the generated client would wait forever
SCOPES = ("crm.objects.contacts.read", "crm.objects.companies.read", "crm.objects.deals.read",
          "crm.objects.owners.read", "sales-email-read")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EngagementKind = Literal["email", "meeting", "call", "note"]
BODY: dict[EngagementKind, tuple[str, ...]] = {"email": ("hs_email_text", "hs_email_html"),
                                               "meeting": ("hs_meeting_body",), "call": ("hs_call_body",),
                                               "note": ("hs_note_body",)}
DIRECTION = {"email": "hs_email_direction", "call": "hs_call_direction"}  # meetings and notes have none
INBOUND = {"INCOMING_EMAIL", "INBOUND"}


@dataclass(frozen=True)
class Source:
    """One HubSpot object searched by modification time, and how a result becomes a record."""

    name: str  # as the API names it: contacts, emails, …
    modified: str  # the property holding its last-modified time
    properties: tuple[str, ...]
    read: Callable[[Json, tuple[str, ...]], Record]  # a result and its associated contacts -> a record
    associated: bool = False  # its records name their contacts through associations

    def when(self, result: Json) -> datetime:
        """When a search result was last modified, as the property searches filter and sort on says."""
        return _moment(result["properties"].get(self.modified) or result["updatedAt"], self.modified)


class HubSpotConnector:
    """Pages of HubSpot records changed since a cursor (`pages`), after a cheap check of the token (`check`)."""

    name = "hubspot"

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._settings = settings
        self._sleep = sleep
        self._apis: dict[str, Any] = {}

    @functools.cached_property
    def _client(self) -> Any:
        token = self._settings.require("hubspot_access_token", "the HubSpot connector (a private app's access token)")
        return hubspot.Client.create(access_token=token, host=self._settings.hubspot_api_url.rstrip("/"))

    def check(self) -> str:
        """The account the token opens, in a few words; CrmError when HubSpot refuses it."""
        api_client = self._api("owners").api_client  # the official client has no account API of its own
        details = self._call("read the account details", functools.partial(
            api_client.call_api, "/account-info/v3/details", "GET", auth_settings=["oauth2"],
            _return_http_data_only=True, _preload_content=False, _request_timeout=TIMEOUT_S))
        return (f"HubSpot account {details.get('portalId')} ({details.get('uiDomain')}, {details.get('timeZone')}, "
                f"{details.get('companyCurrency')})")

    def pages(self, kind: Kind, since: str | None) -> Iterator[Page]:
        """Pages of the records of `kind` modified after `since` (an ISO time; None: all), oldest change first."""
        after = _milliseconds(_moment(since, "cursor")) if since else None
        if kind == "owners":
            found: Iterator[Found] = self._owners(after)
        elif kind == "engagements":
            found = heapq.merge(*(self._search(source, after) for source in ENGAGEMENTS), key=lambda item: item[0])
        else:
            found = self._search(SOURCES[kind], after)
        page: list[Found] = []
        for item in found:
            if len(page) >= PAGE and item[0] != page[-1][0]:
                yield Page(kind, [record for _, record in page], _instant(page[-1][0]))
                page = []
            page.append(item)
        if page:
            yield Page(kind, [record for _, record in page], _instant(page[-1][0]))

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
        changed = [(_moment(owner["updatedAt"], "updatedAt"), owner) for owner in owners]
        changed = [(moment, owner) for moment, owner in changed if after is None or _milliseconds(moment) > after]
        for moment, owner in sorted(changed, key=lambda item: (item[0], int(item[1]["id"]))):
            yield moment, _owner(owner)

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
            last = _milliseconds(source.when(results[-1]))
            at_last = {result["id"] for result in results if _milliseconds(source.when(result)) == last}
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
                "sorts": [{"propertyName": sort, "direction": "ASCENDING"}], "limit": PAGE}
        return self._call(f"search the {source.name}", functools.partial(
            self._api(source.name).do_search, public_object_search_request=body, _preload_content=False,
            _request_timeout=TIMEOUT_S))

    def _read(self, source: Source, results: list[Json]) -> Iterator[Found]:
        contacts = self._contacts(source.name, [result["id"] for result in results]) if source.associated else {}
        for result in results:
            yield source.when(result), source.read(result, contacts.get(result["id"], ()))

    def _contacts(self, name: str, ids: list[str]) -> dict[str, tuple[str, ...]]:
        """The contacts each of these records is associated with (at most 100 ids: one batch)."""
        if not ids:
            return {}
        request = {"inputs": [{"id": record_id} for record_id in ids]}
        answer = self._call(f"read the contacts of the {name}", functools.partial(
            self._api("associations").get_page, name, "contacts", request, _preload_content=False,
            _request_timeout=TIMEOUT_S))  # answered 207 with an error for each record that has none
        return {str(result["from"]["id"]): tuple(sorted((str(to["toObjectId"]) for to in result["to"]), key=int))
                for result in answer["results"]}

    def _api(self, name: str) -> Any:
        """The official client's API for `name` (made once: each holds its own connection pool)."""
        if name not in self._apis:
            crm = self._client.crm
            self._apis[name] = (crm.owners.owners_api if name == "owners" else
                                crm.associations.v4.batch_api if name == "associations" else
                                getattr(crm, name).search_api if name in SOURCES else
                                getattr(crm.objects, name).search_api)
        return self._apis[name]

    def _call(self, what: str, request: Callable[[], Any]) -> Json:
        """One request's JSON answer: a 429 waited out (Retry-After), a 5xx or no answer retried with backoff."""
        status, problem = 0, ""
        for attempt in range(ATTEMPTS):
            backoff = 2.0 ** attempt
            try:
                response = request()
                try:
                    return dict(json.loads(response.data or b"{}"))
                finally:
                    response.release_conn()
            except urllib3.exceptions.HTTPError as error:  # no answer at all
                status, problem, wait = 0, f"no answer ({type(error).__name__})", backoff
            except Exception as error:  # each package of the generated client raises its own ApiException
                if not isinstance(getattr(error, "status", None), int):
                    raise
                status, body = error.status, _error_body(getattr(error, "body", None))  # type: ignore[attr-defined]
                if status in (401, 403):
                    raise CrmError(_refused_token(status, body)) from None
                if 0 < status < 500 and status != 429:
                    raise CrmError(f"HubSpot refused to {what} ({status}): {body.get('message', '')}") from None
                problem = f"{status} {body.get('message') or getattr(error, 'reason', '')}".strip()
                wait = _retry_after(getattr(error, "headers", None)) or backoff
            if attempt + 1 < ATTEMPTS:
                self._sleep(wait)
        if status == 429:
            raise CrmError(f"HubSpot kept rate-limiting the requests to {what} ({ATTEMPTS} tries): try again later")
        raise CrmError(f"HubSpot is unavailable: {problem} ({ATTEMPTS} tries to {what})")


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


def _refused_token(status: int, body: Json) -> str:
    missing = [scope for error in body.get("errors") or [] if isinstance(error, dict)
               for scope in (error.get("context") or {}).get("requiredGranularScopes") or []]
    why = f"{status}, missing {', '.join(missing)}" if missing else str(status)
    return (f"HubSpot refused the access token ({why}): check HUBSPOT_ACCESS_TOKEN and the private app's scopes "
            f"{', '.join(SCOPES)}")


def _moment(text: Any, name: str) -> datetime:
    """A HubSpot time (ISO 8601 or epoch milliseconds) as an aware UTC datetime; ValueError naming `name`."""
    value = str(text or "").strip()
    try:
        if value.isdecimal():
            return EPOCH + timedelta(milliseconds=int(value))
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not a date") from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _milliseconds(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def _instant(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _owner(owner: Json) -> Record:
    name = " ".join(filter(None, (_clean(owner.get("firstName")), _clean(owner.get("lastName")))))
    email = _clean(owner.get("email"))
    if not (name or email):
        return Refused(str(owner["id"]), "no firstName, lastName or email")
    return Owner(str(owner["id"]), name or str(email), email)


def _company(result: Json, _: tuple[str, ...]) -> Record:
    found = result["properties"]
    name = _clean(found.get("name")) or _clean(found.get("domain"))
    if not name:
        return Refused(result["id"], "no name or domain")
    employees = _number(found.get("numberofemployees"))
    return Company(result["id"], name, _clean(found.get("domain")), _clean(found.get("industry")),
                   int(employees) if employees is not None else None, _clean(found.get("country")))


def _contact(result: Json, _: tuple[str, ...]) -> Record:
    found = result["properties"]
    email = _clean(found.get("email"))
    name = " ".join(filter(None, (_clean(found.get("firstname")), _clean(found.get("lastname"))))) or email
    if not name:
        return Refused(result["id"], "no firstname, lastname or email")
    try:
        created = _moment(found.get("createdate") or result["createdAt"], "createdate")
    except ValueError as error:
        return Refused(result["id"], str(error))
    return Contact(result["id"], name, created, email, _clean(found.get("phone")), _clean(found.get("jobtitle")),
                   _clean(found.get("hs_analytics_source")), _clean(found.get("associatedcompanyid")),
                   _clean(found.get("hubspot_owner_id")))


def _deal(result: Json, contacts: tuple[str, ...]) -> Record:
    found = result["properties"]
    stage = _clean(found.get("dealstage"))
    if not stage:
        return Refused(result["id"], "no dealstage")
    try:
        closed = _moment(found["closedate"], "closedate") if _clean(found.get("closedate")) else None
        amount = _number(found.get("amount"), "amount")
    except ValueError as error:
        return Refused(result["id"], str(error))
    return Deal(result["id"], contacts, stage, amount, closed)


def _engagement(kind: EngagementKind, result: Json, contacts: tuple[str, ...]) -> Record:
    found = result["properties"]
    if not contacts:
        return Refused(result["id"], "no associated contact")
    try:
        occurred = _moment(found.get("hs_timestamp"), "hs_timestamp")
    except ValueError as error:
        return Refused(result["id"], str(error))
    body = next((found[name] for name in BODY[kind] if _clean(found.get(name))), None)
    inbound = kind in DIRECTION and found.get(DIRECTION[kind]) in INBOUND
    return Engagement(result["id"], contacts[0], kind, occurred, "inbound" if inbound else "outbound", _plain(body))


def _clean(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _number(value: Any, name: str = "") -> float | None:
    """A HubSpot number; None when unset, or when unreadable and `name` is empty (else ValueError naming it)."""
    text = _clean(value)
    try:
        return float(text.replace(",", "")) if text else None
    except ValueError:
        if name:
            raise ValueError(f"{name} {text!r} is not a number") from None
        return None


class _Text(HTMLParser):
    """The text of an HTML fragment, blocks and line breaks as spaces, scripts and styles dropped."""

    BREAKS = {"br", "p", "div", "li", "tr", "td", "h1", "h2", "h3", "h4", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hidden += tag in ("script", "style")
        self.parts.append(" " if tag in self.BREAKS else "")

    def handle_endtag(self, tag: str) -> None:
        self.hidden -= tag in ("script", "style") and self.hidden > 0
        self.parts.append(" " if tag in self.BREAKS else "")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def _plain(html: str | None) -> str | None:
    """An engagement body (HTML, as HubSpot's editors write it) as plain text; None when it holds none."""
    if not html:
        return None
    parser = _Text()
    parser.feed(html)
    parser.close()
    return " ".join("".join(parser.parts).split()) or None


SOURCES: dict[str, Source] = {
    "companies": Source("companies", "hs_lastmodifieddate", ("name", "domain", "industry", "numberofemployees",
                                                             "country"), _company),
    "contacts": Source("contacts", "lastmodifieddate", ("firstname", "lastname", "email", "phone", "jobtitle",
                                                        "hs_analytics_source", "associatedcompanyid",
                                                        "hubspot_owner_id", "createdate"), _contact),
    "deals": Source("deals", "hs_lastmodifieddate", ("dealstage", "amount", "closedate"), _deal, associated=True),
}
ENGAGEMENTS = tuple(
    Source(f"{kind}s", "hs_lastmodifieddate", ("hs_timestamp", *BODY[kind], *filter(None, [DIRECTION.get(kind)])),
           functools.partial(_engagement, kind), associated=True)
    for kind in BODY)

