"""Import an arbitrary CRM export: one label column, every other column a typed lead attribute.

Columns with a usual CRM header (see ROLE_HEADERS: HubSpot, Salesforce and Pipedrive spellings, compared without
case, spaces or punctuation) fill the lead itself instead: its id, name, email, account, owner, creation time and
its outcome's amount and closing time. The label is a stage or a yes/no column: won, lost or open (see
cells.WON_STAGES…); an open lead gets no outcome and is scored, and a value that is none of them is an error.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from storage import queries
from storage.db import json_dumps, marks
from storage.errors import ImportFileError, RowError, StorageError
from storage.history import names_changed
from storage.importers import cells
from storage.importers.reading import Row, RowSource
from storage.importers.runner import ImportResult, Progress, RowChecker
from storage.importers.tables import References
from storage.importers.writer import BATCH_ROWS, Counts, UpsertWriter, insert_one

KINDS = ("number", "category", "boolean", "date", "text")
_DISTINCT_CAP = 2000
_CASING_CAP = 50_000  # first-seen spellings kept per column; beyond, a value is stored as written
DECISION_ORDER = "decision_order"  # meta key: time, ordered or random (read by scoring to choose its holdout)

ROLE_HEADERS: dict[str, frozenset[str]] = {
    role: frozenset(cells.word_key(h) for h in headers)
    for role, headers in {
        "id": ("Record ID", "Lead ID", "Id", "Deal ID", "Opportunity ID", "Contact ID", "Record ID - Deal",
               "hs_object_id", "External ID", "CRM ID"),
        "name": ("Lead Name", "Name", "Full Name", "Contact", "Contact Name", "Deal Name", "Opportunity Name",
                 "Person Name", "Lead"),
        "first_name": ("First Name", "Firstname", "Given Name"),
        "last_name": ("Last Name", "Lastname", "Surname", "Family Name"),
        "email": ("Email", "E-mail", "Email Address", "Contact Email", "Work Email", "Primary Email",
                  "Person Email"),
        "account": ("Company", "Company Name", "Account", "Account Name", "Organization", "Organisation",
                    "Organization Name", "Org Name", "Associated Company"),
        "owner": ("Owner", "Lead Owner", "Deal Owner", "Opportunity Owner", "Contact Owner", "Owner Name",
                  "Sales Rep", "Rep", "Assigned To", "HubSpot Owner"),
        "stage": ("Stage", "Deal Stage", "Opportunity Stage", "StageName", "Sales Stage", "Pipeline Stage",
                  "Status", "Lead Status", "Deal Status", "Opportunity Status"),
        "amount": ("Amount", "Deal Value", "Value", "Deal Amount", "Opportunity Amount", "Deal Size"),
        "time": ("Created Date", "Create Date", "Created", "Created At", "Date Created", "Created On",
                 "Created Time", "Deal Created", "Deal Created On", "Lead Created Date", "createdate"),
        "closed_at": ("Close Date", "Closed At", "Closed Date", "Closed On", "Date Closed", "Close Time",
                      "Deal Closed On", "closedate"),
    }.items()
}
ROLE_WORDS = {"id": "the lead's id", "name": "the lead's name", "first_name": "first name", "last_name": "last name",
              "email": "the lead's email", "account": "the account (created when new)",
              "owner": "the owner (a rep, created when new)", "amount": "the outcome's amount",
              "time": "the lead's creation time", "closed_at": "the outcome's closing time", "label": "the label"}
_LEAK_WORDS = ("probability", "forecast", "closedreason", "closereason", "lostreason", "lossreason",
               "wonreason", "reasonlost", "reasonwon", "closedlostreason", "closedwonreason", "expectedrevenue",
               "weightedamount")


class NoLabelError(StorageError):
    """No --label was given and no Stage or Status column was found."""


@dataclass
class ColumnProfile:
    """What one pass over a column saw, enough to infer its type."""

    name: str
    filled: int = 0
    numeric: bool = True
    money: bool = True  # every cell a number when read as money (12,000 is twelve thousand)
    boolean: bool = True
    date: bool = True
    day_first: bool = True  # every 31/12/2025-shaped cell reads day-first…
    month_first: bool = True  # …or month-first
    shaped: str | None = None  # the first 31/12/2025-shaped cell
    distinct: set[str] = field(default_factory=set)
    casing: dict[str, str] = field(default_factory=dict)  # lower case -> as first written
    total_length: int = 0
    date_format: str | None = None  # --date-format: the only reading of 31/12/2025-shaped cells
    known: dict[str, bool] = field(default_factory=dict)  # cell -> filled (not a placeholder), once seen

    def offer(self, value: Any) -> None:
        """Account for one cell; a placeholder is missing. Exports repeat values: each is examined once."""
        if value.__class__ is not str:
            if not cells.is_placeholder(value):
                self.see(str(value))
            return
        filled = self.known.get(value)
        if filled is None:
            filled = not cells.is_placeholder(value)
            if len(self.known) < _CASING_CAP:
                self.known[value] = filled
            if filled:
                self.see(value)
        elif filled:
            self.filled += 1
            self.total_length += len(value)

    def see(self, value: str) -> None:
        """Account for one non-missing cell."""
        self.filled += 1
        self.total_length += len(value)
        stripped = value.strip()
        lower = stripped.lower()
        if len(self.distinct) <= _DISTINCT_CAP:
            self.distinct.add(lower)
        if len(self.casing) < _CASING_CAP:
            self.casing.setdefault(lower, stripped)
        if self.numeric:
            try:
                cells.quantity(value)  # the same reading as typed_value: inf, 1,234 (ambiguous)… are not numbers
            except cells.CellError:
                self.numeric = False
                self.date = self.date and self.filled == 1  # the cells before were numbers, not dates
        if self.money:
            try:
                cells.quantity(value, money=True)
            except cells.CellError:
                self.money = False
        if self.boolean and lower not in cells.TRUE_WORDS | cells.FALSE_WORDS:
            self.boolean = False
        if self.date and not self.numeric:
            self._see_date(stripped)

    def _see_date(self, value: str) -> None:
        if self.date_format is None and cells.day_month_fields(value) is not None:
            self.shaped = self.shaped or value
            for order, flag in ((cells.DAY_FIRST, "day_first"), (cells.MONTH_FIRST, "month_first")):
                if getattr(self, flag):
                    try:
                        cells.date_as_written(value, order)
                    except cells.CellError:
                        setattr(self, flag, False)
            self.date = self.day_first or self.month_first
            return
        try:
            cells.date_as_written(value, self.date_format)
        except cells.CellError:
            self.date = False

    def kind(self) -> str:
        """number, category, boolean, date or text."""
        if self.filled == 0:
            return "category"
        if self.boolean:
            return "boolean"
        if self.numeric:
            return "number"
        if self.date:
            return "date"
        mean_length = self.total_length / self.filled
        if len(self.distinct) > max(50, self.filled // 2) and mean_length >= 20:
            return "text"
        return "category"

    def reading(self) -> str | None:
        """How this date column's 31/12/2025-shaped cells read (None: it has none, or --date-format says)."""
        if self.shaped is None:
            return self.date_format
        if self.day_first and self.month_first:
            raise cells.CellError(
                f"dates such as {self.shaped!r} read day-first and month-first alike; say which with "
                f"--date-format {cells.DAY_FIRST} or --date-format {cells.MONTH_FIRST}"
            )
        return cells.DAY_FIRST if self.day_first else cells.MONTH_FIRST


