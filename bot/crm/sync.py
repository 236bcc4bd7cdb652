"""`hotlead sync`: pull what changed in the connected CRM since the last sync, object kind by object kind (owners,
companies, contacts, deals, engagements: each needs the ones before it), page by page.

Each page is written in one transaction with its cursor, so a sync cut short resumes after the last page it wrote
and a page is never half-written; the same records twice change nothing (counted `unchanged`). A record the
connector could not read, or one naming a contact that was never synced, is `refused` with its CRM id and why,
and skipped: the rest of its page is written (one bad contact must not hold back a team's whole pipeline).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from bot.config import Settings
from bot.crm.records import (
    OBJECTS,
    Company,
    Contact,
    Converted,
    Deal,
    Deleted,
    Engagement,
    Kind,
    Owner,
    Page,
    Record,
    Refused,
    instant,
    utc,
)
from bot.crm.titles import seniority
from bot.crm.writeback import Writer
from storage import crm_sync
from storage.crm_sync import Status
from storage.history import names_changed
from storage.live import store
from storage.queries import lead_ids_by_external_id

log = logging.getLogger(__name__)
REFUSALS_KEPT = 20  # per object kind, in the report (every one is logged)
ACTIVITY_OF = {"email": None, "meeting": "meeting", "call": "call", "note": None}  # email: by its direction
CHANNEL_OF = {"email": "email", "meeting": "call", "call": "call", "note": "chat"}
ORDER = {"unchanged": 0, "updated": 1, "created": 2}


class Connector(Protocol):
    """What the sync needs of a CRM (bot/crm/hubspot.py, bot/crm/salesforce.py)."""

    name: str

    def check(self) -> str: ...

    def pages(self, kind: Kind, since: str | None) -> Iterator[Page]: ...


@dataclass
class Counts:
    """What a sync did with one object kind's records."""

    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    rechecked: int = 0  # read again in the look-back window before the cursor, and as they were: not counted above
    refusals: list[dict[str, str]] = field(default_factory=list)  # the first REFUSALS_KEPT: {crm_id, why}

    def count(self, outcome: Status | Refused, *, again: bool = False) -> None:
        """One record's outcome; `again`: modified before the cursor (in the look-back window), so counted read
        only when it was new or changed (it came late) or is refused (reported again: still not taken)."""
        if again and outcome == "unchanged":
            self.rechecked += 1
            return
        self.read += 1
        if isinstance(outcome, Refused):
            self.refused += 1
            if len(self.refusals) < REFUSALS_KEPT:
                self.refusals.append({"crm_id": outcome.crm_id, "why": outcome.why})
        else:
            setattr(self, outcome, getattr(self, outcome) + 1)


