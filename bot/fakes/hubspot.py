"""A local stand-in for HubSpot's CRM API that answers like HubSpot and records every request.

Served: CRM v3 object lists and searches (contacts, companies, deals and the emails, meetings, calls and notes
engagements), owners, v4 association batch reads (to contacts) and the account details. As strict as HubSpot where
a connector could go wrong: a bearer token is required (401 INVALID_AUTHENTICATION) and each object needs its read
scope (403 MISSING_SCOPES naming it); a search pages by an offset `after`, at most 200 a page, and refuses to page
past its 10,000th result (400); searches are limited to 5 a second per account (429 "secondly limit", without
Retry-After); lists take at most 100 a page; an association batch read at most 100 ids, answered 207 with a
NO_ASSOCIATIONS_FOUND error for an object that has none; any other path is a 404.

The write side a score write-back uses: batch updates (at most 100 inputs, scope crm.objects.{kind}.write; a
property that does not exist, is read-only or gets a value its type refuses fails the whole batch 400
VALIDATION_ERROR; an id that does not exist, or was archived, is answered as HubSpot documents it: 207 Multi-Status
with an OBJECT_NOT_FOUND error naming it in `context.ids`, the others written; `missing_ids_fail_batch` answers 400
naming it instead, nothing written). A write moves the record's last-modified time, as HubSpot's does (its
`lastmodifieddate` is the time of any property change): a search after it finds the record again. Properties and
property groups are listed, read and created (scope crm.schemas.{kind}.write; 409 for a name taken).

What a search body finds, in which order, and which bodies it refuses: `bot.fakes.hubspot_search`.
"""

from __future__ import annotations

import itertools
import json
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.fakes._server import FakeServer, Reply, Request
from bot.fakes.hubspot_search import (
    ENGAGEMENTS,
    EPOCH,
    Params,
    Refusal,
    Stored,
    created_property,
    in_sort_order,
    instant,
    limit_and_offset,
    modified_property,
    predicate,
    property_value,
    sort_key,
    whole,
    within,
)

PORTAL_ID = 2_519_445
USER_ID, APP_ID = 7_741_093, 3_118_204  # the private app's maker and the app, as the token info names them
LIST_PAGE = 100  # most records an object list page holds
OWNERS_PAGE = 500
ASSOCIATION_INPUTS = 100
BATCH_INPUTS = 100  # most inputs a batch update takes
DAILY_LIMIT, BURST_LIMIT, BURST_MS = 500_000, 190, 10_000  # a Professional account's private app
START = datetime(2025, 1, 1, tzinfo=UTC)  # records added without a time are modified a second apart from here
OBJECT_TYPES = {"contacts": "0-1", "companies": "0-2", "deals": "0-3", "notes": "0-46", "meetings": "0-47",
                "calls": "0-48", "emails": "0-49"}
TO_CONTACT = {"deals": 3, "notes": 202, "meetings": 200, "calls": 194, "emails": 198}  # HUBSPOT_DEFINED type ids
SCOPES = {"contacts": "crm.objects.contacts.read", "companies": "crm.objects.companies.read",
          "deals": "crm.objects.deals.read", "owners": "crm.objects.owners.read",
          **{kind: "crm.objects.contacts.read" for kind in ENGAGEMENTS}}  # engagements are read with contacts'
EMAIL_SCOPE = "sales-email-read"  # an email engagement's content (HubSpot's changelog "New scope required to get
# the content of email engagements": without it, an email's details are redacted from the answer)
EMAIL_CONTENT = frozenset({"hs_email_text", "hs_email_html", "hs_email_subject"})
READ_SCOPES = frozenset({*SCOPES.values(), EMAIL_SCOPE})
DEFAULT_PROPERTIES = {"contacts": ("email", "firstname", "lastname"), "companies": ("domain", "name"),
                      "deals": ("amount", "closedate", "dealname", "dealstage", "pipeline")}