def profile_columns(source: RowSource, skip: Iterable[str], date_format: str | None = None) -> dict[str, ColumnProfile]:
    """First pass: a profile of every column but `skip`, in header order."""
    profiles: dict[int, ColumnProfile] = {}
    skipped = set(skip)

    def start() -> dict[int, ColumnProfile]:
        return {i: ColumnProfile(name, date_format=date_format) for i, name in enumerate(source.header)
                if name not in skipped}

    for row in source:
        if not profiles:
            profiles = start()
        if row.problem:
            continue
        for index, profile in profiles.items():
            profile.offer(row.cells[index])
    return {p.name: p for p in (profiles or start()).values()}


def infer_types(source: RowSource, skip: Iterable[str]) -> dict[str, str]:
    """First pass: the inferred kind of every column but `skip`."""
    return {name: p.kind() for name, p in profile_columns(source, skip).items()}


def typed_value(
    kind: str, raw: Any, profile: ColumnProfile | None = None, reading: str | None = None, *, money: bool = False
) -> Any:
    """One attribute cell as its inferred type (None when missing); a category keeps the column's first spelling,
    a date column reads 31/12/2025-shaped cells as `reading` says, and an amount column is read as `money`."""
    if cells.is_placeholder(raw):
        return None
    if kind == "number":
        number = cells.quantity(raw, money=money)
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "boolean":
        return cells.boolean(raw)
    if kind == "date":
        return cells.date_as_written(raw, reading).isoformat()
    stripped = str(raw).strip()
    if kind == "category" and profile is not None:
        return profile.casing.get(stripped.lower(), stripped)
    return stripped


