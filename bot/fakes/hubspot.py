"""A local stand-in for HubSpot's CRM API that answers like HubSpot and records every request.

Served: CRM v3 object lists and searches (contacts, companies, deals and the emails, meetings, calls and notes
engagements), owners, v4 association batch reads (to contacts) and the account details. As strict as HubSpot where
a connector could go wrong: a bearer token is required (401 INVALID_AUTHENTICATION) and each object needs its read
scope (403 MISSING_SCOPES naming it); a search pages by an offset `after`, at most 200 a page, and refuses to page
past its 10,000th result (400); searches are limited to 5 a second per account (429 "secondly limit", without
Retry-After); lists take at most 100 a page; an association batch read at most 100 ids, answered 207 with a
NO_ASSOCIATIONS_FOUND error for an object that has none; any other path is a 404.
"""

from __future__ import annotations

import itertools
import json
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.fakes._server import FakeServer, Reply, Request

Params = dict[str, Any]
PORTAL_ID = 2_519_445
SEARCH_CAP = 10_000  # results one search can page through
SEARCH_PAGE = 200  # most results a search page holds
LIST_PAGE = 100  # most records an object list page holds
OWNERS_PAGE = 500
ASSOCIATION_INPUTS = 100
DAILY_LIMIT, BURST_LIMIT, BURST_MS = 500_000, 190, 10_000  # a Professional account's private app
START = datetime(2025, 1, 1, tzinfo=UTC)  # records added without a time are modified a second apart from here
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ENGAGEMENTS = ("emails", "meetings", "calls", "notes")
OBJECT_TYPES = {"contacts": "0-1", "companies": "0-2", "deals": "0-3", "notes": "0-46", "meetings": "0-47",
                "calls": "0-48", "emails": "0-49"}
TO_CONTACT = {"deals": 3, "notes": 202, "meetings": 200, "calls": 194, "emails": 198}  # HUBSPOT_DEFINED type ids
SCOPES = {"contacts": "crm.objects.contacts.read", "companies": "crm.objects.companies.read",
          "deals": "crm.objects.deals.read", "owners": "crm.objects.owners.read",
          **{kind: "crm.objects.contacts.read" for kind in ENGAGEMENTS}}  # engagements are read with contacts'
READ_SCOPES = frozenset(SCOPES.values())
DATES = {"createdate", "lastmodifieddate", "hs_createdate", "hs_lastmodifieddate", "closedate", "hs_timestamp"}
NUMBERS = {"hs_object_id", "amount", "numberofemployees"}
DEFAULT_PROPERTIES = {"contacts": ("email", "firstname", "lastname"), "companies": ("domain", "name"),
                      "deals": ("amount", "closedate", "dealname", "dealstage", "pipeline")}
COMPARE: dict[str, Callable[[Any, Any], bool]] = {"EQ": lambda a, b: a == b, "NEQ": lambda a, b: a != b,
                                                  "LT": lambda a, b: a < b, "LTE": lambda a, b: a <= b,
                                                  "GT": lambda a, b: a > b, "GTE": lambda a, b: a >= b}
ROUTES = (  # verb, path, what the fake records the call as ({kind}: the object kind the path names)
    ("GET", re.compile(r"/crm/v3/objects/(?P<kind>[\w-]+)"), "{kind}.list"),
    ("POST", re.compile(r"/crm/v3/objects/(?P<kind>[\w-]+)/search"), "{kind}.search"),
    ("GET", re.compile(r"/crm/v3/owners/?"), "owners.list"),
    ("POST", re.compile(r"/crm/v4/associations/(?P<kind>[\w-]+)/(?P<to>[\w-]+)/batch/read"), "{kind}.associations"),
    ("GET", re.compile(r"/account-info/v3/details"), "account.details"),
)


