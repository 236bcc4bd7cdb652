"""What a CRM connector hands the sync: each CRM's records in Hotlead's terms, whatever the CRM calls them.

A connector (bot/crm/hubspot.py, bot/crm/salesforce.py) pages through one object kind modified since a cursor and
yields `Page`s of these records, in last-modified order, with the cursor to store once the page is written. A
record it cannot read (a required field missing, a date that is not one) is a `Refused` with its CRM id and why:
the sync reports and skips it, the rest of the page is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

Kind = Literal["owners", "companies", "contacts", "deals", "engagements"]
OBJECTS: tuple[Kind, ...] = ("owners", "companies", "contacts", "deals", "engagements")  # the order a sync pulls


@dataclass(frozen=True)
class Owner:
    """A CRM user who owns records: becomes (or updates) a Hotlead rep, matched by email."""

    crm_id: str
    name: str
    email: str | None


@dataclass(frozen=True)
class Company:
    """A HubSpot company or Salesforce Account: a Hotlead account (by name; the CRM id kept in its extra JSON)."""

    crm_id: str
    name: str
    domain: str | None = None
    industry: str | None = None
    employees: int | None = None
    country: str | None = None


@dataclass(frozen=True)
class Contact:
    """A HubSpot contact or Salesforce Lead/Contact: a Hotlead lead whose external_id is `crm_id`."""

    crm_id: str
    name: str
    created_at: datetime
    email: str | None = None
    phone: str | None = None
    title: str | None = None
    source: str | None = None
    company_id: str | None = None  # the CRM id of its company / account
    owner_id: str | None = None  # the CRM id of its owner


@dataclass(frozen=True)
class Deal:
    """A HubSpot deal or Salesforce Opportunity: its stage decides the lead's outcome (won, lost, or still open)."""

    crm_id: str
    contact_ids: tuple[str, ...]  # the leads it is about (HubSpot associations; Salesforce's contact roles)
    stage: str
    amount: float | None = None
    closed_at: datetime | None = None


@dataclass(frozen=True)
class Engagement:
    """An email, meeting, call or note: an activity of a lead, with its text a message when it has one."""

    crm_id: str
    contact_id: str
    kind: Literal["email", "meeting", "call", "note"]
    occurred_at: datetime
    direction: Literal["inbound", "outbound"] = "outbound"
    text: str | None = None


@dataclass(frozen=True)
class Converted:
    """A contact the CRM turned into another (a Salesforce Lead converted into a Contact, which takes over its
    activity): the lead goes on under the new id, or is merged into it when that is a lead already."""

    crm_id: str
    into: str


@dataclass(frozen=True)
class Deleted:
    """A contact deleted in the CRM (HubSpot archives it, Salesforce moves it to the Recycle Bin): its lead leaves
    play."""

    crm_id: str


@dataclass(frozen=True)
class Refused:
    """A record the connector could not read, with why (one line, naming the field)."""

    crm_id: str
    why: str


Record = Owner | Company | Contact | Converted | Deleted | Deal | Engagement | Refused


@dataclass
class Page:
    """One page of one object kind, and the cursor to store once it is written (the last record's modified time,
    as the CRM writes it: an ISO time). `modified` is each record's modified time (when the connector knows it):
    the sync reads a look-back window before its cursor again and counts there only what it finds new or changed."""

    kind: Kind
    records: list[Record] = field(default_factory=list)
    cursor: str | None = None
    modified: list[datetime] = field(default_factory=list)


@dataclass(frozen=True)
class ScoreUpdate:
    """What a write-back puts into a CRM record: the score (0-100), band, top three reasons and score time."""

    crm_id: str
    score: int
    band: str
    reasons: str
    scored_at: datetime


def utc(moment: datetime) -> datetime:
    """A time as an aware UTC datetime (a naive one taken as UTC, as the CRMs and this database write them)."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def instant(moment: datetime) -> str:
    """A time as ISO 8601 to the millisecond, in UTC (2026-01-02T03:04:05.000Z): a sync's cursor, and the dateTime
    Salesforce takes."""
    return utc(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")