ROUTES = (  # verb, path, what the fake records the call as ({kind}: the object kind the path names)
    ("GET", re.compile(r"/crm/v3/objects/(?P<kind>[\w-]+)"), "{kind}.list"),
    ("POST", re.compile(r"/crm/v3/objects/(?P<kind>[\w-]+)/search"), "{kind}.search"),
    ("POST", re.compile(r"/crm/v3/objects/(?P<kind>[\w-]+)/batch/update"), "{kind}.batch_update"),
    ("GET", re.compile(r"/crm/v3/properties/(?P<kind>[\w-]+)/groups"), "{kind}.groups"),
    ("POST", re.compile(r"/crm/v3/properties/(?P<kind>[\w-]+)/groups"), "{kind}.create_group"),
    ("GET", re.compile(r"/crm/v3/properties/(?P<kind>[\w-]+)/groups/(?P<groupName>[\w-]+)"), "{kind}.group"),
    ("GET", re.compile(r"/crm/v3/properties/(?P<kind>[\w-]+)"), "{kind}.properties"),
    ("POST", re.compile(r"/crm/v3/properties/(?P<kind>[\w-]+)"), "{kind}.create_property"),
    ("GET", re.compile(r"/crm/v3/properties/(?P<kind>[\w-]+)/(?P<propertyName>[\w-]+)"), "{kind}.property"),
    ("GET", re.compile(r"/crm/v3/owners/?"), "owners.list"),
    ("POST", re.compile(r"/crm/v4/associations/(?P<kind>[\w-]+)/(?P<to>[\w-]+)/batch/read"), "{kind}.associations"),
    ("GET", re.compile(r"/account-info/v3/details"), "account.details"),
    ("POST", re.compile(r"/oauth/v2/private-apps/get/access-token-info"), "token.info"),
)
FIELD_TYPES = {"bool": {"booleancheckbox", "calculation_equation"},  # each property type's valid fieldTypes
               "enumeration": {"booleancheckbox", "checkbox", "radio", "select", "calculation_equation"},
               "date": {"date"}, "datetime": {"date"}, "number": {"number", "calculation_equation"},
               "string": {"file", "text", "textarea", "calculation_equation", "html", "phonenumber"}}
BUILT_IN = {  # a few of HubSpot's own contact properties: name -> (type, fieldType, group, read-only)
    "email": ("string", "text", "contactinformation", False),
    "firstname": ("string", "text", "contactinformation", False),
    "lastname": ("string", "text", "contactinformation", False),
    "phone": ("string", "phonenumber", "contactinformation", False),
    "jobtitle": ("string", "text", "contactinformation", False),
    "hubspot_owner_id": ("enumeration", "select", "sales_properties", False),
    "associatedcompanyid": ("number", "number", "contactinformation", False),
    "hs_analytics_source": ("enumeration", "select", "analyticsinformation", True),
    "createdate": ("datetime", "date", "contactinformation", False),
    "lastmodifieddate": ("datetime", "date", "contactinformation", True),
    "hs_object_id": ("number", "number", "contactinformation", True),
}
BUILT_IN_GROUPS = {"contactinformation": "Contact information", "sales_properties": "Sales properties",
                   "analyticsinformation": "Web analytics history"}