class Refusal(Exception):
    """An error answer, as HubSpot writes it."""

    def __init__(self, status: int, message: str, category: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.category, self.extra = status, category, extra


@dataclass
class Stored:
    """One CRM record: its properties as HubSpot writes them, its times, and the contacts it is associated with."""

    id: str
    kind: str
    properties: dict[str, str | None]
    created: datetime
    modified: datetime
    contacts: list[str] = field(default_factory=list)
    times: dict[str, int] = field(default_factory=dict)  # the time properties, in epoch milliseconds

    def __post_init__(self) -> None:
        self.touch(self.modified)

    def touch(self, at: datetime) -> None:
        """Modify the record at `at`."""
        self.modified = at
        self.times = {_created(self.kind): _milliseconds(self.created), _modified(self.kind): _milliseconds(at)}


class FakeHubSpot(FakeServer):
    """HubSpot's API at `.url` (the HUBSPOT_API_URL) for the private app `token` holding `scopes`.

    `clock` (seconds) paces the search rate limit: inject the clock a test's sleep moves. `records` holds what the
    CRM holds, by kind and id; `down = True` is an outage (every request answered 503, counted in `refused`)."""

    def __init__(self, token: str, *, scopes: Iterable[str] = READ_SCOPES, clock: Callable[[], float] = time.monotonic,
                 searches_per_second: int | None = 5) -> None:
        super().__init__()
        self.url = self.base_url
        self.token = token
        self.scopes = set(scopes)
        self.clock = clock
        self.searches_per_second = searches_per_second  # None: unlimited
        self.records: dict[str, dict[str, Stored]] = {kind: {} for kind in [*OBJECT_TYPES, "owners"]}
        self._ids = itertools.count(101)
        self._latest = START - timedelta(seconds=1)  # the latest modification so far
        self._received = 0
        self._limited: dict[int, int] = {}  # request number -> Retry-After seconds
        self._searches: deque[float] = deque()
        self._requests: deque[float] = deque()

    def __repr__(self) -> str:
        return f"FakeHubSpot(url={self.url!r})"

    def add(self, kind: str, *, at: datetime | None = None, contacts: Iterable[str] = (), **properties: Any) -> str:
        """Add one record of `kind` (contacts, companies, deals, emails, meetings, calls, notes) with these
        properties, modified `at` (created then too, unless its createdate says otherwise), associated with
        `contacts`; its id."""
        with self._changed:
            moment = self._moment(at)
            created = properties.pop(_created(kind), None)
            record = Stored(str(next(self._ids)), kind, {k: _text(v) for k, v in properties.items()},
                            datetime.fromisoformat(created) if isinstance(created, str) else created or moment, moment,
                            list(contacts))
            self.records[kind][record.id] = record
            return record.id

    def add_contacts(self, count: int, *, at: datetime | None = None,
                     step: timedelta = timedelta(seconds=1)) -> list[str]:
        """Add `count` contacts (Contact 1 … with emails), modified `step` apart from `at` (0: all at once)."""
        with self._changed:
            first = at or self._latest + timedelta(seconds=1)
        return [self.add("contacts", at=first + n * step, firstname="Contact", lastname=str(n + 1),
                         email=f"contact{n + 1}@example.com") for n in range(count)]

    def add_owner(self, email: str | None, first: str | None = None, last: str | None = None, *,
                  at: datetime | None = None) -> str:
        """Add a CRM user who owns records; its owner id."""
        return self.add("owners", at=at, email=email, firstName=first, lastName=last)

    def touch(self, kind: str, ids: Iterable[str], at: datetime) -> None:
        """Modify these records at `at` (their last-modified time)."""
        with self._changed:
            for record_id in ids:
                self.records[kind][record_id].touch(self._moment(at))

    def rate_limit_at(self, n: int, retry_after: int = 1) -> None:
        """Answer the `n`th request from now 429 (the ten-secondly limit) with this Retry-After."""
        with self._changed:
            self._limited[self._received + n] = retry_after

    def _moment(self, at: datetime | None) -> datetime:
        """`at`, or a second after the latest modification so far."""
        moment = at or self._latest + timedelta(seconds=1)
        self._latest = max(self._latest, moment)
        return moment

    def _answer(self, request: Request) -> tuple[Reply, str | None, Params]:
        with self._changed:
            self._received += 1
            retry_after = self._limited.pop(self._received, None)
            name, kinds = _route(request)
            params: Params = {}
            try:
                params = {**request.query, **_body(request)}
                if retry_after is not None:
                    return _burst_limited(retry_after), name, params
                return self._handle(request, name, kinds, params), name, params
            except Refusal as refusal:
                return _error(refusal), name, params
            except (KeyError, TypeError, AttributeError, ValueError) as error:  # a body HubSpot could not read
                return _error(Refusal(400, f"Invalid input: {error!r}", "VALIDATION_ERROR")), name, params

    def _handle(self, request: Request, name: str, kinds: list[str], params: Params) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            raise Refusal(401, "Authentication credentials not found. This API supports OAuth 2.0 authentication and "
                          "you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                          "INVALID_AUTHENTICATION")
        if name == "unknown":
            raise Refusal(404, f"Unable to route {request.verb} request to {request.path}", "OBJECT_NOT_FOUND")
        if name == "account.details":
            return self._reply(_account())
        kind, route = name.split(".")
        if SCOPES[kind] not in self.scopes:
            raise Refusal(403, "This app hasn't been granted all required scopes to make this call.",
                          "MISSING_SCOPES", errors=[{"message": "One or more of the following scopes are required.",
                                                     "context": {"requiredGranularScopes": [SCOPES[kind]]}}])
        if route == "search":
            return self._search(kind, params)
        if route == "associations":
            return self._associations(kind, kinds[-1], params)
        return self._reply(self._list(kind, params))

    def _reply(self, payload: Params, status: int = 200) -> Reply:
        now = self.clock()
        _slide(self._requests, now, BURST_MS / 1000)
        self._requests.append(now)
        return Reply.json(payload, status, {"X-HubSpot-RateLimit-Daily": str(DAILY_LIMIT),
                                            "X-HubSpot-RateLimit-Daily-Remaining": str(DAILY_LIMIT - self._received),
                                            "X-HubSpot-RateLimit-Interval-Milliseconds": str(BURST_MS),
                                            "X-HubSpot-RateLimit-Max": str(BURST_LIMIT),
                                            "X-HubSpot-RateLimit-Remaining": str(BURST_LIMIT - len(self._requests))})

    def _search(self, kind: str, params: Params) -> Reply:
        now = self.clock()
        _slide(self._searches, now, 1.0)
        if self.searches_per_second is not None and len(self._searches) >= self.searches_per_second:
            raise Refusal(429, "You have reached your secondly limit.", "RATE_LIMITS")
        self._searches.append(now)
        limit, offset = _whole(params.get("limit", 10), "limit"), _whole(params.get("after") or 0, "after")
        if not 1 <= limit <= SEARCH_PAGE:
            raise Refusal(400, f"limit must be between 1 and {SEARCH_PAGE}, not {limit}", "VALIDATION_ERROR")
        if offset + limit > SEARCH_CAP:
            raise Refusal(400, f"There was a problem with the request: a search pages through at most {SEARCH_CAP} "
                          f"results (after {offset} + limit {limit})", "VALIDATION_ERROR")
        meets = _predicate(params.get("filterGroups") or [])
        found = [record for record in self.records[kind].values() if meets(record)]
        for sort in reversed(params.get("sorts") or []):  # found is in id order: ties keep it
            name = sort["propertyName"]
            found.sort(key=lambda record: _sortable(record, name), reverse=sort.get("direction") == "DESCENDING")
        properties = params.get("properties") or DEFAULT_PROPERTIES.get(kind, ())
        answer: Params = {"total": len(found), "results": [_shown(r, properties) for r in found[offset:offset + limit]]}
        if offset + limit < len(found):
            answer["paging"] = {"next": {"after": str(offset + limit)}}
        return Reply.json(answer, 200, {"X-HubSpot-RateLimit-Daily": str(DAILY_LIMIT),
                                        "X-HubSpot-RateLimit-Daily-Remaining": str(DAILY_LIMIT - self._received)})

    def _list(self, kind: str, params: Params) -> Params:
        limit = _whole(params.get("limit", 10 if kind != "owners" else 100), "limit")
        most = OWNERS_PAGE if kind == "owners" else LIST_PAGE
        if not 1 <= limit <= most:
            raise Refusal(400, f"limit must be between 1 and {most}, not {limit}", "VALIDATION_ERROR")
        records = sorted(self.records[kind].values(), key=lambda record: int(record.id))
        after = _whole(params.get("after") or 0, "after")
        page = [record for record in records if int(record.id) >= after][:limit]
        if kind == "owners":
            results = [_owner(record) for record in page]
        else:
            properties = _listed(params.get("properties")) or DEFAULT_PROPERTIES.get(kind, ())
            results = [_shown(record, properties, with_contacts="contacts" in _listed(params.get("associations")))
                       for record in page]
        answer: Params = {"results": results}
        if len(page) == limit and records[-1] is not page[-1]:
            answer["paging"] = {"next": {"after": str(int(page[-1].id) + 1), "link": "?after=" + page[-1].id}}
        return answer

    def _associations(self, kind: str, to: str, params: Params) -> Reply:
        inputs = params.get("inputs")
        if not isinstance(inputs, list) or not 1 <= len(inputs) <= ASSOCIATION_INPUTS:
            raise Refusal(400, f"inputs must hold 1 to {ASSOCIATION_INPUTS} ids", "VALIDATION_ERROR")
        results, errors = [], []
        for item in inputs:
            record = self.records[kind].get(str(item.get("id")))
            if record is None or not record.contacts or to != "contacts":
                errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                               "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                               "message": f"No {to[:-1]} is associated with {kind[:-1]} {item.get('id')}.",
                               "context": {"fromObjectId": [str(item.get("id"))], "fromObjectType": [kind[:-1]],
                                           "toObjectType": [to[:-1]]}})
                continue
            types = [{"category": "HUBSPOT_DEFINED", "typeId": TO_CONTACT[kind], "label": None}]
            to_contacts = [{"toObjectId": int(contact), "associationTypes": types} for contact in record.contacts]
            results.append({"from": {"id": record.id}, "to": to_contacts})
        stamp = _instant(datetime.now(UTC))
        answer: Params = {"status": "COMPLETE", "results": results, "startedAt": stamp, "completedAt": stamp}
        if errors:
            answer |= {"numErrors": len(errors), "errors": errors}
        return self._reply(answer, 207 if errors else 200)


