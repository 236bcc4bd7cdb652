"""How a HubSpot search result becomes a record (bot/crm/records.py), for the connector (bot/crm/hubspot.py).

Each object searched (`SOURCES`: companies, contacts, deals; `ENGAGEMENTS`: emails, meetings, calls and notes) is
a `Source`: the properties a search asks for, the one holding its last-modified time, and the reader that turns a
result and its associated contacts into a record, or a `Refused` naming what it lacks. HubSpot's times (ISO 8601 or
epoch milliseconds) are read as aware UTC datetimes, its numbers with their thousands separators, and an
engagement's body (HTML, as HubSpot's editors write it) as plain text.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any, Literal

from bot.crm.records import Company, Contact, Deal, Engagement, Owner, Record, Refused, utc

Json = dict[str, Any]

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
        return parse_time(result["properties"].get(self.modified) or result["updatedAt"], self.modified)


def parse_time(text: Any, name: str) -> datetime:
    """A HubSpot time (ISO 8601 or epoch milliseconds) as an aware UTC datetime; ValueError naming `name`."""
    value = str(text or "").strip()
    try:
        if value.isdecimal():
            return EPOCH + timedelta(milliseconds=int(value))
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not a date") from None
    return utc(moment)


def milliseconds(moment: datetime) -> int:
    """A time as epoch milliseconds, as HubSpot's filters and datetime properties take it."""
    return (moment - EPOCH) // timedelta(milliseconds=1)


def read_owner(owner: Json) -> Record:
    """An owner (listed, not searched: no `Source`) as a record."""
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
        created = parse_time(found.get("createdate") or result["createdAt"], "createdate")
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
        closed = parse_time(found["closedate"], "closedate") if _clean(found.get("closedate")) else None
        amount = _number(found.get("amount"), "amount")
    except ValueError as error:
        return Refused(result["id"], str(error))
    return Deal(result["id"], contacts, stage, amount, closed)


def _engagement(kind: EngagementKind, result: Json, contacts: tuple[str, ...]) -> Record:
    found = result["properties"]
    if not contacts:
        return Refused(result["id"], "no associated contact")
    try:
        occurred = parse_time(found.get("hs_timestamp"), "hs_timestamp")
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
                                                        "hubspot_owner_id", "createdate", "hs_merged_object_ids"),
                        _contact),
    "deals": Source("deals", "hs_lastmodifieddate", ("dealstage", "amount", "closedate"), _deal, associated=True),
}
ENGAGEMENTS = tuple(
    Source(f"{kind}s", "hs_lastmodifieddate", ("hs_timestamp", *BODY[kind], *filter(None, [DIRECTION.get(kind)])),
           functools.partial(_engagement, kind), associated=True)
    for kind in BODY)