@dataclass
class CrmOptions:
    """What the user said about the export (every column option names a header)."""

    label: str | None = None
    id_column: str | None = None
    time_column: str | None = None
    name: str | None = None
    account: str | None = None
    owner: str | None = None
    amount: str | None = None
    closed_at: str | None = None
    positive: tuple[str, ...] = ()
    open_values: tuple[str, ...] = ()
    lost_values: tuple[str, ...] = ()
    ordered: bool = False
    date_format: str | None = None
    drop: tuple[str, ...] = ()

    def explicit(self) -> dict[str, str]:
        """Role -> column, for the roles named by an option."""
        given = {"label": self.label, "id": self.id_column, "time": self.time_column, "name": self.name,
                 "account": self.account, "owner": self.owner, "amount": self.amount, "closed_at": self.closed_at}
        return {role: column for role, column in given.items() if column}


@dataclass
class Plan:
    """Which column plays which role, the attributes' kinds, and what to tell the user."""

    roles: dict[str, str]
    profiles: dict[str, ColumnProfile]
    attributes: dict[str, str]  # name -> kind
    readings: dict[str, str | None]  # date column -> its reading of 31/12/2025-shaped cells
    decision_order: str
    notes: list[str]
    kept: dict[str, str] = field(default_factory=dict)  # attribute -> the role it also fills