def _route(request: Request) -> tuple[str, list[str]]:
    """What the request is recorded as (`unknown` when HubSpot has no such path), and the object kinds it names."""
    for verb, pattern, name in ROUTES:
        match = pattern.fullmatch(request.path)
        if match is None or verb != request.verb:
            continue
        kinds = [_kind(named) for named in match.groups()]
        if None not in kinds:
            return name.format(kind=kinds[0] if kinds else ""), [str(kind) for kind in kinds]
    return "unknown", []


def _kind(name: str) -> str | None:
    """The object kind a path names (plural, singular or object type id)."""
    return next((kind for kind, type_id in OBJECT_TYPES.items() if name in (kind, kind[:-1], type_id)), None)


def _body(request: Request) -> Params:
    if not request.raw:
        return {}
    try:
        body = json.loads(request.raw)
    except ValueError as error:
        raise Refusal(400, f"Invalid input JSON: {error}", "VALIDATION_ERROR") from None
    if not isinstance(body, dict):
        raise Refusal(400, "Invalid input JSON: expected an object", "VALIDATION_ERROR")
    return body


def _whole(value: Any, name: str) -> int:
    if isinstance(value, int) or (isinstance(value, str) and value.isdecimal()):
        return int(value)
    raise Refusal(400, f"{name} must be a whole number, not {value!r}", "VALIDATION_ERROR")


