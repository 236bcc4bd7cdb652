"""A local stand-in for Salesforce: its OAuth token endpoint and the REST query resource, over HTTPS, recording
every request.

HTTPS because simple-salesforce builds every instance URL as https://…; the certificate is made per fake, and
`env()` holds the variables under which requests and httpx trust it. The login host is `localhost` (think
login.salesforce.com) and the instance is `127.0.0.1` (the org's My Domain): both answer the password flow, and
only the My Domain the client-credentials flow, as Salesforce does.

As strict as Salesforce where a connector could go wrong: a bad login is `invalid_client_id`, `invalid_client` or
`invalid_grant` (HTTP 400); a missing, bad or expired session is 401 INVALID_SESSION_ID; past the org's API
limit, 403 REQUEST_LIMIT_EXCEEDED; each REST call with a session counts in the Sforce-Limit-Info header. Queries
are paged in batches (2,000 by default) through nextRecordsUrl; the SOQL understood, and what is refused, is in
`bot.fakes.soql`.

The write side a score write-back needs: the sObject Collections update (PATCH composite/sobjects, up to 200
records: a request Salesforce cannot read, an unknown object or a field the user cannot see fails whole with 400;
a deleted, converted, locked (`locked`), unknown or wrong-type record, or a value too long or too large, fails
that record alone, unless allOrNone rolls every record back), `describe`, and the Tooling API's CustomField create
(a duplicate is DUPLICATE_DEVELOPER_NAME; `customize_application = False` refuses it as for a user without
Customize Application). As in Salesforce, a custom field the API created is invisible to the API user (describe
omits it, a write naming it is INVALID_FIELD) until field-level security grants it: `grant_field_access()`, the
admin's step.
Written values are kept on the records (`records[object][Id]`); `fail_next` and `down` apply to every request;
`fail_at` and `expire_session_at` plan a failure or an expiry some requests ahead (in the middle of a sync).
"""

from __future__ import annotations

import base64
import ipaddress
import itertools
import json
import re
import secrets
import ssl
import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.fakes._server import FakeServer, Reply, Request, decode_params
from bot.fakes.soql import Query, Refusal, Schema, parse, select

Row = dict[str, Any]
API_LIMIT = 100_000  # an Enterprise Edition org's daily allocation
BATCH = 2_000  # Salesforce's default (and largest) query batch
ORG_ID = "00D5g000004HoTLEAD"
PREFIXES = {"User": "005", "Account": "001", "Lead": "00Q", "Contact": "003", "Opportunity": "006",
            "OpportunityContactRole": "00K", "Task": "00T", "Event": "00U"}
_ACTIVITY = {"WhoId": "reference", "WhatId": "reference", "Subject": "string", "Description": "string",
             "ActivityDate": "date", "Type": "string", "OwnerId": "reference"}
# object -> field -> type, besides Id, CreatedDate, LastModifiedDate and SystemModstamp
FIELDS: dict[str, dict[str, str]] = {
    "User": {"FirstName": "string", "LastName": "string", "Name": "string", "Email": "string", "Username": "string",
             "IsActive": "boolean", "UserType": "string"},
    "Account": {"Name": "string", "Website": "string", "Industry": "string", "NumberOfEmployees": "int",
                "BillingCountry": "string", "OwnerId": "reference"},
    "Lead": {"FirstName": "string", "LastName": "string", "Name": "string", "Company": "string", "Email": "string",
             "Phone": "string", "Title": "string", "LeadSource": "string", "Status": "string", "OwnerId": "reference",
             "IsConverted": "boolean", "ConvertedContactId": "reference", "ConvertedAccountId": "reference",
             "ConvertedDate": "date"},
    "Contact": {"FirstName": "string", "LastName": "string", "Name": "string", "AccountId": "reference",
                "Email": "string", "Phone": "string", "Title": "string", "LeadSource": "string",
                "OwnerId": "reference"},
    "Opportunity": {"Name": "string", "AccountId": "reference", "StageName": "string", "Amount": "double",
                    "CloseDate": "date", "IsClosed": "boolean", "IsWon": "boolean", "OwnerId": "reference"},
    "OpportunityContactRole": {"OpportunityId": "reference", "ContactId": "reference", "Role": "string",
                               "IsPrimary": "boolean"},
    "Task": {**_ACTIVITY, "Status": "string", "TaskSubtype": "string", "CallType": "string"},
    "Event": {**_ACTIVITY, "StartDateTime": "datetime", "EndDateTime": "datetime"},
}
REQUIRED = {"User": ("LastName", "Email", "Username"), "Account": ("Name",), "Lead": ("LastName", "Company"),
            "Contact": ("LastName",), "Opportunity": ("Name", "StageName", "CloseDate"),
            "OpportunityContactRole": ("OpportunityId", "ContactId"), "Task": (), "Event": ("StartDateTime",)}
