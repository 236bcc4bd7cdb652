"""A generated HubSpot portal with signal, for the local HubSpot fake: owners, companies, contacts (their titles
and sources), deals (won more often by contacts that fit) and engagements (keen contacts say keen things), the
same portal for the same seed. The Done-when test of the write-back and `hotlead bench crm` fill a `FakeHubSpot`
with it."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.fakes.hubspot import FakeHubSpot

TITLES = {"CEO": 2.0, "VP Sales": 2.0, "Head of Growth": 1.5, "Director of Marketing": 1.0, "Sales Manager": 0.5,
          "Account Executive": 0.0, "Marketing Coordinator": -0.5, "Engineer": -1.0, "Student": -2.0}
SOURCES = {"REFERRALS": 1.0, "OFFLINE": 0.5, "ORGANIC_SEARCH": 0.2, "PAID_SEARCH": 0.0, "DIRECT_TRAFFIC": 0.0,
           "SOCIAL_MEDIA": -0.8}
KEEN = ("We need this live before Q1: can you send pricing for 40 seats?", "Great demo, our VP wants a proposal by "
        "Friday.", "Budget is approved, let's get the contract going.", "Can we add a second team next month?")
COOL = ("Not interested right now, please remove me.", "We went with another vendor.", "No budget this year, sorry.")
PLAIN = ("Left a voicemail.", "Sent the follow-up deck.", "Checked in about next steps.", "Shared the case study.")
OPEN_STAGES = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled")


@dataclass
class Portal:
    """What the fake HubSpot was filled with, and each contact's fit (what makes it likelier to buy)."""

    owners: list[str]
    contacts: list[str]
    fit: dict[str, float]
    open_deals: list[str]
    deal_contact: dict[str, str]


def iso(moment: datetime) -> str:
    """A moment as HubSpot writes one: UTC, milliseconds, a Z."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fill(fake: FakeHubSpot, now: datetime, *, contacts: int, companies: int, deals: int, engagements: int,
         owners: int = 20, seed: int = 17) -> Portal:
    """A HubSpot portal with signal: senior titles, referrals and engaged, keen contacts win more of their deals."""
    rng = random.Random(seed)
    owner_ids = [fake.add_owner(f"rep{n}@example.com", f"Rep{n}", "Seller") for n in range(owners)]
    company_ids = [fake.add("companies", name=f"Company {n}", domain=f"company{n}.com", numberofemployees=rng.choice(
        [8, 40, 180, 900, 4000]), industry=rng.choice(["software", "retail", "finance", "healthcare"]),
        country=rng.choice(["US", "DE", "GB", "FR"])) for n in range(companies)]
    fit: dict[str, float] = {}
    reference: dict[str, datetime] = {}  # the contact's decision time (its deal's close), else now
    people = []
    for n in range(contacts):
        title, source = rng.choice(list(TITLES)), rng.choice(list(SOURCES))
        created = now - timedelta(days=rng.uniform(100, 400))
        crm_id = fake.add("contacts", firstname=f"Person{n}", lastname="Buyer", email=f"person{n}@example.com",
                          phone=f"+1555{n:07d}", jobtitle=title, hs_analytics_source=source,
                          associatedcompanyid=rng.choice(company_ids), hubspot_owner_id=rng.choice(owner_ids),
                          createdate=iso(created))
        fit[crm_id], reference[crm_id] = TITLES[title] + SOURCES[source] + rng.gauss(0, 1), now
        people.append(crm_id)
    open_deals, deal_contact = [], {}
    for crm_id in rng.sample(people, deals):
        closed = rng.random() < 0.7
        won = closed and rng.random() < 1 / (1 + math.exp(-(fit[crm_id] - 0.8)))
        stage = ("closedwon" if won else "closedlost") if closed else rng.choice(OPEN_STAGES)
        closedate = now - timedelta(days=rng.uniform(5, 90)) if closed else None
        deal = fake.add("deals", contacts=[crm_id], dealname=f"Deal {crm_id}", dealstage=stage, pipeline="default",
                        amount=str(round(rng.lognormvariate(9, 0.8), 2)), closedate=closedate and iso(closedate))
        if closedate:
            reference[crm_id] = closedate
        else:
            open_deals.append(deal)
        deal_contact[deal] = crm_id
    weights = [4.0 if reference[p] != now else 1.0 for p in people]
    for crm_id in rng.choices(people, weights, k=engagements):
        keen = 1 / (1 + math.exp(-fit[crm_id]))
        at = iso(reference[crm_id] - timedelta(days=rng.uniform(0.5, 85)))
        line = rng.choice(KEEN if rng.random() < keen else COOL) if rng.random() < 0.5 else rng.choice(PLAIN)
        kind = rng.choices(["emails", "meetings", "calls", "notes"], [0.4, 0.1 + 0.2 * keen, 0.2, 0.2])[0]
        if kind == "emails":
            inbound = rng.random() < 0.6 * keen
            fake.add("emails", contacts=[crm_id], hs_timestamp=at, hs_email_direction="INCOMING_EMAIL" if inbound
                     else "EMAIL", hs_email_text=line if rng.random() < 0.6 else None)
        elif kind == "notes":  # a note always says something
            fake.add("notes", contacts=[crm_id], hs_timestamp=at, hs_note_body=f"<p>{line}</p>")
        else:
            body = {"meetings": "hs_meeting_body", "calls": "hs_call_body"}[kind]
            said: dict[str, Any] = {body: line if rng.random() < 0.5 else None}
            fake.add(kind, contacts=[crm_id], hs_timestamp=at, **said)
    return Portal(owner_ids, people, fit, open_deals, deal_contact)