def plan_columns(source: RowSource, options: CrmOptions) -> Plan:
    """Profile the export and give each column its role; raise ImportFileError (or NoLabelError) when it cannot."""
    explicit = options.explicit()
    profiles = profile_columns(source, options.drop, options.date_format)
    header = source.header
    missing = [c for c in [*explicit.values(), *options.drop] if c not in header]
    if missing:
        found = ", ".join(header)
        raise ImportFileError(
            source.name, [RowError(source.name, 0, c, f"no such column (found: {found})") for c in missing]
        )
    if options.ordered and options.time_column:
        raise ImportFileError.whole(source.name, "--ordered and --time say two things: give one of them")
    roles, notes = dict(explicit), []
    for column, profile in profiles.items():
        if column in roles.values():
            continue
        key = cells.word_key(column)
        for role, keys in ROLE_HEADERS.items():
            if key in keys and role not in roles:
                refusal = _refusal(role, profile, roles, options)
                if refusal is None:
                    roles[role] = column
                elif refusal:
                    notes.append(f"{source.name}: note: column {column} is not used as {ROLE_WORDS[role]} "
                                 f"({refusal}); it is kept as an attribute")
                break
    if "name" in roles:
        roles.pop("first_name", None)
        roles.pop("last_name", None)
    if "label" not in roles:
        if "stage" not in roles:
            raise NoLabelError(f"{source.name}: no Stage or Status column among {', '.join(header)}; "
                               "crm imports need --label COLUMN (the won/lost/open column)")
        roles["label"] = roles["stage"]
        notes.append(f"{source.name}: label: column {roles['label']} (no --label given)")
    roles.pop("stage", None)
    _check_roles(source.name, roles, profiles)
    used = set(roles.values())
    attributes = {c: p.kind() for c, p in profiles.items() if c not in used}
    kept = {}
    if "amount" in roles:  # an open lead has no outcome to hold its amount: kept as an attribute too
        attributes[roles["amount"]] = "number"
        kept[roles["amount"]] = "amount"
    readings = _readings(source.name, attributes, roles, profiles)
    order = "ordered" if options.ordered else "time" if "time" in roles or "closed_at" in roles else "random"
    notes.extend(_leak_notes(source.name, attributes, roles))
    return Plan(roles, profiles, attributes, readings, order, notes, kept)


