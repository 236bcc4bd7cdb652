"""The CRM sync's SQL: each pulled record written where a file import would put it, saying whether it was
created, updated or unchanged; the link from each CRM record to its row; and each object kind's cursor.

Leads keep the CRM's id as their external id (the id a CRM export carries too, so that a sync after a CSV import
updates the same leads); accounts and reps are found by their link, else by name (and a rep by email), so that
the team's existing rows are reused rather than doubled.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, bindparam, text

from storage.db import OUT_OF_PLAY, json_loads
from storage.history import stamp, utc

Status = Literal["created", "updated", "unchanged"]
ACCOUNT_FIELDS = ("name", "domain", "industry", "employees", "country")
LEAD_FIELDS = ("name", "email", "phone", "title", "seniority", "source", "account_id", "owner_id", "created_at")


def cursor(*, conn: Connection, crm: str, kind: str) -> str | None:
    """How far a sync of `crm` has read `kind` (None: never synced)."""
    return conn.execute(text("SELECT cursor FROM crm_cursor WHERE crm = :crm AND kind = :kind"),
                        {"crm": crm, "kind": kind}).scalar()


def save_cursor(*, conn: Connection, crm: str, kind: str, value: str, now: datetime) -> None:
    conn.execute(text(
        "INSERT INTO crm_cursor (crm, kind, cursor, synced_at) VALUES (:crm, :kind, :cursor, :now) "
        "ON CONFLICT (crm, kind) DO UPDATE SET cursor = excluded.cursor, synced_at = excluded.synced_at"
    ), {"crm": crm, "kind": kind, "cursor": value, "now": stamp(now)})


def linked(*, conn: Connection, crm: str, kind: str, crm_id: str) -> int | None:
    """The Hotlead row a CRM record became, if it was pulled before."""
    return conn.execute(text("SELECT local_id FROM crm_link WHERE crm = :crm AND kind = :kind AND crm_id = :id"),
                        {"crm": crm, "kind": kind, "id": crm_id}).scalar()


def links(*, conn: Connection, crm: str, kind: str, crm_ids: list[str]) -> dict[str, int]:
    """CRM id → row id of the records of `kind` from `crm` pulled before (one query for a page's references)."""
    if not crm_ids:
        return {}
    statement = text("SELECT crm_id, local_id FROM crm_link WHERE crm = :crm AND kind = :kind AND crm_id IN :ids"
                     ).bindparams(bindparam("ids", expanding=True))
    return {str(crm_id): int(local) for crm_id, local in conn.execute(
        statement, {"crm": crm, "kind": kind, "ids": sorted(set(crm_ids))})}


def crm_ids(*, conn: Connection, crm: str, kind: str, local_ids: list[int]) -> dict[int, str]:
    """Row id → CRM id of the rows of `kind` that came from `crm` (what a write-back addresses)."""
    if not local_ids:
        return {}
    statement = text("SELECT local_id, crm_id FROM crm_link WHERE crm = :crm AND kind = :kind AND local_id IN :ids"
                     ).bindparams(bindparam("ids", expanding=True))
    rows = conn.execute(statement, {"crm": crm, "kind": kind, "ids": [int(i) for i in local_ids]})
    return {int(local): str(crm_id) for local, crm_id in rows}


def link(*, conn: Connection, crm: str, kind: str, crm_id: str, local_id: int) -> None:
    """Remember the row a CRM record became."""
    conn.execute(text(
        "INSERT INTO crm_link (crm, kind, crm_id, local_id) VALUES (:crm, :kind, :id, :local) "
        "ON CONFLICT (crm, kind, crm_id) DO UPDATE SET local_id = excluded.local_id"
    ), {"crm": crm, "kind": kind, "id": crm_id, "local": local_id})


def _changed(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The values of `new` that differ from `old` (times compared as UTC moments)."""
    def same(a: Any, b: Any) -> bool:
        if isinstance(b, datetime) and a is not None:
            return utc(a) == utc(b)
        return a == b or (a is not None and b is not None and str(a) == str(b))

    return {k: v for k, v in new.items() if not same(old.get(k), v)}


def _bring_up_to_date(conn: Connection, table: str, key: str, key_value: int, old: dict[str, Any],
                      new: dict[str, Any]) -> Status:
    """Write the values of `new` that differ from `old` into the row of `table` whose `key` is `key_value`."""
    changes = _changed(old, new)
    if changes:
        sets = ", ".join(f"{name} = :{name}" for name in changes)
        conn.execute(text(f"UPDATE {table} SET {sets} WHERE {key} = :row_key"), {**_sql(changes), "row_key": key_value})
    return "updated" if changes else "unchanged"


def _sql(values: dict[str, Any]) -> dict[str, Any]:
    return {k: stamp(v) if isinstance(v, datetime) else v for k, v in values.items()}


def _adopt(conn: Connection, crm: str, kind: str, crm_id: str, mine: int | None,
           create: Callable[[], Any]) -> tuple[int, bool]:
    """Link a CRM record seen for the first time to the team's own row (`mine`), else to a row `create` makes;
    (the row's id, whether it was made)."""
    local = int(mine) if mine is not None else int(create())
    link(conn=conn, crm=crm, kind=kind, crm_id=crm_id, local_id=local)
    return local, mine is None


def upsert_rep(*, conn: Connection, crm: str, crm_id: str, name: str, email: str | None) -> tuple[int, Status]:
    """The rep a CRM owner is: linked before, else the rep with that email or name, else a new rep."""
    found = linked(conn=conn, crm=crm, kind="owners", crm_id=crm_id)
    if found is None:  # not linked yet: the team's own rep with that email or name, else a new one
        mine = conn.execute(text("SELECT id FROM rep WHERE lower(email) = lower(:email) ORDER BY id LIMIT 1"),
                            {"email": email}).scalar() if email else None
        if mine is None:
            mine = conn.execute(text("SELECT id FROM rep WHERE name = :name"), {"name": name}).scalar()
        found, created = _adopt(conn, crm, "owners", crm_id, mine, lambda: conn.execute(text(
            "INSERT INTO rep (name, role, email, timezone) VALUES (:name, 'rep', :email, 'UTC') RETURNING id"),
            {"name": name, "email": email}).scalar_one())
        if created:
            return found, "created"
    old = dict(conn.execute(text("SELECT name, email FROM rep WHERE id = :id"), {"id": found}).one()._mapping)
    return int(found), _bring_up_to_date(conn, "rep", "id", found, old, {"email": email} if email else {})


def upsert_account(*, conn: Connection, crm: str, crm_id: str, values: dict[str, Any]) -> tuple[int, Status]:
    """The account a CRM company is (linked before, else by name), created or brought up to date."""
    found = linked(conn=conn, crm=crm, kind="companies", crm_id=crm_id)
    if found is None:  # not linked yet: the team's own account of that name, else a new one
        mine = conn.execute(text("SELECT id FROM account WHERE name = :name"), {"name": values["name"]}).scalar()
        names = list(values)
        found, created = _adopt(conn, crm, "companies", crm_id, mine, lambda: conn.execute(text(
            f"INSERT INTO account ({', '.join(names)}, extra) VALUES ({', '.join(':' + n for n in names)}, '{{}}') "
            "RETURNING id"), _sql(values)).scalar_one())
        if created:
            return found, "created"
    old = dict(conn.execute(text(f"SELECT {', '.join(ACCOUNT_FIELDS)} FROM account WHERE id = :id"),
                            {"id": found}).one()._mapping)
    return int(found), _bring_up_to_date(conn, "account", "id", found, old,
                                         {k: v for k, v in values.items() if v is not None})


def upsert_lead(*, conn: Connection, crm: str, external_id: str, values: dict[str, Any]) -> tuple[int, Status]:
    """The lead whose external id is the CRM record's id, created or brought up to date (its owner too: a rep
    reassigned in the CRM owns it here from this sync on)."""
    row = conn.execute(text(
        f"SELECT l.id, l.status, k.local_id AS linked, {', '.join('l.' + name for name in LEAD_FIELDS)} FROM lead l "
        "LEFT JOIN crm_link k ON k.crm = :crm AND k.kind = 'contacts' AND k.crm_id = l.external_id "
        "WHERE l.external_id = :key"), {"key": external_id, "crm": crm}).first()
    if row is None:
        names = list(values)
        found = conn.execute(text(
            f"INSERT INTO lead (external_id, {', '.join(names)}, status, attributes) VALUES (:external_id, "
            f"{', '.join(':' + n for n in names)}, 'open', '{{}}') RETURNING id"
        ), {"external_id": external_id, **_sql(values)}).scalar_one()
        link(conn=conn, crm=crm, kind="contacts", crm_id=external_id, local_id=found)
        return int(found), "created"
    old = dict(row._mapping)
    lead_id = int(old.pop("id"))
    if old.pop("linked") != lead_id:  # first seen from this CRM (a lead a CSV import made): linked now
        link(conn=conn, crm=crm, kind="contacts", crm_id=external_id, local_id=lead_id)
    if old["status"] == "deleted":  # found in the CRM again: restored (HubSpot restores archived records)
        values = {**values, "status": "open"}
    return lead_id, _bring_up_to_date(conn, "lead", "id", lead_id, old, values)


def set_outcome(*, conn: Connection, lead_id: int, converted: bool, amount: float | None,
                closed_at: datetime | None) -> Status:
    """A won or lost deal as the lead's outcome (created, or changed when the deal moved)."""
    new = {"converted": int(converted), "amount": amount, "closed_at": closed_at}
    row = conn.execute(text("SELECT converted, amount, closed_at FROM outcome WHERE lead_id = :lead"),
                       {"lead": lead_id}).first()
    conn.execute(text("UPDATE lead SET status = :status WHERE id = :lead"),
                 {"status": "won" if converted else "lost", "lead": lead_id})
    if row is None:
        conn.execute(text("INSERT INTO outcome (lead_id, converted, amount, closed_at) VALUES (:lead, :converted, "
                          ":amount, :closed_at)"), {"lead": lead_id, **_sql(new)})
        return "created"
    return _bring_up_to_date(conn, "outcome", "lead_id", lead_id, dict(row._mapping), new)


def reopen(*, conn: Connection, lead_id: int) -> Status:
    """A deal moved back to an open stage: the lead has no outcome any more (it is scored again)."""
    gone = conn.execute(text("DELETE FROM outcome WHERE lead_id = :lead"), {"lead": lead_id}).rowcount
    if gone:
        conn.execute(text("UPDATE lead SET status = 'open' WHERE id = :lead AND status IN ('won', 'lost')"),
                     {"lead": lead_id})
    return "updated" if gone else "unchanged"


def scores_to_write(*, conn: Connection, crm: str, after_id: int) -> tuple[list[dict[str, Any]], int]:
    """The newest score of each lead from `crm` written after score id `after_id` (a score row is written only
    when the probability moved or the band changed), with the lead's CRM id; and the newest score id of all."""
    newest = int(conn.execute(text("SELECT coalesce(max(id), 0) FROM score")).scalar_one())
    rows = conn.execute(text(
        "SELECT s.id, s.lead_id, k.crm_id, s.probability, s.band, s.reasons, s.scored_at FROM score s "
        "JOIN crm_link k ON k.crm = :crm AND k.kind = 'contacts' AND k.local_id = s.lead_id "
        "WHERE s.id IN (SELECT max(id) FROM score WHERE id > :after AND id <= :newest GROUP BY lead_id) "
        "ORDER BY s.id"), {"crm": crm, "after": after_id, "newest": newest})
    found = []
    for row in rows:
        item = dict(row._mapping)
        item["reasons"] = json_loads(item["reasons"]) if isinstance(item["reasons"], str) else item["reasons"]
        item["scored_at"] = utc(item["scored_at"])
        found.append(item)
    return found, newest


CONNECTED = "crm_connected"  # meta key: the CRM `hotlead connect` set up, which `sync`, `score` and `serve` use


def connected_crm(*, conn: Connection) -> str | None:
    return conn.execute(text("SELECT value FROM meta WHERE key = :key"), {"key": CONNECTED}).scalar()


def connect_crm(*, conn: Connection, crm: str) -> None:
    conn.execute(text("INSERT INTO meta (key, value) VALUES (:key, :crm) ON CONFLICT (key) DO UPDATE SET "
                      "value = excluded.value"), {"key": CONNECTED, "crm": crm})


def waiting_writebacks(*, conn: Connection, crm: str, kind: str) -> int:
    """Write-backs to `crm` still queued or being sent."""
    return int(conn.execute(text("SELECT count(*) FROM alert WHERE channel = :crm AND kind = :kind AND status IN "
                                 "('queued', 'sending')"), {"crm": crm, "kind": kind}).scalar_one())


MOVED_WITH_A_LEAD = ("message", "score", "lead_action", "demo_session", "alert")  # rows that follow a merged lead


def convert_lead(*, conn: Connection, crm: str, old: str, new: str) -> Status:
    """A CRM record converted into another (a Salesforce Lead into a Contact): the lead whose external id is `old`
    goes on under `new`, keeping its history; when `new` is a lead here already, `old`'s activity, messages, scores,
    verdicts, demo sessions, alerts and outcome (unless `new` has one) move to it and `old` is deleted. Unchanged
    when there is no lead `old` (never synced, or converted before)."""
    found = conn.execute(text("SELECT id, status FROM lead WHERE external_id = :key"), {"key": old}).first()
    if found is None:
        return "unchanged"
    lead_id, status = int(found[0]), str(found[1])
    conn.execute(text("DELETE FROM crm_link WHERE crm = :crm AND kind = 'contacts' AND crm_id = :old"),
                 {"crm": crm, "old": old})
    into = conn.execute(text("SELECT id FROM lead WHERE external_id = :key"), {"key": new}).scalar()
    if into is None:
        conn.execute(text("UPDATE lead SET external_id = :new WHERE id = :lead"), {"new": new, "lead": lead_id})
        link(conn=conn, crm=crm, kind="contacts", crm_id=new, local_id=lead_id)
        return "updated"
    moved = {"old": lead_id, "new": int(into)}
    conn.execute(text(  # the same activity on both (synced twice): kept once
        "DELETE FROM activity WHERE lead_id = :old AND EXISTS (SELECT 1 FROM activity b WHERE b.lead_id = :new AND "
        "b.occurred_at = activity.occurred_at AND b.kind = activity.kind AND b.page_type = activity.page_type AND "
        "b.detail = activity.detail)"), moved)
    for table in ("activity", *MOVED_WITH_A_LEAD):
        conn.execute(text(f"UPDATE {table} SET lead_id = :new WHERE lead_id = :old"), moved)
    has_outcome = conn.execute(text("SELECT 1 FROM outcome WHERE lead_id = :new"), moved).first() is not None
    if not has_outcome and conn.execute(text("UPDATE outcome SET lead_id = :new WHERE lead_id = :old"),
                                        moved).rowcount:
        conn.execute(text("UPDATE lead SET status = :status WHERE id = :new"), {**moved, "status": status})
    conn.execute(text("DELETE FROM outcome WHERE lead_id = :old"), moved)
    conn.execute(text("UPDATE crm_link SET local_id = :new WHERE crm = :crm AND kind = 'deals' AND local_id = :old"),
                 {**moved, "crm": crm})
    conn.execute(text("DELETE FROM lead WHERE id = :old"), moved)
    return "updated"


def mark_deleted(*, conn: Connection, crm: str, crm_id: str) -> Status:
    """A contact deleted in the CRM: its lead leaves play (status `deleted`: not scored, listed or alerted any more;
    a decided lead keeps its outcome, the history training learns from). Unchanged when it was never synced or is
    out of play already."""
    lead = linked(conn=conn, crm=crm, kind="contacts", crm_id=crm_id)
    if lead is None:
        return "unchanged"
    gone = conn.execute(text(
        f"UPDATE lead SET status = 'deleted' WHERE id = :lead AND status NOT IN {OUT_OF_PLAY} AND NOT EXISTS "
        "(SELECT 1 FROM outcome WHERE lead_id = :lead)"), {"lead": lead}).rowcount
    return "updated" if gone else "unchanged"