def _listed(value: Any) -> list[str]:
    """A query parameter given repeated or comma-separated."""
    values = value if isinstance(value, list) else [value] if value else []
    return [part for item in values for part in str(item).split(",") if part]


def _predicate(groups: list[Params]) -> Callable[[Stored], bool]:
    """Whether a record meets every filter of one group (no groups: every record). HubSpot's limits since August
    2024: 5 filter groups, 10 filters in one, 25 in all."""
    counts = [len(group.get("filters") or []) for group in groups]
    if len(groups) > 5 or any(count > 10 for count in counts) or sum(counts) > 25:
        raise Refusal(400, "Too many filters: at most 5 filterGroups, 10 filters in a group and 25 in all",
                      "VALIDATION_ERROR")
    compiled = [[_rule(rule) for rule in group.get("filters") or []] for group in groups]

    def meets(record: Stored) -> bool:
        for group in compiled:
            if all(rule(record) for rule in group):
                return True
        return not compiled

    return meets


def _rule(rule: Params) -> Callable[[Stored], bool]:
    name, operator = rule["propertyName"], rule.get("operator")
    if operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        return lambda record: (_key(record, name) is not None) == (operator == "HAS_PROPERTY")
    if operator in ("IN", "NOT_IN"):
        values = {_comparable(name, value) for value in rule.get("values") or []}
        return lambda record: (_key(record, name) in values) == (operator == "IN")
    if operator == "BETWEEN":
        low, high = _comparable(name, rule["value"]), _comparable(name, rule["highValue"])
        return lambda record: (key := _key(record, name)) is not None and low <= key <= high
    if operator not in COMPARE:
        raise Refusal(400, f"FakeHubSpot does not serve the operator {operator!r}", "VALIDATION_ERROR")
    compare, operand = COMPARE[operator], _comparable(name, rule.get("value"))
    return lambda record: (operator == "NEQ") if (key := _key(record, name)) is None else compare(key, operand)


