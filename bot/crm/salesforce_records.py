"""Salesforce query rows as Hotlead's records (bot/crm/records.py), in pages that never end inside a tie.

What each kind reads: owners are Users (UserType Standard); companies are Accounts; contacts are the Leads and the
Contacts. A Lead converted since the last read is a `Converted` into its Contact, which Salesforce moves its
activity to: the sync carries the lead over. A Lead has no Account, only a Company name: that name becomes a
Company of its own (`lead-company:<name>`), in the page before the Lead. Deals are Opportunities with their contact
roles (which name Contacts only); engagements are Tasks (email, call, else a note) and Events (meetings) about a
Lead or Contact (their WhoId).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from bot.crm.records import Company, Contact, Converted, Deal, Deleted, Engagement, Owner, Record, Refused

Row = dict[str, Any]

TASK_KINDS: dict[str, Literal["email", "call", "meeting"]] = {  # by TaskSubtype, else by Type
    "Email": "email", "ListEmail": "email", "Call": "call", "Meeting": "meeting"}


def batches(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    """Rows in lists of `size` or a little more: a list never ends between rows changed at the same instant."""
    batch: list[Row] = []
    for row in rows:
        if len(batch) >= size and row["SystemModstamp"] != batch[-1]["SystemModstamp"]:
            yield batch
            batch = []
        batch.append(row)
    if batch:
        yield batch


def read_rows(rows: list[Row]) -> tuple[list[Record], list[datetime]]:
    """A page's rows as records, and each one's SystemModstamp; a Lead's company first, once a page (modified
    with its Lead)."""
    records: list[Record] = []
    modified: list[datetime] = []
    companies: set[str] = set()
    for row in rows:
        sobject, stamp = row["attributes"]["type"], datetime.fromisoformat(row["SystemModstamp"])
        if row.get("IsDeleted"):  # in the Recycle Bin since the last read
            records.append(Deleted(row["Id"]))
            modified.append(stamp)
            continue
        company = _lead_company(row) if sobject == "Lead" and not row["IsConverted"] else None
        if company and company not in companies:
            companies.add(company)
            records.append(Company(company, company.removeprefix("lead-company:")))
            modified.append(stamp)
        records.append(READERS[sobject](row))
        modified.append(stamp)
    return records, modified


def _lead_company(row: Row) -> str | None:
    """A Lead's Company name as the id of a company of its own (a Lead has no Account)."""
    name = (row["Company"] or "").strip()
    return f"lead-company:{name}" if name else None


def _owner(row: Row) -> Record:
    return Owner(row["Id"], row["Name"], row["Email"])


def _company(row: Row) -> Record:
    return Company(row["Id"], row["Name"], _domain(row["Website"]), row["Industry"], row["NumberOfEmployees"],
                   row["BillingCountry"])


def _contact(row: Row) -> Record:
    if row.get("IsConverted"):  # Salesforce moved its activity to the Contact it became
        into = row.get("ConvertedContactId")
        return Converted(row["Id"], into) if into else Refused(row["Id"], "converted without a Contact")
    company = row["AccountId"] if row["attributes"]["type"] == "Contact" else _lead_company(row)
    return Contact(row["Id"], row["Name"], _when(row["CreatedDate"]), row["Email"], row["Phone"], row["Title"],
                   row["LeadSource"], company, row["OwnerId"])


def _deal(row: Row) -> Record:
    roles = (row["OpportunityContactRoles"] or {"records": []})["records"]
    contacts = tuple(dict.fromkeys(role["ContactId"] for role in roles))
    closed = _when(row["CloseDate"]) if row["IsClosed"] else None  # an open deal's CloseDate is only expected
    amount = float(row["Amount"]) if row["Amount"] is not None else None
    return Deal(row["Id"], contacts, row["StageName"], amount, closed)


def _engagement(row: Row) -> Record:
    if not row["WhoId"]:
        return Refused(row["Id"], "no WhoId (not about a lead or contact)")
    if row["attributes"]["type"] == "Event":
        return Engagement(row["Id"], row["WhoId"], "meeting", _when(row["StartDateTime"]), text=row["Description"])
    kind = TASK_KINDS.get(row["TaskSubtype"]) or TASK_KINDS.get(row["Type"]) or "note"
    direction: Literal["inbound", "outbound"] = "inbound" if row["CallType"] == "Inbound" else "outbound"
    return Engagement(row["Id"], row["WhoId"], kind, _when(row["CreatedDate"]), direction, row["Description"])


READERS: dict[str, Callable[[Row], Record]] = {
    "User": _owner, "Account": _company, "Lead": _contact, "Contact": _contact, "Opportunity": _deal,
    "Task": _engagement, "Event": _engagement}


def _when(value: str) -> datetime:
    """A Salesforce dateTime (2026-01-02T03:04:05.000+0000) or date (midnight UTC)."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _domain(website: str | None) -> str | None:
    """acme.com from https://www.acme.com/about or www.acme.com."""
    if not website or not website.strip():
        return None
    host = urlsplit(website.strip() if "//" in website else f"//{website.strip()}").hostname or ""
    return host.removeprefix("www.") or None