def _refusal(role: str, profile: ColumnProfile, roles: dict[str, str], options: CrmOptions) -> str | None:
    """Why a column with a role's usual header does not look like it ("" to say nothing), or None."""
    kind = profile.kind()
    if role == "stage":
        return None if options.label is None else ""
    if role in ("time", "closed_at"):
        if role == "time" and options.ordered:
            return None if kind == "date" else ""
        return None if kind == "date" else f"not dates: {kind}"
    if role == "amount":
        return None if profile.money and profile.filled else "not amounts"
    if role == "id":
        repeats = len(profile.distinct) < min(profile.filled, _DISTINCT_CAP)
        return "its values repeat" if repeats else None
    if kind in ("number", "boolean", "date"):
        return f"{kind} values"
    # People share names, and a small team's export repeats them; a name is never a model input, so the header is
    # trusted unless its values are few enough to be categories ("Contact": cellular or telephone)
    if role == "name" and len(profile.distinct) < min(_DISTINCT_CAP, max(10, profile.filled // 20)):
        return f"only {len(profile.distinct)} different values in {profile.filled:,} rows"
    return None


def _check_roles(name: str, roles: dict[str, str], profiles: dict[str, ColumnProfile]) -> None:
    errors = []
    for role in ("time", "closed_at"):
        column = roles.get(role)
        if column and column in profiles and profiles[column].filled and profiles[column].kind() != "date":
            errors.append(RowError(name, 0, column, f"is {ROLE_WORDS[role]}, but not dates "
                                                   "(ISO 8601, 31/12/2025 or 12/31/2025; see --date-format)"))
    if errors:
        raise ImportFileError(name, errors)


def _readings(name: str, attributes: dict[str, str], roles: dict[str, str],
              profiles: dict[str, ColumnProfile]) -> dict[str, str | None]:
    """Each date column's reading; a column whose dates fit both takes the one its file's other columns show."""
    readings: dict[str, str | None] = {}
    ambiguous: dict[str, cells.CellError] = {}
    dated = [c for c, kind in attributes.items() if kind == "date"]
    for column in [*dated, *(roles[r] for r in ("time", "closed_at") if r in roles)]:
        profile = profiles.get(column)
        if profile is None:
            continue
        try:
            readings[column] = profile.reading()
        except cells.CellError as exc:
            ambiguous[column] = exc
    shown = {r for c, r in readings.items() if r and profiles[c].shaped}
    if ambiguous and len(shown) == 1:  # one export, one way of writing dates
        readings.update(dict.fromkeys(ambiguous, shown.pop()))
    elif ambiguous:
        raise ImportFileError(name, [RowError(name, 0, c, str(exc)) for c, exc in ambiguous.items()])
    return readings


def _leak_notes(name: str, attributes: dict[str, str], roles: dict[str, str]) -> list[str]:
    notes = []
    for column in attributes:
        key = cells.word_key(column)
        if any(word in key for word in _LEAK_WORDS) or (key in ROLE_HEADERS["stage"] and column != roles["label"]):
            notes.append(f"{name}: note: column {column} is likely a leak (known only once the deal is decided): "
                         f"kept as an attribute; leave it out with --drop {column!r} if it is")
    return notes


class Stages:
    """Reads a label cell: 1 won, 0 lost, None open; `unknown` collects the rows of any other value."""

    def __init__(self, positive: Iterable[str], open_values: Iterable[str], lost_values: Iterable[str]) -> None:
        self.positive = frozenset(cells.word_key(p) for p in positive)
        self.won = self.positive or cells.WON_STAGES
        self.lost = (cells.LOST_STAGES | {cells.word_key(v) for v in lost_values}) - self.positive
        self.open = (cells.OPEN_STAGES | {cells.word_key(v) for v in open_values}) - self.positive - self.lost
        self.unknown: dict[str, tuple[str, list[int]]] = {}
        self.seen: dict[str, list[Any]] = {}  # word key -> [as first written, known, outcome, rows, word key]
        self.cells: dict[str, list[Any]] = {}  # cell as written -> its entry of `seen`

    def read(self, raw: Any, row: int) -> tuple[bool, int | None]:
        """(known, outcome) of one label cell; a placeholder is open."""
        known = self.cells.get(raw) if raw.__class__ is str else None
        if known is None:
            if cells.is_placeholder(raw):
                return True, None
            key = cells.word_key(raw)
            known = self.seen.get(key)
            if known is None:
                known = self.seen[key] = [str(raw).strip(), *self._meaning(key, raw), 0, key]
            if raw.__class__ is str and len(self.cells) < _CASING_CAP:
                self.cells[raw] = known
        known[3] += 1
        if not known[1]:
            self.unknown.setdefault(known[4], (known[0], []))[1].append(row)
        return known[1], known[2]

    def _meaning(self, key: str, raw: Any) -> tuple[bool, int | None]:
        if key in self.won:
            return True, 1
        if key in self.lost:
            return True, 0
        if key in self.open:
            return True, None
        try:
            number = cells.number(raw)
        except cells.CellError:
            return False, None
        if number == 0 or (number == 1 and not self.positive):
            return True, int(number)
        return False, None

    def errors(self, name: str, column: str) -> list[RowError]:
        """One line per unknown value, naming the rows it is on."""
        found = []
        for value, rows in self.unknown.values():
            shown = ", ".join(str(r) for r in rows[:10]) + (f" and {len(rows) - 10:,} more" if len(rows) > 10 else "")
            won = " (a won word, but --positive names the won value)" if cells.word_key(value) in cells.WON_STAGES \
                else ""
            found.append(RowError(name, rows[0], column, f"unknown stage {value!r}{won} on rows {shown}: say what "
                                  f"it is with --positive, --lost or --open {value!r}"))
        return found

    def summary(self) -> str:
        """won: Closed Won (8); lost: …; open: …"""
        parts = []
        for title, outcome in (("won", 1), ("lost", 0), ("open", None)):
            words = [f"{first} ({count:,})" for first, known, meaning, count, _ in self.seen.values()
                     if known and meaning == outcome]
            if words:
                parts.append(f"{title}: {', '.join(words)}")
        return "; ".join(parts) or "no values"


class Owners:
    """Finds a rep by name, email or Slack id; an owner seen for the first time becomes a new rep."""

    def __init__(self, conn: Connection, created: dict[str, int]) -> None:
        self.conn, self.created = conn, created
        self.reps: dict[str, int] = {}
        for rep_id, name, email, slack in conn.exec_driver_sql("SELECT id, name, email, slack_user_id FROM rep"):
            for label in (slack, email, name):
                if label:
                    self.reps[str(label).strip().lower()] = rep_id

    def rep(self, value: str) -> int:
        """The rep's id."""
        key = value.lower()
        found = self.reps.get(key)
        if found is None:
            found = insert_one(self.conn, "rep", {"name": value, "role": "rep", "timezone": "UTC",
                                                  "email": value if "@" in value else None})
            self.reps[key] = found
            self.created["reps"] = self.created.get("reps", 0) + 1
        return found


def import_crm(
    engine: Engine,
    path: Path,
    *,
    label: str | None = None,
    id_column: str | None = None,
    time_column: str | None = None,
    positive: str | Iterable[str] | None = None,
    delimiter: str | None = None,
    drop: Iterable[str] = (),
    progress: Progress | None = None,
    **more: Any,
) -> ImportResult:
    """Import a CRM export: leads with typed attributes and, where the label is decided, their outcomes.

    `more` takes the other CrmOptions fields (name, account, owner, amount, closed_at, open_values, lost_values,
    ordered, date_format).
    """
    started = time.perf_counter()
    positives = (positive,) if isinstance(positive, str) else tuple(positive or ())
    options = CrmOptions(label=label, id_column=id_column, time_column=time_column, positive=positives,
                         drop=tuple(drop), **more)
    source = RowSource(path, delimiter)
    plan = plan_columns(source, options)
    stages = Stages(options.positive, options.open_values, options.lost_values)
    lead_counts, outcome_counts = Counts(), Counts()
    with engine.begin() as conn:
        _write_schema(conn, plan, source.name)
        run = _CrmRun(conn, source, plan, stages, lead_counts, outcome_counts, explicit_time=bool(time_column))
        run.stream(progress)
        meta = UpsertWriter(conn, "meta", "key", ["key", "value"], Counts())
        meta.add({"key": DECISION_ORDER, "value": plan.decision_order})
        meta.flush()
        names_changed(conn=conn)  # last: every process's name index follows (see storage.history.name_version)
    return ImportResult("crm", source.name, lead_counts, time.perf_counter() - started,
                        notes=_notes(source.name, plan, stages, outcome_counts, run.reopened))


def _notes(name: str, plan: Plan, stages: Stages, outcomes: Counts, reopened: int) -> list[str]:
    roles = [f"{column} → {ROLE_WORDS[role]}" for role, column in plan.roles.items()]
    order = {"time": "time (from " + ", ".join(plan.roles[r] for r in ("time", "closed_at") if r in plan.roles) + ")",
             "ordered": "the file's row order (--ordered)",
             "random": "unknown (no date column, no --time or --ordered)"}[plan.decision_order]
    attributes = ", ".join(f"{c} ({kind}{', also ' + ROLE_WORDS[plan.kept[c]] if c in plan.kept else ''})"
                           for c, kind in plan.attributes.items())
    return [
        f"{name}: outcomes: {outcomes.inserted:,} inserted, {outcomes.updated:,} updated, "
        f"{outcomes.unchanged:,} unchanged" + (f", {reopened:,} removed (open again)" if reopened else ""),
        f"{name}: {plan.roles['label']}: {stages.summary()}",
        f"{name}: columns: {', '.join(roles)}",
        f"{name}: decision order: {order}",
        f"{name}: attributes: {attributes}",
        *plan.notes,
    ]


def _write_schema(conn: Connection, plan: Plan, source: str) -> None:
    writer = UpsertWriter(conn, "attribute", "name", ["name", "kind", "source"], Counts())
    for name, kind in plan.attributes.items():
        role = plan.kept.get(name)
        writer.add({"name": name, "kind": kind, "source": f"{source} (also {role})" if role else source})
    writer.flush()


class _CrmRun:
    """Second pass: read the label and the roles, build lead rows and outcomes, write them in batches."""

    def __init__(self, conn: Connection, source: RowSource, plan: Plan, stages: Stages, lead_counts: Counts,
                 outcome_counts: Counts, *, explicit_time: bool) -> None:
        self.conn, self.source, self.plan, self.stages = conn, source, plan, stages
        self.roles = plan.roles
        self.kept = set(plan.kept)
        self.explicit_time = explicit_time
        self.checker = RowChecker(source.name)
        self.imported_at = cells.sql_datetime(datetime.now(UTC).replace(tzinfo=None, microsecond=0))
        columns = ["external_id", "name", "attributes"]
        columns += [target for role, target in (("email", "email"), ("account", "account_id"),
                                                ("owner", "owner_id")) if role in self.roles]
        defaults = {"status": "open", "created_at": self.imported_at}
        # a lead without a time keeps the one it was first imported at: written by a writer without created_at
        self.leads = UpsertWriter(conn, "lead", "external_id", [*columns, "created_at"], lead_counts, defaults)
        self.untimed = UpsertWriter(conn, "lead", "external_id", columns, lead_counts, defaults)
        self.last = self.untimed
        outcome_columns = ["lead_id", "converted", "closed_at"] + (["amount"] if "amount" in self.roles else [])
        self.outcomes = UpsertWriter(conn, "outcome", "lead_id", outcome_columns, outcome_counts)
        self.accounts = References(conn, lead_counts.created)
        self.owners = Owners(conn, lead_counts.created)
        self.pending: list[tuple[str, int, str | None, float | None]] = []
        self.reopen: list[str] = []
        self.reopened = 0
        self.seen: dict[str, int] = {}

    def stream(self, progress: Progress | None) -> None:
        """Read every row; raise ImportFileError (so nothing is written) when any was bad."""
        index = {name: i for i, name in enumerate(self.source.header)}
        self.at = {role: index[column] for role, column in self.roles.items()}
        profiles = self.plan.profiles
        attributes: list[tuple[int, str, str, Any, str | None, dict[str, Any]]] = [
            (index[name], name, kind, profiles.get(name), self.plan.readings.get(name), {})
            for name, kind in self.plan.attributes.items()
        ]
        stem = self.source.path.stem
        for row in self.source:
            if row.problem:
                self.checker.add(row, "-", row.problem)
                continue
            if self.checker.full:
                break
            external_id = str(row.cells[self.at["id"]]).strip() if "id" in self.at else f"{stem}-{row.number}"
            if not self._unique(row, external_id):
                continue
            known, converted = self.stages.read(row.cells[self.at["label"]], row.number)
            values = self._lead(row, external_id)
            moment = self._time(row, "time", required=self.explicit_time)
            closed = self._time(row, "closed_at", required=False) or moment
            amount = self._amount(row)
            values["attributes"] = json_dumps(self._attributes(row, attributes))
            if self.checker.errors or not known:
                continue
            writer = self.leads if moment is not None else self.untimed
            if writer is not self.last:  # the other one's rows first: leads get their ids in file order
                self.last.flush()
                self.last = writer
            writer.add({**values, "created_at": moment} if moment is not None else values)
            if converted is not None:
                self.pending.append((external_id, converted, closed, amount))
            elif not cells.is_placeholder(row.cells[self.at["label"]]):
                self.reopen.append(external_id)
            if len(self.pending) + len(self.reopen) >= BATCH_ROWS:
                self._flush_outcomes()
            if progress and row.number % BATCH_ROWS == 0:
                progress(self.source.bytes_read, self.source.size)
        self.checker.errors.extend(self.stages.errors(self.source.name, self.roles["label"]))
        self.checker.raise_if_any()
        self._flush_outcomes()

    def _cell(self, row: Row, role: str) -> str | None:
        """The role's cell, stripped; None when the role has no column or the cell is a placeholder."""
        at = self.at.get(role)
        if at is None:
            return None
        raw = row.cells[at]
        return None if cells.is_placeholder(raw) else str(raw).strip()

    def _lead(self, row: Row, external_id: str) -> dict[str, Any]:
        name = self._cell(row, "name")
        if name is None:
            name = " ".join(p for p in (self._cell(row, "first_name"), self._cell(row, "last_name")) if p) or None
        values: dict[str, Any] = {"external_id": external_id, "name": name or external_id}
        if "email" in self.at:
            values["email"] = self._cell(row, "email")
        if "account" in self.at:
            account = self._cell(row, "account")
            values["account_id"] = self.accounts.account(account) if account else None
        if "owner" in self.at:
            owner = self._cell(row, "owner")
            values["owner_id"] = self.owners.rep(owner) if owner else None
        return values

    def _attributes(
        self, row: Row, attributes: list[tuple[int, str, str, Any, str | None, dict[str, Any]]]
    ) -> dict[str, Any]:
        typed: dict[str, Any] = {}
        for index, name, kind, profile, reading, done in attributes:
            raw = row.cells[index]
            cached = raw.__class__ is str and raw in done
            try:
                value = done[raw] if cached else typed_value(kind, raw, profile, reading, money=name in self.kept)
            except cells.CellError as exc:  # a type inferred from every row fits every row; this guards the rest
                self.checker.add(row, name, str(exc))
                continue
            if not cached and raw.__class__ is str and len(done) < _CASING_CAP:  # exports repeat their values
                done[raw] = value
            if value is not None:
                typed[name] = value
        return typed

    def _unique(self, row: Row, external_id: str) -> bool:
        first = self.seen.setdefault(external_id, row.number)
        column = self.roles.get("id", "-")
        if first != row.number:
            self.checker.add(row, column, f"duplicate id {external_id!r} (first on row {first})")
            return False
        if not external_id or cells.is_placeholder(external_id):
            self.checker.add(row, column, "is empty, and it is the id column")
            return False
        return True

    def _time(self, row: Row, role: str, *, required: bool) -> str | None:
        at = self.at.get(role)
        if at is None:
            return None
        raw = row.cells[at]
        if not required and cells.is_placeholder(raw):
            return None
        try:
            return cells.sql_datetime(cells.date_as_written(raw, self.plan.readings.get(self.roles[role])))
        except cells.CellError as exc:
            self.checker.add(row, self.roles[role], str(exc))
            return None

    def _amount(self, row: Row) -> float | None:
        raw = self._cell(row, "amount")
        if raw is None:
            return None
        try:
            amount = cells.quantity(raw, money=True)
        except cells.CellError as exc:
            self.checker.add(row, self.roles["amount"], str(exc))
            return None
        if amount < 0:
            self.checker.add(row, self.roles["amount"], f"is negative: {raw!r} (a deal value is 0 or more)")
        return amount

    def _flush_outcomes(self) -> None:
        self.leads.flush()
        self.untimed.flush()
        if self.reopen:
            reopened = list(queries.lead_ids_by_external_id(conn=self.conn, external_ids=self.reopen).values())
            for start in range(0, len(reopened), 500):
                chunk = reopened[start : start + 500]
                result = self.conn.exec_driver_sql(
                    f"DELETE FROM outcome WHERE lead_id IN ({marks(self.conn, len(chunk))})", tuple(chunk))
                self.reopened += max(result.rowcount, 0)
            self.reopen.clear()
        if not self.pending:
            return
        ids = queries.lead_ids_by_external_id(conn=self.conn, external_ids=(e for e, _, _, _ in self.pending))
        for external_id, converted, moment, amount in self.pending:
            values: dict[str, Any] = {"lead_id": ids[external_id], "converted": converted, "closed_at": moment}
            if "amount" in self.roles:
                values["amount"] = amount
            self.outcomes.add(values)
        self.outcomes.flush()
        self.pending.clear()
