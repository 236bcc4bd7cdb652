"""What each import kind reads: its columns, how each cell is parsed, and its natural key."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from storage.db import json_dumps
from storage.derived import ACTIVITY_KINDS, activity_numbers, message_numbers
from storage.importers import cells
from storage.importers.writer import insert_one
from storage.roles import REP_ROLES

CHANNELS = ("slack", "whatsapp", "email", "chat", "call")
DIRECTIONS = ("inbound", "outbound")
LEAD_STATUSES = ("open", "won", "lost", "snoozed", "contacted")


@dataclass
class Column:
    """One column of an input file and the database column it fills."""

    name: str
    parse: Callable[[Any], Any]
    help: str
    required: bool = False
    target: str = ""

    def __post_init__(self) -> None:
        self.target = self.target or self.name


@dataclass
class TableSpec:
    """An import kind: its table, natural key (None: append-only) and columns."""

    kind: str
    table: str
    key: str | None
    columns: list[Column]
    summary: str
    extras_target: str | None = None  # JSON column that keeps columns the spec does not know
    insert_defaults: dict[str, Any] = field(default_factory=dict)
    derive: Callable[[dict[str, Any]], None] | None = None
    derived: tuple[str, ...] = ()  # columns `derive` fills besides those read from the file
    index_order: tuple[str, ...] = ()  # append-only kinds: the unique key's column order


class References:
    """Resolves names in a file to ids, within the import's transaction."""

    def __init__(self, conn: Connection, counts_created: dict[str, int]) -> None:
        self.conn = conn
        self._created = counts_created
        self._leads: dict[str, int] | None = None
        self._accounts: dict[str, int] | None = None
        self._reps: dict[str, int] | None = None

    def lead(self, value: Any) -> int:
        """A lead's id from its external id."""
        if self._leads is None:
            self._leads = dict(self.conn.exec_driver_sql("SELECT external_id, id FROM lead").all())
        if value.__class__ is str:
            found = self._leads.get(value)
            if found is not None:
                return found
        external_id = cells.text(value)  # a JSON list or object is refused, not looked up
        found = self._leads.get(external_id)
        if found is None:
            raise cells.CellError(f"unknown lead {external_id!r} (import it with `hotlead import leads` first)")
        return found

    def rep(self, value: Any) -> int:
        """A rep's id from their name, email or Slack user id."""
        if self._reps is None:
            self._reps = {}
            for rep_id, name, email, slack in self.conn.exec_driver_sql(
                "SELECT id, name, email, slack_user_id FROM rep"
            ):
                for label in (name, email, slack):
                    if label:
                        self._reps[str(label).lower()] = rep_id
        found = self._reps.get(cells.text(value).lower())
        if found is None:
            raise cells.CellError(f"unknown rep {value!r} (import it with `hotlead import reps` first)")
        return found

    def account(self, value: Any) -> int:
        """An account's id from its name; an account seen for the first time is created."""
        if self._accounts is None:
            self._accounts = {
                name.lower(): account_id
                for account_id, name in self.conn.exec_driver_sql("SELECT id, name FROM account")
            }
        name = cells.text(value)
        found = self._accounts.get(name.lower())
        if found is None:
            found = insert_one(self.conn, "account", {"name": name, "extra": "{}"})
            self._accounts[name.lower()] = found
            self._created["accounts"] = self._created.get("accounts", 0) + 1
        return found