REFERS = {"OwnerId": ("User",), "AccountId": ("Account",), "ContactId": ("Contact",), "WhoId": ("Lead", "Contact"),
          "OpportunityId": ("Opportunity",)}
DERIVED = {"User": ("Name",), "Lead": ("Name", "IsConverted", "ConvertedContactId", "ConvertedAccountId",
                                       "ConvertedDate"), "Contact": ("Name",), "Opportunity": ("IsClosed", "IsWon")}
DEFAULTS: dict[str, Row] = {"User": {"IsActive": True, "UserType": "Standard"}, "Lead": {"IsConverted": False}}
CHILDREN = {("Opportunity", "opportunitycontactroles"): ("OpportunityContactRoles", "OpportunityContactRole",
                                                         "OpportunityId")}
CLOSED_STAGES = {"Closed Won": True, "Closed Lost": False}  # the standard sales process's closed stages -> IsWon
SYSTEM = {"Id": "id", "CreatedDate": "datetime", "LastModifiedDate": "datetime", "SystemModstamp": "datetime",
          "IsDeleted": "boolean"}
SCHEMA = Schema({sobject: {**SYSTEM, **fields} for sobject, fields in FIELDS.items()}, CHILDREN)  # what SOQL names
_QUERY = re.compile(r"/services/data/v(?P<version>\d+\.\d)/(?P<endpoint>queryAll|query)/?"
                    r"(?:(?P<locator>01g\w+)-(?P<offset>\d+))?")
_COLLECTIONS = re.compile(r"/services/data/v\d+\.\d/composite/sobjects/?")
_DESCRIBE = re.compile(r"/services/data/v\d+\.\d/sobjects/(?P<object>\w+)/describe/?")
_CUSTOM_FIELD = re.compile(r"/services/data/v\d+\.\d/tooling/sobjects/CustomField/?")
ROUTES = (("query", "GET", _QUERY), ("describe", "GET", _DESCRIBE), ("composite", "PATCH", _COLLECTIONS),
          ("tooling", "POST", _CUSTOM_FIELD))  # recorded method, verb, path
_FULL_NAME = re.compile(r"(?P<object>\w+)\.(?P<field>[A-Za-z](?:[A-Za-z0-9]|_(?!_))*__c)")
_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
MAX_RECORDS = 200  # an sObject Collections request's limit
CUSTOM_TYPES = {"Number": "double", "Text": "string", "LongTextArea": "textarea", "DateTime": "datetime"}
SIZES = {"Number": {"precision", "scale"}, "Text": {"length"}, "LongTextArea": {"length", "visibleLines"},
         "DateTime": set()}  # a custom field type's size settings: each required, no other allowed
METADATA_KEYS = frozenset({"label", "type", "description", "inlineHelpText", "required", "unique", "externalId",
                           "defaultValue", "precision", "scale", "length", "visibleLines"})
ROLLED_BACK = "Record rolled back because not all records were valid and the request was using AllOrNone header"