@dataclass
class Stages:
    """Which deal stages are won and lost (HOTLEAD_CRM_WON_STAGES / _LOST_STAGES); any other stays open."""

    won: frozenset[str]
    lost: frozenset[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> Stages:
        def read(value: str) -> frozenset[str]:
            return frozenset(part.strip().lower() for part in value.split(",") if part.strip())

        return cls(read(settings.hotlead_crm_won_stages), read(settings.hotlead_crm_lost_stages))


def sync(engine: Engine, connector: Connector, stages: Stages, *, lookback: timedelta = timedelta(0),
         full: bool = False, now: Callable[[], datetime] | None = None,
         progress: Callable[[Kind, Counts], None] | None = None) -> dict[str, Any]:
    """Pull every object kind since its cursor, and `lookback` before it again (`full`: everything); the report
    `hotlead sync --json` prints. A record modified in the look-back window was read by an earlier sync unless it
    came late (a Salesforce transaction committed after a later one, a record HubSpot's search had not indexed
    yet): there, only what is new, changed or refused is counted (the rest is `rechecked`), and the cursor never
    moves back. A full read finds what no modified time dates (a contact associated with a deal in HubSpot)."""
    clock = now or (lambda: datetime.now(UTC))
    started = time.perf_counter()
    objects: dict[str, Counts] = {}
    for kind in OBJECTS:
        counts = objects[kind] = Counts()
        with engine.connect() as conn:
            since = crm_sync.cursor(conn=conn, crm=connector.name, kind=kind)
        reached = _moment(since) if since else None
        start = None if full else instant(reached - lookback) if reached and lookback else since
        for page in connector.pages(kind, start):
            with engine.begin() as conn:
                known = _Known.of(conn, connector.name, page.records)
                for n, record in enumerate(page.records):
                    outcome = _write(conn, connector.name, _clean(record), stages, known)
                    if isinstance(record, Converted | Deleted) and outcome == "unchanged":
                        continue  # counted when it changed a lead here (not for a lead never synced)
                    again = reached is not None and n < len(page.modified) and utc(page.modified[n]) <= reached
                    counts.count(outcome, again=again)
                if page.cursor and (reached is None or _moment(page.cursor) > reached):
                    crm_sync.save_cursor(conn=conn, crm=connector.name, kind=kind, value=page.cursor, now=clock())
                if kind in ("owners", "companies", "contacts"):
                    names_changed(conn=conn)  # chat's name index reads it
            if progress:
                progress(kind, counts)
        for refusal in counts.refusals:
            log.warning("%s %s %s refused: %s", connector.name, kind, refusal["crm_id"], refusal["why"])
    return {"crm": connector.name, "objects": {kind: asdict(counts) for kind, counts in objects.items()},
            "seconds": round(time.perf_counter() - started, 2)}


def _moment(cursor: str) -> datetime:
    """A cursor (an ISO time as the CRM writes it) as an aware UTC time."""
    return utc(datetime.fromisoformat(cursor))


def _clean(record: Record) -> Record:
    """The record without NUL characters in its text (CRM data is typed by anyone; PostgreSQL stores none)."""
    dirty = {f.name: getattr(record, f.name).replace("\x00", "") for f in fields(record)
             if isinstance(getattr(record, f.name), str) and "\x00" in getattr(record, f.name)}
    return replace(record, **dirty) if dirty else record


@dataclass
class _Known:
    """What a page's records refer to, read in one query each (a round trip per record made PostgreSQL slow):
    leads by external id, accounts and reps by CRM id. What a page itself creates is added as it goes."""

    leads: dict[str, int]
    companies: dict[str, int]
    owners: dict[str, int]

    @classmethod
    def of(cls, conn: Connection, crm: str, records: list[Record]) -> _Known:
        contacts = [r.crm_id for r in records if isinstance(r, Contact)]
        contacts += [c for r in records if isinstance(r, Deal) for c in r.contact_ids]
        contacts += [r.contact_id for r in records if isinstance(r, Engagement)]
        named = [r for r in records if isinstance(r, Contact)]
        return cls(lead_ids_by_external_id(conn=conn, external_ids=sorted(set(contacts))) if contacts else {},
                   crm_sync.links(conn=conn, crm=crm, kind="companies",
                                  crm_ids=[r.company_id for r in named if r.company_id]),
                   crm_sync.links(conn=conn, crm=crm, kind="owners",
                                  crm_ids=[r.owner_id for r in named if r.owner_id]))

    def link(self, conn: Connection, crm: str, kind: str, crm_id: str | None) -> int | None:
        if crm_id is None:
            return None
        found = (self.companies if kind == "companies" else self.owners).get(crm_id)
        return found if found is not None else crm_sync.linked(conn=conn, crm=crm, kind=kind, crm_id=crm_id)


def _write(conn: Connection, crm: str, record: Record, stages: Stages, known: _Known) -> Status | Refused:
    """Write one record where it belongs: whether it was created, updated or unchanged, or why it was refused."""
    if isinstance(record, Refused):
        return record
    if isinstance(record, Owner):
        return crm_sync.upsert_rep(conn=conn, crm=crm, crm_id=record.crm_id, name=record.name, email=record.email)[1]
    if isinstance(record, Company):
        values = {"name": record.name, "domain": record.domain, "industry": record.industry,
                  "employees": record.employees, "country": record.country}
        account, status = crm_sync.upsert_account(conn=conn, crm=crm, crm_id=record.crm_id, values=values)
        known.companies[record.crm_id] = account  # a contact later in the page may name it
        return status
    if isinstance(record, Contact):
        return _contact(conn, crm, record, known)
    if isinstance(record, Converted):
        known.leads.pop(record.crm_id, None)  # a later record of the page names it by its new id
        return crm_sync.convert_lead(conn=conn, crm=crm, old=record.crm_id, new=record.into)
    if isinstance(record, Deleted):
        return crm_sync.mark_deleted(conn=conn, crm=crm, crm_id=record.crm_id)
    if isinstance(record, Deal):
        return _deal(conn, crm, record, stages, known)
    return _engagement(conn, crm, record, known)


def _contact(conn: Connection, crm: str, record: Contact, known: _Known) -> Status:
    """A contact as a lead; its seniority read from its job title (a CRM keeps no level; without a title, the
    level a CSV import may have given stays)."""
    values = {"name": record.name, "email": record.email, "phone": record.phone, "title": record.title,
              "source": record.source.lower() if record.source else None,
              "account_id": known.link(conn, crm, "companies", record.company_id),
              "owner_id": known.link(conn, crm, "owners", record.owner_id), "created_at": record.created_at}
    level = seniority(record.title)
    if level is not None:
        values["seniority"] = level
    return crm_sync.upsert_lead(conn=conn, crm=crm, external_id=record.crm_id, values=values)[1]


def _deal(conn: Connection, crm: str, record: Deal, stages: Stages, known: _Known) -> Status | Refused:
    """A won or lost deal is each of its contacts' outcome; a deal back in an open stage takes it away."""
    if not record.contact_ids:
        return Refused(record.crm_id, "no associated contact: nothing to score")
    missing = [contact for contact in record.contact_ids if contact not in known.leads]
    if missing:
        return Refused(record.crm_id, f"its contact {missing[0]} was not synced")
    stage = record.stage.strip().lower()
    seen = crm_sync.linked(conn=conn, crm=crm, kind="deals", crm_id=record.crm_id) is not None
    statuses = []
    for contact in record.contact_ids:
        lead = known.leads[contact]
        if stage in stages.won or stage in stages.lost:
            statuses.append(crm_sync.set_outcome(conn=conn, lead_id=lead, converted=stage in stages.won,
                                                 amount=record.amount, closed_at=record.closed_at))
        else:
            statuses.append(crm_sync.reopen(conn=conn, lead_id=lead))
        crm_sync.link(conn=conn, crm=crm, kind="deals", crm_id=record.crm_id, local_id=lead)
    changed = max(statuses, key=ORDER.__getitem__) != "unchanged"
    return "updated" if seen and changed else "unchanged" if seen else "created"  # as the CRM's record


def _engagement(conn: Connection, crm: str, record: Engagement, known: _Known) -> Status | Refused:
    """An email, meeting or call is an activity of its lead; its text (and a note's) a message the NLP reads."""
    if record.contact_id not in known.leads:
        return Refused(record.crm_id, f"its contact {record.contact_id} was not synced")
    new = False
    kind = ACTIVITY_OF[record.kind] or ("email_reply" if record.direction == "inbound" else "email_sent")
    if record.kind != "note":
        event = {"lead": record.contact_id, "kind": kind, "occurred_at": record.occurred_at.isoformat(),
                 "detail": {"crm": crm, "crm_id": record.crm_id}}
        new |= store(conn, "events", event, known.leads)[0].new
    if record.text and record.text.strip():
        line = {"lead": record.contact_id, "channel": CHANNEL_OF[record.kind], "direction": record.direction,
                "speaker": "CRM note" if record.kind == "note" else None, "text": record.text.strip(),
                "occurred_at": record.occurred_at.isoformat(), "source_ref": f"{crm}:{record.kind}:{record.crm_id}"}
        new |= store(conn, "messages", line, known.leads)[0].new
    return "created" if new else "unchanged"


def connected(engine: Engine) -> str | None:
    """The CRM `hotlead connect` set up, if any."""
    with engine.connect() as conn:
        return crm_sync.connected_crm(conn=conn)


class Crm(Connector, Writer, Protocol):
    """A whole connector: it pulls, writes scores back, and sets up the fields they go in (`hotlead connect`)."""

    def ensure_fields(self) -> list[str]: ...


def connector_for(name: str, settings: Settings, sleep: Callable[[float], None] = time.sleep,
                  clock: Callable[[], float] = time.monotonic) -> Crm:
    """The connector of `name` (hubspot | salesforce); `sleep` and `clock` are what it waits on."""
    if name == "hubspot":
        from bot.crm.hubspot import HubSpotConnector

        return HubSpotConnector(settings, sleep=sleep, clock=clock)
    from bot.crm.salesforce import SalesforceConnector

    return SalesforceConnector(settings, sleep=sleep)