def _comparable(name: str, value: Any) -> Any:
    """Dates as epoch milliseconds (HubSpot takes them so, or as ISO 8601), numbers as numbers, text as is."""
    text = str(value)
    try:
        if name in DATES and not text.lstrip("-").isdecimal():
            moment = datetime.fromisoformat(text)
            return _milliseconds(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
        return float(text) if name in DATES or name in NUMBERS else text
    except ValueError:
        raise Refusal(400, f"{text!r} is not a valid value for {name}", "VALIDATION_ERROR") from None


def _key(record: Stored, name: str) -> Any:
    """A property as filters and sorts compare it (None: not set)."""
    if name in record.times:
        return record.times[name]
    value = _value(record, name)
    return None if value is None else _comparable(name, value)


def _sortable(record: Stored, name: str) -> tuple[bool, Any]:
    key = _key(record, name)
    return key is None, 0 if key is None else key


def _value(record: Stored, name: str) -> str | None:
    """A property as HubSpot writes it; the id and the record's times are properties too."""
    if name == "hs_object_id":
        return record.id
    if name in (_created(record.kind), _modified(record.kind)):
        return _instant(record.created if name == _created(record.kind) else record.modified)
    return record.properties.get(name)


def _created(kind: str) -> str:
    return "hs_createdate" if kind in ENGAGEMENTS else "createdate"


def _modified(kind: str) -> str:
    """The property holding a record's last-modified time (contacts name theirs differently)."""
    return "lastmodifieddate" if kind == "contacts" else "hs_lastmodifieddate"


def _shown(record: Stored, properties: Iterable[str], with_contacts: bool = False) -> Params:
    """A record as the search and list endpoints answer it (the id and times always among its properties)."""
    names = dict.fromkeys([*properties, _created(record.kind), _modified(record.kind), "hs_object_id"])
    shown: Params = {"id": record.id, "properties": {name: _value(record, name) for name in names},
                     "createdAt": _instant(record.created), "updatedAt": _instant(record.modified), "archived": False}
    if with_contacts and record.contacts:
        link = f"{record.kind[:-1]}_to_contact"
        shown["associations"] = {"contacts": {"results": [{"id": c, "type": link} for c in record.contacts]}}
    return shown


def _owner(record: Stored) -> Params:
    return {"id": record.id, "email": record.properties.get("email"), "firstName": record.properties.get("firstName"),
            "lastName": record.properties.get("lastName"), "type": "PERSON",
            "createdAt": _instant(record.created), "updatedAt": _instant(record.modified), "archived": False}


def _account() -> Params:
    return {"portalId": PORTAL_ID, "accountType": "STANDARD", "timeZone": "US/Eastern", "companyCurrency": "USD",
            "additionalCurrencies": [], "utcOffset": "-05:00", "utcOffsetMilliseconds": -18_000_000,
            "uiDomain": "app.hubspot.com", "dataHostingLocation": "na1"}


def _slide(moments: deque[float], now: float, span: float) -> None:
    """Forget the moments older than `span` seconds."""
    while moments and moments[0] <= now - span:
        moments.popleft()


def _milliseconds(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def _instant(moment: datetime) -> str:
    """A time as HubSpot writes it (Java's Instant: milliseconds only when there are some)."""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return _instant(value) if isinstance(value, datetime) else str(value)


def _burst_limited(retry_after: int) -> Reply:
    body = {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT", "correlationId": str(uuid.uuid4()), "policyName": "TEN_SECONDLY_ROLLING"}
    return Reply.json(body, 429, {"Retry-After": str(retry_after), "X-HubSpot-RateLimit-Max": str(BURST_LIMIT),
                                  "X-HubSpot-RateLimit-Remaining": "0"})


def _error(refusal: Refusal) -> Reply:
    body = {"status": "error", "message": str(refusal), "correlationId": str(uuid.uuid4()),
            "category": refusal.category, **refusal.extra}
    return Reply.json(body, refusal.status)