class FakeHubSpot(FakeServer):
    """HubSpot's API at `.url` (the HUBSPOT_API_URL) for the private app `token` holding `scopes`.

    `clock` (seconds) paces the search rate limit: inject the clock a test's sleep moves. `records` holds what the
    CRM holds, by kind and id (change them through `add`, `change`, `touch` and `archive`: searches keep them in
    order), and `properties` / `groups` the contact property definitions and groups (HubSpot's own and those
    created); `down = True` is an outage (every request answered 503, counted in `refused`)."""

    def __init__(self, token: str, *, scopes: Iterable[str] = READ_SCOPES, clock: Callable[[], float] = time.monotonic,
                 searches_per_second: int | None = 5) -> None:
        super().__init__()
        self.url = self.base_url
        self.token = token
        self.scopes = set(scopes)
        self.describes_tokens = True  # False: the access-token-info call answers 404
        self.clock = clock
        self.searches_per_second = searches_per_second  # None: unlimited
        self.records: dict[str, dict[str, Stored]] = {kind: {} for kind in [*OBJECT_TYPES, "owners"]}
        self.archived: dict[str, dict[str, tuple[Stored, datetime]]] = {kind: {} for kind in OBJECT_TYPES}
        self.properties: dict[str, Params] = {name: _built_in(name, *spec) for name, spec in BUILT_IN.items()}
        self.groups: dict[str, Params] = {name: _group(name, label, n) for n, (name, label)
                                          in enumerate(BUILT_IN_GROUPS.items())}
        self.missing_ids_fail_batch = False  # True: a batch update naming an id that does not exist fails whole (400)
        self._version = 0  # moved by every change of a record: the searches' ordered records are made again
        self._orders: dict[tuple[str, str], tuple[int, list[Any], list[Stored]]] = {}
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
            created = properties.pop(created_property(kind), None)
            record = Stored(str(next(self._ids)), kind, {k: _text(v) for k, v in properties.items()},
                            datetime.fromisoformat(created) if isinstance(created, str) else created or moment, moment,
                            list(contacts))
            self.records[kind][record.id] = record
            self._version += 1
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
            self._version += 1

    def change(self, kind: str, record_id: str, *, at: datetime | None = None, **properties: Any) -> None:
        """Set these properties of one record (none: only touch it), modified `at` (default: a second after the
        latest modification so far)."""
        with self._changed:
            record = self.records[kind][record_id]
            record.properties.update({name: _text(value) for name, value in properties.items()})
            record.touch(self._moment(at))
            self._version += 1

    def merge(self, primary: str, secondary: str, *, at: datetime | None = None, new_id: bool = False) -> str:
        """Merge two contacts as HubSpot does: the secondary is found no more; the contact that remains (the primary,
        or with `new_id` a record under a new id, as HubSpot gives some merges) lists every id it took in in
        `hs_merged_object_ids` and is modified `at`; the deals and engagements of both are associated with it (an
        association dates nothing). The remaining contact's id."""
        with self._changed:
            contacts = self.records["contacts"]
            kept, gone = contacts[primary], contacts.pop(secondary)
            merged = [*(kept.properties.get("hs_merged_object_ids") or "").split(";"),
                      *(gone.properties.get("hs_merged_object_ids") or "").split(";"), primary, secondary]
            if new_id:
                del contacts[primary]
                kept = Stored(str(next(self._ids)), "contacts", dict(kept.properties), kept.created, kept.modified)
                contacts[kept.id] = kept
            kept.properties["hs_merged_object_ids"] = ";".join(dict.fromkeys(m for m in merged if m and m != kept.id))
            kept.touch(self._moment(at))
            for kind in ("deals", *ENGAGEMENTS):
                for record in self.records[kind].values():
                    if primary in record.contacts or secondary in record.contacts:
                        record.contacts = list(dict.fromkeys(
                            kept.id if c in (primary, secondary) else c for c in record.contacts))
            self._version += 1
            return kept.id

    def archive(self, kind: str, ids: Iterable[str], *, at: datetime | None = None) -> None:
        """Archive (delete) these records `at`: searches find them no more, the list with `archived=true` does
        (with their archivedAt)."""
        with self._changed:
            moment = self._moment(at)
            for record_id in ids:
                self.archived[kind][record_id] = (self.records[kind].pop(record_id), moment)
            self._version += 1

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
            name, kinds, named = _route(request)
            params: Params = {}
            try:
                params = {**request.query, **_body(request), **named}
                if retry_after is not None:
                    return _burst_limited(retry_after), name, params
                return self._handle(request, name, kinds, params), name, params
            except Refusal as refusal:
                return _error(refusal), name, params
            except (KeyError, TypeError, AttributeError, ValueError) as error:  # a body HubSpot could not read
                return _error(Refusal(400, f"Invalid input: {error!r}", "VALIDATION_ERROR")), name, params

    def _handle(self, request: Request, name: str, kinds: list[str], params: Params) -> Reply:
        if name == "token.info":  # the token is in the body, no Authorization needed
            return self._token_info(params)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            raise Refusal(401, "Authentication credentials not found. This API supports OAuth 2.0 authentication and "
                          "you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                          "INVALID_AUTHENTICATION")
        if name == "unknown":
            raise Refusal(404, f"Unable to route {request.verb} request to {request.path}", "OBJECT_NOT_FOUND")
        if name == "account.details":
            return self._reply(_account())
        kind, route = name.split(".")
        required = _scopes(kind, route)
        if not self.scopes & set(required):
            raise Refusal(403, "This app hasn't been granted all required scopes to make this call.",
                          "MISSING_SCOPES", errors=[{"message": "One or more of the following scopes are required.",
                                                     "context": {"requiredGranularScopes": required}}])
        if route == "search":
            return self._search(kind, params)
        if route == "associations":
            return self._associations(kind, kinds[-1], params)
        if route == "batch_update":
            return self._batch_update(kind, params)
        if route in ("properties", "property", "create_property", "groups", "group", "create_group"):
            return self._schema(kind, route, params)
        return self._reply(self._list(kind, params))

    def _token_info(self, params: Params) -> Reply:
        """A private app token's account, user, app and scopes (HubSpot's private apps guide; the body of a refusal
        for a token it does not know is not documented: answered as any unauthenticated call)."""
        if not self.describes_tokens:  # as for a token that is not a private app's (an OAuth or a service key)
            raise Refusal(404, "Unable to route POST request to /oauth/v2/private-apps/get/access-token-info",
                          "OBJECT_NOT_FOUND")
        if params.get("tokenKey") != self.token:
            raise Refusal(401, "The access token is not valid or has expired.", "INVALID_AUTHENTICATION")
        return self._reply({"userId": USER_ID, "hubId": PORTAL_ID, "appId": APP_ID,
                            "scopes": sorted({"oauth", *self.scopes})})

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
        limit, offset = limit_and_offset(params)
        groups, sorts = params.get("filterGroups") or [], params.get("sorts") or []
        meets = predicate(groups)
        found = self._in_order(kind, groups, sorts)
        if found is None:
            found = in_sort_order([record for record in self.records[kind].values() if meets(record)], sorts)
        properties = params.get("properties") or DEFAULT_PROPERTIES.get(kind, ())
        if kind == "emails" and EMAIL_SCOPE not in self.scopes:  # readable with the contacts scope, not their content
            properties = [name for name in properties if name not in EMAIL_CONTENT]
        answer: Params = {"total": len(found), "results": [_shown(r, properties) for r in found[offset:offset + limit]]}
        if offset + limit < len(found):
            answer["paging"] = {"next": {"after": str(offset + limit)}}
        return Reply.json(answer, 200, {"X-HubSpot-RateLimit-Daily": str(DAILY_LIMIT),
                                        "X-HubSpot-RateLimit-Daily-Remaining": str(DAILY_LIMIT - self._received)})

    def _in_order(self, kind: str, groups: list[Params], sorts: list[Params]) -> list[Stored] | None:
        """A search sorted ascending on one property, with at most one filter group, answered from the records
        kept in that order: bounds on the sorted property found by bisection, other filters applied to what lies
        between (None: another search, answered by filtering and sorting every record)."""
        if len(sorts) != 1 or sorts[0].get("direction") == "DESCENDING" or len(groups) > 1:
            return None
        name = sorts[0]["propertyName"]
        version, keys, ordered = self._orders.get((kind, name), (-1, [], []))
        if version != self._version:
            ordered = sorted(self.records[kind].values(), key=lambda record: (sort_key(record, name), int(record.id)))
            keys = [sort_key(record, name) for record in ordered]
            self._orders[(kind, name)] = (self._version, keys, ordered)
        return within(ordered, keys, name, (groups[0].get("filters") or []) if groups else [])

    def _list(self, kind: str, params: Params) -> Params:
        limit = whole(params.get("limit", 10 if kind != "owners" else 100), "limit")
        most = OWNERS_PAGE if kind == "owners" else LIST_PAGE
        if not 1 <= limit <= most:
            raise Refusal(400, f"limit must be between 1 and {most}, not {limit}", "VALIDATION_ERROR")
        archived = str(params.get("archived", "false")).lower() == "true" and kind != "owners"
        records = sorted(self.records[kind].values() if not archived else
                         [record for record, _ in self.archived[kind].values()], key=lambda record: int(record.id))
        after = whole(params.get("after") or 0, "after")
        page = [record for record in records if int(record.id) >= after][:limit]
        if kind == "owners":
            results = [_owner(record) for record in page]
        else:
            properties = _listed(params.get("properties")) or DEFAULT_PROPERTIES.get(kind, ())
            results = [_shown(record, properties, with_contacts="contacts" in _listed(params.get("associations")))
                       for record in page]
            if archived:  # as HubSpot answers an archived record: archived, with when
                results = [{**result, "archived": True, "archivedAt": instant(self.archived[kind][record.id][1])}
                           for result, record in zip(results, page, strict=True)]
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
        stamp = instant(datetime.now(UTC))
        answer: Params = {"status": "COMPLETE", "results": results, "startedAt": stamp, "completedAt": stamp}
        if errors:
            answer |= {"numErrors": len(errors), "errors": errors}
        return self._reply(answer, 207 if errors else 200)

    def _batch_update(self, kind: str, params: Params) -> Reply:
        """Write the inputs' properties (the whole batch refused when one is invalid); an id that does not exist is
        an error of its own (207), or the whole batch's (400) with `missing_ids_fail_batch`."""
        inputs = params.get("inputs")
        if not isinstance(inputs, list) or not 1 <= len(inputs) <= BATCH_INPUTS:
            raise Refusal(400, f"inputs must hold 1 to {BATCH_INPUTS} records, not "
                          f"{len(inputs) if isinstance(inputs, list) else 'none'}", "VALIDATION_ERROR")
        ids = [str(item["id"]) for item in inputs]
        if len(set(ids)) < len(ids):
            twice = sorted({crm_id for crm_id in ids if ids.count(crm_id) > 1})
            raise Refusal(400, f"Duplicate IDs found in batch input: {twice}. IDs must be unique", "VALIDATION_ERROR")
        values = [self._valid(kind, item.get("properties")) for item in inputs]
        missing = [crm_id for crm_id in ids if crm_id not in self.records[kind]]
        object_name = kind[:-1].upper()
        if missing and self.missing_ids_fail_batch:
            raise Refusal(400, f"Could not update some {object_name} objects, they may be deleted or not exist: "
                          f"{', '.join(missing)}", "VALIDATION_ERROR", context={"ids": missing})
        moment = self._moment(None)  # a property written is a modification
        self._version += 1
        results = []
        for crm_id, written in zip(ids, values, strict=True):
            if crm_id in missing:
                continue
            record = self.records[kind][crm_id]
            record.properties.update(written)
            record.touch(moment)
            results.append(_shown(record, written))
        stamp = instant(datetime.now(UTC))
        answer: Params = {"status": "COMPLETE", "results": results, "startedAt": stamp, "completedAt": stamp}
        if missing:
            answer |= {"numErrors": 1, "errors": [{
                "status": "error", "category": "OBJECT_NOT_FOUND", "context": {"ids": missing},
                "message": f"Could not get some {object_name} objects, they may be deleted or not exist. Check that "
                           "ids are valid."}]}
        return self._reply(answer, 207 if missing else 200)

    def _valid(self, kind: str, values: Any) -> dict[str, str | None]:
        """One input's properties as stored; the whole batch refused (400) when one is not writable."""
        if kind != "contacts" or not isinstance(values, dict):
            raise Refusal(400, f"FakeHubSpot writes contacts' properties only, not those of {kind}", "VALIDATION_ERROR")
        stored: dict[str, str | None] = {}
        problems = []
        for name, value in values.items():
            definition = self.properties.get(name)
            text = None if value is None else str(value)
            problem = _invalid(definition, name, text)
            if problem:
                problems.append(problem)
            elif definition is not None:
                stored[name] = _stored(definition["type"], text)
        if problems:
            raise Refusal(400, f"Property values were not valid: {json.dumps(problems)}", "VALIDATION_ERROR",
                          errors=[{"message": problem["message"], "code": problem["error"],
                                   "context": {"propertyName": [problem["name"]]}} for problem in problems])
        return stored

    def _schema(self, kind: str, route: str, params: Params) -> Reply:
        """Contact properties and property groups: listed, read by name, created (201; 409 for a name taken)."""
        if kind != "contacts":
            raise Refusal(400, f"FakeHubSpot keeps contacts' properties only, not those of {kind}", "VALIDATION_ERROR")
        found = self.groups if "group" in route else self.properties
        what = "group" if "group" in route else "property"
        if route in ("properties", "groups"):
            return self._reply({"results": list(found.values())})
        if route in ("property", "group"):
            name = params["groupName" if route == "group" else "propertyName"]
            if name not in found:
                raise Refusal(404, f"Unable to find {what} {name} for object type {OBJECT_TYPES[kind]}",
                              "OBJECT_NOT_FOUND")
            return self._reply(found[name])
        name, label = params.get("name"), params.get("label")
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name) or not label:
            raise Refusal(400, f"a {what} needs a name (lower case letters, digits and _) and a label",
                          "VALIDATION_ERROR")
        if name in found:
            raise Refusal(409, f"A {what} named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
        if route == "create_group":
            found[name] = _group(name, str(label), int(params.get("displayOrder", -1)))
        else:
            found[name] = self._definition(params)
        return self._reply(found[name], 201)

    def _definition(self, params: Params) -> Params:
        kind, field_type, group = params.get("type"), params.get("fieldType"), params.get("groupName")
        if kind not in FIELD_TYPES or field_type not in FIELD_TYPES[kind]:
            raise Refusal(400, f"{field_type!r} is not a valid fieldType for a property of type {kind!r}",
                          "VALIDATION_ERROR")
        if group not in self.groups:
            raise Refusal(400, f"property group {group!r} does not exist", "VALIDATION_ERROR")
        options = params.get("options") or []
        if kind == "enumeration" and not options:
            raise Refusal(400, "an enumeration property needs options", "VALIDATION_ERROR")
        return _built_in(str(params["name"]), str(kind), str(field_type), str(group), False) | {
            "label": params["label"], "description": params.get("description", ""), "hubspotDefined": False,
            "options": [{"label": o["label"], "value": o["value"], "displayOrder": o.get("displayOrder", n),
                         "hidden": bool(o.get("hidden", False))} for n, o in enumerate(options)],
            "modificationMetadata": {"archivable": True, "readOnlyDefinition": False, "readOnlyValue": False}}


def _scopes(kind: str, route: str) -> list[str]:
    """The scopes of which a request needs one."""
    if route == "batch_update":
        return [f"crm.objects.{kind}.write"]
    if route.startswith("create_"):
        return [f"crm.schemas.{kind}.write"]
    if route in ("properties", "property", "groups", "group"):
        return [f"crm.schemas.{kind}.read", f"crm.schemas.{kind}.write", SCOPES[kind]]
    return [SCOPES[kind]]


def _built_in(name: str, kind: str, field_type: str, group: str, read_only: bool) -> Params:
    """A property definition as HubSpot lists it."""
    return {"name": name, "label": name, "type": kind, "fieldType": field_type, "groupName": group,
            "description": "", "options": [], "displayOrder": -1, "calculated": False, "externalOptions": False,
            "hasUniqueValue": False, "hidden": False, "hubspotDefined": True, "formField": False, "archived": False,
            "createdAt": instant(START), "updatedAt": instant(START),
            "modificationMetadata": {"archivable": False, "readOnlyDefinition": True, "readOnlyValue": read_only}}


def _group(name: str, label: str, order: int) -> Params:
    return {"name": name, "label": label, "displayOrder": order, "archived": False}


def _invalid(definition: Params | None, name: str, value: str | None) -> Params | None:
    """Why HubSpot would refuse this value for this property (as its validation results say), or None."""
    def refused(error: str, message: str) -> Params:
        return {"isValid": False, "message": message, "error": error, "name": name}

    if definition is None:
        return refused("PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
    if definition["modificationMetadata"]["readOnlyValue"]:
        return refused("READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot be set.')
    if not value:  # an empty string clears a value
        return None
    kind = definition["type"]
    try:
        if kind == "number":
            float(value)
        elif kind in ("date", "datetime"):
            moment = _written_time(value)
            if kind == "date" and moment.timestamp() % 86_400:
                return refused("INVALID_DATE", f"{value} is not at midnight UTC")
    except ValueError:
        return refused("INVALID_INTEGER" if kind == "number" else "INVALID_DATE",
                       f"{value} was not a valid {'number' if kind == 'number' else 'date'}.")
    allowed = {option["value"] for option in definition["options"]}
    if kind == "enumeration" and allowed and value not in allowed:
        return refused("INVALID_OPTION", f"{value} was not one of the allowed options: {sorted(allowed)}")
    return None


def _written_time(value: str) -> datetime:
    """A date or time as a write gives it: epoch milliseconds or ISO 8601 (UTC when it has no offset)."""
    if value.lstrip("-").isdecimal():
        return EPOCH + timedelta(milliseconds=int(value))
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _stored(kind: str, value: str | None) -> str | None:
    """A written value as HubSpot answers it later (times in ISO 8601)."""
    return instant(_written_time(value)) if value and kind in ("date", "datetime") else value


def _route(request: Request) -> tuple[str, list[str], Params]:
    """What the request is recorded as (`unknown` when HubSpot has no such path), the object kinds it names and the
    other names in its path (a property's, a group's)."""
    for verb, pattern, name in ROUTES:
        match = pattern.fullmatch(request.path)
        if match is None or verb != request.verb:
            continue
        named = match.groupdict()
        kinds = [_kind(named.pop(part)) for part in ("kind", "to") if part in named]
        if None not in kinds:
            return name.format(kind=kinds[0] if kinds else ""), [str(kind) for kind in kinds], named
    return "unknown", [], {}


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


def _listed(value: Any) -> list[str]:
    """A query parameter given repeated or comma-separated."""
    values = value if isinstance(value, list) else [value] if value else []
    return [part for item in values for part in str(item).split(",") if part]


def _shown(record: Stored, properties: Iterable[str], with_contacts: bool = False) -> Params:
    """A record as the search and list endpoints answer it (the id and times always among its properties)."""
    names = dict.fromkeys([*properties, created_property(record.kind), modified_property(record.kind), "hs_object_id"])
    shown: Params = {"id": record.id, "properties": {name: property_value(record, name) for name in names},
                     "createdAt": instant(record.created), "updatedAt": instant(record.modified), "archived": False}
    if with_contacts and record.contacts:
        link = f"{record.kind[:-1]}_to_contact"
        shown["associations"] = {"contacts": {"results": [{"id": c, "type": link} for c in record.contacts]}}
    return shown


def _owner(record: Stored) -> Params:
    return {"id": record.id, "email": record.properties.get("email"), "firstName": record.properties.get("firstName"),
            "lastName": record.properties.get("lastName"), "type": "PERSON",
            "createdAt": instant(record.created), "updatedAt": instant(record.modified), "archived": False}


def _account() -> Params:
    return {"portalId": PORTAL_ID, "accountType": "STANDARD", "timeZone": "US/Eastern", "companyCurrency": "USD",
            "additionalCurrencies": [], "utcOffset": "-05:00", "utcOffsetMilliseconds": -18_000_000,
            "uiDomain": "app.hubspot.com", "dataHostingLocation": "na1"}


def _slide(moments: deque[float], now: float, span: float) -> None:
    """Forget the moments older than `span` seconds."""
    while moments and moments[0] <= now - span:
        moments.popleft()


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return instant(value) if isinstance(value, datetime) else str(value)


def _burst_limited(retry_after: int) -> Reply:
    body = {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT", "correlationId": str(uuid.uuid4()), "policyName": "TEN_SECONDLY_ROLLING"}
    return Reply.json(body, 429, {"Retry-After": str(retry_after), "X-HubSpot-RateLimit-Max": str(BURST_LIMIT),
                                  "X-HubSpot-RateLimit-Remaining": "0"})


def _error(refusal: Refusal) -> Reply:
    body = {"status": "error", "message": str(refusal), "correlationId": str(uuid.uuid4()),
            "category": refusal.category, **refusal.extra}
    return Reply.json(body, refusal.status)