def _optional(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def read(value: Any) -> Any:
        return None if cells.is_missing(value) else parse(value)

    return read


def _optional_number(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """An optional numeric column: empty is None, but 'nan' is refused by `parse` rather than read as empty."""

    def read(value: Any) -> Any:
        return None if cells.is_blank(value) else parse(value)

    return read


def _optional_lower(value: Any) -> str | None:
    return None if cells.is_missing(value) else cells.text(value).lower()


def _message_ref(values: dict[str, Any]) -> None:
    if not values.get("source_ref"):
        material = "\x1f".join(
            str(values.get(k)) for k in ("lead_id", "channel", "occurred_at", "speaker", "text")
        )
        values["source_ref"] = "sha1:" + hashlib.sha1(material.encode()).hexdigest()
    message_numbers(values)


def _activity_page_type(values: dict[str, Any]) -> None:
    detail = values.get("detail")
    if detail and '"page_type"' in detail:  # as the HTTP intake: a detail's page_type is the event's own
        moved = json.loads(detail)
        inner = moved.pop("page_type", None) if isinstance(moved, dict) else None
        if values.get("page_type") is None and not isinstance(inner, (dict, list)):
            values["page_type"] = _optional_lower(inner)
        values["detail"] = json_dumps(moved)
    if values.get("page_type") is None:
        values["page_type"] = ""
    activity_numbers(values)


class ExtrasEncoder:
    """Turns the cells of unknown columns into the canonical JSON kept in an extras column.

    Exports repeat the same extra values (page URLs, campaigns) on many rows, so encodings are cached;
    the cache is cleared when full to keep memory flat however long the file is.
    """

    CACHE_SIZE = 50_000

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self._cache: dict[tuple, str] = {}

    def encode(self, raw: tuple) -> str:
        """The JSON for one row's extra cells."""
        try:
            cached = self._cache.get(raw)
        except TypeError:  # a JSON Lines cell holds an object or a list: not hashable, not cached
            cached = None
        if cached is not None:
            return cached
        extras = {name: value for name, value in zip(self.names, raw, strict=True) if not cells.is_missing(value)}
        nested = extras.pop("detail", None)  # a JSON `detail` column (or object) is merged, not nested
        if isinstance(nested, str):
            try:
                nested = json.loads(nested)
            except json.JSONDecodeError:
                nested = {"detail": nested}
        if isinstance(nested, dict):
            extras.update(nested)
        elif nested is not None:  # a list or a number is kept, not dropped
            extras["detail"] = nested
        encoded = json_dumps(extras)
        if len(self._cache) >= self.CACHE_SIZE:
            self._cache.clear()
        with contextlib.suppress(TypeError):  # unhashable cells (JSON Lines objects) are not cached
            self._cache[raw] = encoded
        return encoded


def spec_for(kind: str, refs: References) -> TableSpec:
    """The spec of one import kind, its reference columns bound to `refs`."""
    return _SPECS[kind](refs)


def _accounts(refs: References) -> TableSpec:
    return TableSpec(
        "accounts", "account", "name",
        [
            Column("name", cells.text, "company name (the natural key)", required=True),
            Column("domain", _optional(cells.text), "web domain"),
            Column("industry", _optional_lower, "industry or vertical"),
            Column("employees", _optional_number(cells.count), "head count (0 or more)"),
            Column("country", _optional(cells.text), "country"),
        ],
        "companies; other columns are kept in the account's extra data",
        extras_target="extra",
    )


def _reps(refs: References) -> TableSpec:
    return TableSpec(
        "reps", "rep", "name",
        [
            Column("name", cells.text, "full name (the natural key)", required=True),
            Column("role", _optional(cells.choice(REP_ROLES)), "rep, senior, bdr or manager (default rep)"),
            Column("email", _optional(cells.text), "email address"),
            Column("slack_user_id", _optional(cells.text), "Slack member id, e.g. U024BE7LH"),
            Column("whatsapp", _optional(cells.e164), "WhatsApp number in E.164, e.g. +15550100001"),
            Column("timezone", _optional(cells.timezone), "IANA time zone (default UTC)"),
        ],
        "the sales team: who the bot answers and alerts",
        insert_defaults={"role": "rep", "timezone": "UTC"},
    )


def _leads(refs: References) -> TableSpec:
    return TableSpec(
        "leads", "lead", "external_id",
        [
            Column("external_id", cells.text, "your CRM's id for the lead (the natural key)", required=True),
            Column("name", cells.text, "full name", required=True),
            Column("email", _optional(cells.text), "email address"),
            Column("phone", _optional(cells.phone), "phone number"),
            Column("title", _optional(cells.text), "job title"),
            Column("seniority", _optional_lower, "c-level, vp, director, manager, individual…"),
            Column("source", _optional_lower, "lead source: webinar, paid_search, referral…"),
            Column("account", _optional(refs.account), "company name (created when new)",
                   target="account_id"),
            Column("owner", _optional(refs.rep), "owning rep: name, email or Slack id", target="owner_id"),
            Column("created_at", cells.timestamp, "when the lead was created (ISO 8601)", required=True),
            Column("status", _optional(cells.choice(LEAD_STATUSES)), "open, won, lost, snoozed, contacted"),
        ],
        "people at accounts",
        insert_defaults={"status": "open", "attributes": "{}"},
    )


def _activities(refs: References) -> TableSpec:
    return TableSpec(
        "activities", "activity", None,
        [
            Column("lead", refs.lead, "the lead's external_id", required=True, target="lead_id"),
            Column("kind", cells.choice(ACTIVITY_KINDS), "one of " + ", ".join(ACTIVITY_KINDS), required=True),
            Column("occurred_at", cells.timestamp, "when it happened (ISO 8601)", required=True),
            Column("page_type", _optional_lower, "for page views: pricing, demo, docs, case_study, blog…"),
        ],
        "behavioural events; other columns (url, campaign…) are kept in the event's detail",
        extras_target="detail",
        derive=_activity_page_type,
        derived=("day", "code"),
        index_order=("lead_id", "occurred_at", "kind", "page_type", "detail"),
    )


def _messages(refs: References) -> TableSpec:
    return TableSpec(
        "messages", "message", "source_ref",
        [
            Column("lead", refs.lead, "the lead's external_id", required=True, target="lead_id"),
            Column("channel", cells.choice(CHANNELS), "one of " + ", ".join(CHANNELS), required=True),
            Column("direction", _optional(cells.choice(DIRECTIONS)),
                   "inbound (the prospect) or outbound (your team); default inbound"),
            Column("speaker", _optional(cells.text), "who said it"),
            Column("text", cells.text, "what was said", required=True),
            Column("occurred_at", cells.timestamp, "when (ISO 8601)", required=True),
            Column("source_ref", _optional(cells.text), "a unique id for the line (derived when absent)"),
        ],
        "lines of chat, WhatsApp, email or call conversation",
        insert_defaults={"direction": "inbound"},
        derive=_message_ref,
        derived=("day", "inbound", "question"),
    )


def _outcomes(refs: References) -> TableSpec:
    return TableSpec(
        "outcomes", "outcome", "lead_id",
        [
            Column("lead", refs.lead, "the lead's external_id (the natural key)", required=True,
                   target="lead_id"),
            Column("converted", cells.boolean, "won or lost: yes/no, 1/0, won/lost", required=True),
            Column("amount", _optional_number(cells.amount), "deal value (0 or more)"),
            Column("closed_at", _optional(cells.timestamp), "when the deal was decided (ISO 8601)"),
        ],
        "won and lost deals: what the model learns from",
    )


_SPECS: dict[str, Callable[[References], TableSpec]] = {
    "accounts": _accounts,
    "reps": _reps,
    "leads": _leads,
    "activities": _activities,
    "messages": _messages,
    "outcomes": _outcomes,
}
TABLE_KINDS = tuple(_SPECS)
APPEND_ONLY_KINDS = frozenset({"activities"})