class FakeSalesforce(FakeServer):
    """Salesforce at `.login_url` (the token endpoint's host) and `.instance_url` (the org's My Domain)."""

    def __init__(self, *, client_id: str, client_secret: str, username: str = "hotlead@example.com",
                 password: str = "password", security_token: str | None = "token", batch_size: int = BATCH,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__()
        self.client_id, self.client_secret = client_id, client_secret
        self.username, self.password, self.security_token = username, password, security_token
        self.batch_size = batch_size
        self.clock = clock  # every record's CreatedDate, LastModifiedDate and SystemModstamp: inject one to order them
        self.api_limit = API_LIMIT
        self.api_usage = 0  # REST calls counted against the org's daily limit
        port = self._server.server_address[1]
        self.login_url = f"https://localhost:{port}"
        self.instance_url = f"https://127.0.0.1:{port}"
        self._tls = tempfile.TemporaryDirectory(prefix="fake-salesforce-")
        self.ca_file, context = _tls_context(Path(self._tls.name))
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True,
                                                  do_handshake_on_connect=False)
        self.records: dict[str, dict[str, Row]] = {name: {} for name in FIELDS}  # object -> Id -> fields
        self._ids = itertools.count(1)
        self._sessions: set[str] = set()
        self._cursors: dict[str, list[Row]] = {}  # query locator -> the query's rows
        self._every: set[str] = set()  # the query locators of queryAll queries
        self._failures: tuple[int, int] = (0, 503)
        self._received = 0  # requests answered (not those refused while `down`)
        self._planned: dict[int, list[Callable[[], None]]] = {}  # request number -> what happens just before it
        self._over_limit = 0
        self.custom_fields: dict[str, dict[str, Row]] = {name: {} for name in FIELDS}  # object -> name -> metadata
        self.visible: set[str] = set()  # custom fields ("Lead.Hotlead_Score__c") the API user has access to
        self.customize_application = True  # False: the API user may not create fields
        self.deleted: dict[str, str] = {}  # Id -> object, of deleted records
        self.recycled: dict[str, dict[str, Row]] = {sobject: {} for sobject in FIELDS}  # the Recycle Bin
        self.locked: set[str] = set()  # Ids another transaction holds: a write to one is UNABLE_TO_LOCK_ROW
        # the shared server answers GET and POST; sObject Collections updates are PATCH
        self._server.RequestHandlerClass = _with_patch(self._server.RequestHandlerClass)

    def stop(self) -> None:
        """Stop serving and delete the certificate."""
        super().stop()
        self._tls.cleanup()

    def env(self, flow: str = "password") -> dict[str, str]:
        """The environment for Hotlead's settings and for trusting this fake's certificate; `flow` password (a
        username, password and security token) or client_credentials (the connected app alone, at My Domain)."""
        trust = {"REQUESTS_CA_BUNDLE": self.ca_file, "SSL_CERT_FILE": self.ca_file}
        app = {"SALESFORCE_CLIENT_ID": self.client_id, "SALESFORCE_CLIENT_SECRET": self.client_secret}
        if flow == "client_credentials":
            return {**trust, **app, "SALESFORCE_LOGIN_URL": self.instance_url}
        user = {"SALESFORCE_USERNAME": self.username, "SALESFORCE_PASSWORD": self.password,
                "SALESFORCE_SECURITY_TOKEN": self.security_token or ""}
        return {**trust, **app, **user, "SALESFORCE_LOGIN_URL": self.login_url}

    def add(self, sobject: str, **fields: Any) -> str:
        """Create a record as the API would (required fields, references to existing records); its 18-character Id."""
        missing = [name for name in REQUIRED[sobject] if fields.get(name) in (None, "")]
        if missing:
            raise ValueError(f"REQUIRED_FIELD_MISSING: {sobject} needs {', '.join(missing)}")
        return self._insert(sobject, fields, self._now())

    def update(self, record_id: str, **fields: Any) -> None:
        """Change a record (no fields: touch it), moving its LastModifiedDate and SystemModstamp to now."""
        sobject = self._object_of(record_id)
        self._write(sobject, self.records[sobject][record_id], fields, self._now())

    def convert(self, lead_id: str, contact_id: str | None = None) -> str:
        """Convert a Lead as Salesforce's convertLead does, in one transaction (every record it touches modified at
        one instant): into a new Contact (and an Account named after its Company), or into the existing
        `contact_id`; its Tasks and Events move to the Contact; the Lead keeps IsConverted, ConvertedContactId,
        ConvertedAccountId and ConvertedDate, and refuses updates from then on. The Contact's Id."""
        with self._changed:
            lead = self.records["Lead"][lead_id]
            if lead["IsConverted"]:
                raise ValueError(f"CONVERTED_LEAD: {lead_id} was converted already")
            now = self._now()
            if contact_id is None:
                account = self._insert("Account", {"Name": lead["Company"], "OwnerId": lead["OwnerId"]}, now)
                contact_id = self._insert("Contact", {name: lead[name] for name in (
                    "FirstName", "LastName", "Email", "Phone", "Title", "LeadSource", "OwnerId")} | {
                    "AccountId": account}, now)
            contact = self.records["Contact"][contact_id]
            for sobject in ("Task", "Event"):
                for row in self.records[sobject].values():
                    if row["WhoId"] == lead_id:
                        row.update(WhoId=contact_id, LastModifiedDate=now, SystemModstamp=now)
            lead.update(IsConverted=True, ConvertedContactId=contact_id, ConvertedAccountId=contact["AccountId"],
                        ConvertedDate=now.date(), LastModifiedDate=now, SystemModstamp=now)
            return contact_id

    def _insert(self, sobject: str, fields: dict[str, Any], now: datetime) -> str:
        row: Row = {name: None for name in FIELDS[sobject]}
        row.update(DEFAULTS.get(sobject, {}), Id=_with_checksum(f"{PREFIXES[sobject]}5g{next(self._ids):010d}"),
                   CreatedDate=now, IsDeleted=False)
        self._write(sobject, row, fields, now)
        return str(row["Id"])

    def delete(self, record_id: str) -> None:
        """Delete a record into the Recycle Bin: queries no longer see it, queryAll does (IsDeleted true, its
        SystemModstamp the deletion's), a write to it is ENTITY_IS_DELETED."""
        sobject = self._object_of(record_id)
        with self._changed:
            row = self.records[sobject].pop(record_id)
            row.update(IsDeleted=True, SystemModstamp=self._now())
            self.recycled[sobject][record_id] = row
            self.deleted[record_id] = sobject

    def grant_field_access(self, *names: str) -> None:
        """Grant the API user field-level security on custom fields ("Lead.Hotlead_Score__c"; none named: every
        one), as an admin does in Setup."""
        with self._changed:
            self.visible.update(names or [f"{sobject}.{name}" for sobject, fields in self.custom_fields.items()
                                          for name in fields])

    def expire_session(self) -> None:
        """End every session: the next REST call with one is 401 INVALID_SESSION_ID."""
        with self._changed:
            self._sessions.clear()

    def exceed_api_limit(self, calls: int = 1) -> None:
        """Answer the next `calls` REST calls 403 REQUEST_LIMIT_EXCEEDED, as an org past its daily limit does."""
        with self._changed:
            self._over_limit = calls

    def fail_next(self, times: int, status: int = 503) -> None:
        """Answer the next `times` requests (login included) with `status` (refused, not recorded)."""
        with self._changed:
            self._failures = (times, status)

    def fail_at(self, n: int, times: int = 1, status: int = 503) -> None:
        """From the `n`th request from now (1: the next; login included), answer `times` requests with `status`,
        as `fail_next` does."""
        self._plan(n, lambda: self.fail_next(times, status))

    def expire_session_at(self, n: int) -> None:
        """End every session just before the `n`th request from now: that one, if it has a session, is 401
        INVALID_SESSION_ID."""
        self._plan(n, self._sessions.clear)

    def _plan(self, n: int, action: Callable[[], None]) -> None:
        if n < 1:
            raise ValueError(f"a request from now is the 1st or later, not the {n}th")
        with self._changed:
            self._planned.setdefault(self._received + n, []).append(action)

    def _now(self) -> datetime:
        moment = self.clock().astimezone(UTC)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)  # Salesforce keeps milliseconds

    def _object_of(self, record_id: str) -> str:
        found = [name for name, rows in self.records.items() if record_id in rows]
        if not found:
            raise ValueError(f"INVALID_CROSS_REFERENCE_KEY: no record {record_id}")
        return found[0]

    def _write(self, sobject: str, row: Row, fields: dict[str, Any], now: datetime) -> None:
        for name, value in fields.items():
            if name not in FIELDS[sobject] or name in DERIVED.get(sobject, ()):
                raise ValueError(f"INVALID_FIELD: {sobject}.{name} cannot be written")
            if value is not None and name in REFERS and self._object_of(value) not in REFERS[name]:
                raise ValueError(f"FIELD_INTEGRITY_EXCEPTION: {sobject}.{name} cannot refer to {value}")
        numbers = {name: float(value) for name, value in fields.items()
                   if FIELDS[sobject][name] == "double" and value is not None}  # currency comes back as 1000.0
        with self._changed:
            row.update(fields, **numbers, LastModifiedDate=now, SystemModstamp=now)
            if "Name" in DERIVED.get(sobject, ()):
                row["Name"] = " ".join(filter(None, (row.get("FirstName"), row["LastName"])))
            if sobject == "Opportunity":
                row["IsClosed"] = row["StageName"] in CLOSED_STAGES
                row["IsWon"] = CLOSED_STAGES.get(row["StageName"], False)
            self.records[sobject][row["Id"]] = row

    def _answer(self, request: Request) -> tuple[Reply, str | None, dict[str, Any]]:
        with self._changed:
            self._received += 1
            for action in self._planned.pop(self._received, []):
                action()
            times, status = self._failures
            if times > 0:
                self._failures = (times - 1, status)
                return _errors(status, "SERVER_UNAVAILABLE", "Injected failure"), None, {}
        if request.path == "/services/oauth2/token" and request.verb == "POST":
            params = decode_params(request, json_values=False)
            return self._token(request, params), "token", params
        method, verb, found = _route(request.path)
        params = dict(request.query)
        if request.verb in ("PATCH", "POST"):
            params.update(_body_params(request.raw))
        scheme, _, session = request.headers.get("authorization", "").partition(" ")
        with self._changed:
            if scheme not in ("Bearer", "OAuth") or session not in self._sessions:
                return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid"), method, params
            self.api_usage += 1
            limited = self._over_limit > 0 or self.api_usage > self.api_limit
            self._over_limit = max(self._over_limit - 1, 0)
            usage = {"Sforce-Limit-Info": f"api-usage={self.api_usage}/{self.api_limit}"}
        if limited:
            return _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", usage), method, params
        if found is None or request.verb != verb:
            return _errors(404, "NOT_FOUND", "The requested resource does not exist", usage), method, params
        try:
            if method == "queryMore":
                return self._batch(found["version"], found["locator"], int(found["offset"]), usage), method, params
            if method == "query":
                return self._query(found["version"], str(params.get("q", "")), usage,
                                   every=found["endpoint"] == "queryAll"), method, params
            if method == "describe":
                return self._describe(found["object"], usage), method, params
            body = _json_body(request)
            if method == "composite":
                return self._update_records(body, usage), method, params
            return self._create_field(body, usage), method, params
        except Refusal as error:
            return _errors(error.status, error.code, str(error), usage), method, params

    def _token(self, request: Request, form: dict[str, Any]) -> Reply:
        grant = form.get("grant_type")
        if "x-www-form-urlencoded" not in request.headers.get("content-type", "") or \
                grant not in ("password", "client_credentials"):
            return _oauth_error("unsupported_grant_type", "grant type not supported")
        if form.get("client_id") != self.client_id:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if form.get("client_secret") != self.client_secret:
            return _oauth_error("invalid_client", "invalid client credentials")
        if grant == "client_credentials" and request.headers.get("host") != self.instance_url.removeprefix("https://"):
            return _oauth_error("invalid_grant", "request not supported on this domain")
        if grant == "password" and (form.get("username") != self.username
                                    or form.get("password") != self.password + (self.security_token or "")):
            return _oauth_error("invalid_grant", "authentication failure")
        session = f"{ORG_ID[:15]}!{secrets.token_urlsafe(48)}"
        with self._changed:
            self._sessions.add(session)
        issued = str(int(self.clock().timestamp() * 1000))
        return Reply.json({"access_token": session, "instance_url": self.instance_url,
                           "id": f"{self.login_url}/id/{ORG_ID}/005000000000001AAA", "token_type": "Bearer",
                           "issued_at": issued, "signature": base64.b64encode(secrets.token_bytes(32)).decode()})

    def _query(self, version: str, soql: str, usage: dict[str, str], *, every: bool = False) -> Reply:
        """A query's first batch; `every` (queryAll): the Recycle Bin's records too."""
        query = parse(soql, SCHEMA)
        with self._changed:
            seen = {sobject: {**rows, **self.recycled[sobject]} for sobject, rows in self.records.items()} \
                if every else self.records
            rows = [_project(query, row, version, self.records) for row in select(query, seen)]
            locator = _with_checksum(f"01g5g{next(self._ids):010d}")
            self._cursors[locator] = rows
            if every:
                self._every.add(locator)
        return self._batch(version, locator, 0, usage)

    def _batch(self, version: str, locator: str, offset: int, usage: dict[str, str]) -> Reply:
        with self._changed:
            rows = self._cursors.get(locator)
        if rows is None or offset > len(rows):
            raise Refusal("INVALID_QUERY_LOCATOR", "invalid query locator")
        end = offset + self.batch_size
        answer: Row = {"totalSize": len(rows), "done": end >= len(rows), "records": rows[offset:end]}
        if end < len(rows):
            endpoint = "queryAll" if locator in self._every else "query"
            answer["nextRecordsUrl"] = f"/services/data/v{version}/{endpoint}/{locator}-{end}"
        return Reply.json(answer, headers=usage)


    def _describe(self, name: str, usage: dict[str, str]) -> Reply:
        """The object's fields the API user can see: the standard ones, and the custom ones granted to it."""
        sobject = _object_named(name)
        if sobject is None:
            raise Refusal("NOT_FOUND", "The requested resource does not exist", 404)
        fields: list[Row] = [{"name": field, "label": field, "type": kind, "custom": False,
                              "updateable": field not in SYSTEM and field not in DERIVED.get(sobject, ())}
                             for field, kind in {**SYSTEM, **FIELDS[sobject]}.items()]
        with self._changed:
            fields += [{"name": field, "label": meta["label"], "type": CUSTOM_TYPES[meta["type"]], "custom": True,
                        "updateable": True, "length": meta.get("length", 0), "precision": meta.get("precision", 0),
                        "scale": meta.get("scale", 0)}
                       for field, meta in self.custom_fields[sobject].items() if f"{sobject}.{field}" in self.visible]
        return Reply.json({"name": sobject, "updateable": True, "fields": fields}, headers=usage)

    def _create_field(self, body: Any, usage: dict[str, str]) -> Reply:
        """Tooling API: create a custom field from its FullName (Object.Name__c) and Metadata."""
        if not self.customize_application:
            raise Refusal("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id")
        if not isinstance(body, dict) or set(body) - {"FullName", "Metadata"} or \
                not isinstance(body.get("Metadata"), dict):
            raise Refusal("JSON_PARSER_ERROR", "A CustomField is {\"FullName\": ..., \"Metadata\": {...}}")
        found = _FULL_NAME.fullmatch(str(body.get("FullName", "")))
        sobject = _object_named(found["object"]) if found else None
        if found is None or sobject is None:
            raise Refusal("FIELD_INTEGRITY_EXCEPTION", f"FullName {body.get('FullName')!r} is not Object.Field__c "
                                                       "of an existing object")
        problem = _metadata_problem(body["Metadata"])
        if problem:
            raise Refusal("FIELD_INTEGRITY_EXCEPTION", problem)
        name = found["field"]
        with self._changed:
            if name.lower() in {field.lower() for field in self.custom_fields[sobject]}:
                raise Refusal("DUPLICATE_DEVELOPER_NAME",
                              f"There is already a field named {name.removesuffix('__c')} on {sobject}.")
            self.custom_fields[sobject][name] = dict(body["Metadata"])
            field_id = _with_checksum(f"00N5g{next(self._ids):010d}")
        return Reply.json({"id": field_id, "success": True, "errors": [], "warnings": [], "infos": []}, 201, usage)

    def _update_records(self, body: Any, usage: dict[str, str]) -> Reply:
        """sObject Collections update: a result per record, in request order."""
        if not isinstance(body, dict) or set(body) - {"allOrNone", "records"} or \
                not isinstance(body.get("records"), list) or not isinstance(body.get("allOrNone", False), bool):
            raise Refusal("JSON_PARSER_ERROR", "An update is {\"allOrNone\": boolean, \"records\": [...]}")
        if len(body["records"]) > MAX_RECORDS:
            raise Refusal("EXCEEDED_ID_LIMIT",
                          f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call")
        with self._changed:
            parsed = [self._parsed(record) for record in body["records"]]
            refusals = [self._refusal(sobject, record_id, values) for sobject, record_id, values in parsed]
            rolled_back = body.get("allOrNone", False) and any(refusals)
            now = self._now()
            results: list[Row] = []
            for (sobject, record_id, values), refusal in zip(parsed, refusals, strict=True):
                if refusal:
                    results.append({"success": False, "errors": [refusal]})  # Salesforce names no id here
                elif rolled_back:
                    results.append({"success": False, "errors": [_error("ALL_OR_NONE_OPERATION_ROLLED_BACK",
                                                                        ROLLED_BACK)]})
                else:
                    full = str(_full_id(str(record_id)))
                    self.records[sobject][full].update(values, LastModifiedDate=now, SystemModstamp=now)
                    results.append({"id": full, "success": True, "errors": []})
        return Reply.json(results, headers=usage)

    def _parsed(self, record: Any) -> tuple[str, Any, Row]:
        """A record to update: its object, Id and typed values; a Refusal of the whole request when it cannot be
        read (no type, an unknown field or one the user cannot see, a value of the wrong JSON type)."""
        if not isinstance(record, dict):
            raise Refusal("JSON_PARSER_ERROR", "Each record is a JSON object")
        attributes = record.get("attributes")
        if not isinstance(attributes, dict) or not attributes.get("type"):
            raise Refusal("INVALID_TYPE", "Must send a concrete entity type.")
        sobject = _object_named(str(attributes["type"]))
        if sobject is None:
            raise Refusal("INVALID_TYPE", f"sObject type '{attributes['type']}' is not supported.")
        visible = [name for name in self.custom_fields[sobject] if f"{sobject}.{name}" in self.visible]
        known = {name.lower(): name for name in (*SYSTEM, *FIELDS[sobject], *visible)}
        record_id, values = None, {}
        for key, value in record.items():
            name = known.get(key.lower()) if key != "attributes" else "attributes"
            if name is None:
                raise Refusal("INVALID_FIELD", f"No such column '{key}' on sobject of type {sobject}")
            if name == "Id":
                if not isinstance(value, str):
                    raise Refusal("JSON_PARSER_ERROR", f"Cannot deserialize an id from {value!r}")
                record_id = value
            elif name != "attributes":
                values[name] = _typed(self.custom_fields[sobject].get(name), value)
        return sobject, record_id, values

    def _refusal(self, sobject: str, record_id: str | None, values: Row) -> Row | None:
        """Why Salesforce would refuse to update this one record (an error of its result), or None."""
        if not record_id:
            return _error("MISSING_ARGUMENT", "Id not specified in an update call")
        full = _full_id(record_id)
        if full is None:
            return _error("MALFORMED_ID", f"malformed id {record_id}", ["Id"])
        if not full.startswith(PREFIXES[sobject]):
            return _error("MALFORMED_ID", f"{sobject} ID: id value of incorrect type: {record_id}", ["Id"])
        if full in self.deleted:
            return _error("ENTITY_IS_DELETED", "entity is deleted")
        row = self.records[sobject].get(full)
        if row is None:
            return _error("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        if sobject == "Lead" and row["IsConverted"]:
            return _error("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
        if full in self.locked:
            return _error("UNABLE_TO_LOCK_ROW",
                          f"unable to obtain exclusive access to this record or 1 records: {full}")
        readonly = [name for name in values if name in SYSTEM or name in DERIVED.get(sobject, ())]
        if readonly:
            return _error("INVALID_FIELD_FOR_INSERT_UPDATE", f"Unable to create/update fields: {', '.join(readonly)}. "
                          "Please check the security settings of this field and verify that it is read/write for "
                          "your profile or permission set.", readonly)
        for name, value in values.items():
            meta = self.custom_fields[sobject].get(name)
            if meta is None or value is None:
                continue
            if meta["type"] in ("Text", "LongTextArea") and len(value) > meta["length"]:
                return _error("STRING_TOO_LONG", f"{meta['label']}: data value too large: {value[:40]} (max "
                                                 f"length={meta['length']})", [name])
            if meta["type"] == "Number" and abs(value) >= 10 ** (meta["precision"] - meta["scale"]):
                return _error("NUMBER_OUTSIDE_VALID_RANGE", f"{meta['label']}: value outside of valid range on "
                                                            f"numeric field: {value}", [name])
        return None


def _with_patch(handler: Any) -> Any:
    """The request handler, answering PATCH too."""

    class Handler(handler):  # type: ignore[misc, valid-type]
        def do_PATCH(self) -> None:
            self._serve("PATCH")

    return Handler


def _route(path: str) -> tuple[str, str, re.Match[str] | None]:
    """The method a path is recorded under, the verb it takes and its match; ("other", "", None) if unknown."""
    for method, verb, pattern in ROUTES:
        found = pattern.fullmatch(path)
        if found:
            return ("queryMore" if method == "query" and found["locator"] else method), verb, found
    return "other", "", None


def _json_body(request: Request) -> Any:
    if "json" not in request.headers.get("content-type", ""):
        raise Refusal("UNSUPPORTED_MEDIA_TYPE", "Content-Type header specified in HTTP request is not supported: "
                                                f"{request.headers.get('content-type', '')}", 415)
    try:
        return json.loads(request.raw)
    except ValueError as error:
        raise Refusal("JSON_PARSER_ERROR", f"Unexpected character: {error}") from error


def _body_params(raw: bytes) -> dict[str, Any]:
    """A JSON object body, to record with the call ({} for anything else)."""
    try:
        body = json.loads(raw)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _object_named(name: str) -> str | None:
    return next((sobject for sobject in FIELDS if sobject.lower() == name.lower()), None)


def _full_id(record_id: str) -> str | None:
    """The 18-character form of a 15- or 18-character Id; None when it is not one."""
    if not _ID.fullmatch(record_id):
        return None
    full = _with_checksum(record_id[:15])
    return full if len(record_id) == 15 or full == record_id else None


def _metadata_problem(meta: Row) -> str | None:
    """What Salesforce would say of a custom field's metadata (the types write-back uses), or None."""
    unknown = set(meta) - METADATA_KEYS
    kind = meta.get("type")
    if unknown:
        return f"Unknown CustomField metadata: {', '.join(sorted(unknown))}"
    if not str(meta.get("label") or "").strip():
        return "Field Label: You must enter a value"
    if kind not in SIZES:
        return f"Field type {kind!r} is not one of {', '.join(SIZES)}"
    sizes = set(meta) & {size for sizes in SIZES.values() for size in sizes}
    if sizes != SIZES[kind] or not all(isinstance(meta[size], int) and not isinstance(meta[size], bool)
                                       for size in sizes):
        return f"A {kind} field takes {', '.join(sorted(SIZES[kind])) or 'no size'} (whole numbers)"
    bounds = {"Number": 1 <= meta.get("precision", 0) <= 18 and 0 <= meta.get("scale", 0) <= meta.get("precision", 0),
              "Text": 1 <= meta.get("length", 0) <= 255,
              "LongTextArea": 256 <= meta.get("length", 0) <= 131_072 and 2 <= meta.get("visibleLines", 0) <= 50,
              "DateTime": True}
    return None if bounds[kind] else f"{kind}: a size out of range ({', '.join(f'{s}={meta[s]}' for s in sizes)})"


def _typed(meta: Row | None, value: Any) -> Any:
    """A custom field's JSON value as stored (Number a float, DateTime a datetime); a standard field's as given;
    a Refusal of the request for one of the wrong JSON type."""
    if meta is None or value is None:
        return value
    kind = meta["type"]
    if kind == "Number" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind in ("Text", "LongTextArea") and isinstance(value, str):
        return value
    if kind == "DateTime" and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise Refusal("JSON_PARSER_ERROR", f"Cannot deserialize instance of {CUSTOM_TYPES[kind]} from {value!r}")


def _error(code: str, message: str, fields: list[str] | None = None) -> Row:
    return {"statusCode": code, "message": message, "fields": fields or []}


def _project(query: Query, row: Row, version: str, records: dict[str, dict[str, Row]]) -> Row:
    """A row as the REST API writes it: attributes, the selected fields, then each child relationship."""
    shown: Row = {"attributes": {"type": query.object,
                                 "url": f"/services/data/v{version}/sobjects/{query.object}/{row['Id']}"}}
    shown.update((field, _json(row[field])) for field in query.fields)
    for (parent, _key), (name, child, link) in CHILDREN.items():
        if parent == query.object and name in query.children:
            found = [{"attributes": {"type": child, "url": f"/services/data/v{version}/sobjects/{child}/{c['Id']}"},
                      **{field: _json(c[field]) for field in query.children[name]}}
                     for c in records[child].values() if c[link] == row["Id"]]
            shown[name] = {"totalSize": len(found), "done": True, "records": found} if found else None
    return shown


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"
    if isinstance(value, date):
        return value.isoformat()
    return value


def _with_checksum(id15: str) -> str:
    """The 18-character form of a 15-character Id: a letter per five characters, from where their capitals are."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    return id15 + "".join(alphabet[sum(1 << i for i, c in enumerate(id15[start:start + 5]) if "A" <= c <= "Z")]
                          for start in (0, 5, 10))


def _errors(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply.json([{"message": message, "errorCode": code}], status, headers)


def _oauth_error(error: str, description: str) -> Reply:
    return Reply.json({"error": error, "error_description": description}, 400)


def _tls_context(directory: Path) -> tuple[str, ssl.SSLContext]:
    """A self-signed certificate for localhost and 127.0.0.1 (its own CA file) and a server context serving it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fake Salesforce")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return str(cert_file), context
