"""Point-in-time features: each lead as it looked just before its cutoff (its decision, or now).

Only events strictly before a lead's cutoff count, so a model trained on past decisions never sees what
happened after them. Names follow `family.name` (firm, attr, beh, time, neg, conv, acct, rep); reasons group on
them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from scoring.committee import (
    NOT_ENGAGEMENT,
    committee_features,
    committee_on_own_connection,
    committee_rows,
    matrix,
    threads_allowed,
)
from scoring.conversation import conversation_features
from scoring.feedback import COLUMN as FEEDBACK
from scoring.feedback import feedback_column
from storage import queries
from storage.derived import ACTIVITY_KINDS, PAGE_BITS, PAGE_TYPES
from storage.history import any_verdict, verdicts

WINDOWS = (7, 30, 90)
PARALLEL_FROM = 2000  # leads: below this, second connections cost more than they save (`why` asks for one)
KINDS = ("email_sent", "email_open", "email_click", "email_reply", "email_bounce", "unsubscribe", "form_submit",
         "demo_request", "webinar", "trial_event", "meeting", "call")
PAGES = ("pricing", "demo", "docs", "case_study", "blog", "home", "careers")
NEVER = 90.0  # days reported when something never happened
CATEGORICAL = ("firm.industry", "firm.country", "firm.seniority", "firm.source")


class Columns(dict[str, Any]):
    """Feature columns under construction (name -> array of `size` values), made a DataFrame once at the end."""

    def __init__(self, index: pd.Index) -> None:
        super().__init__()
        self.index = index
        self.size = len(index)


VIEW = 0  # kind code of page_view; KINDS are coded 1..len(KINDS), anything else len(KINDS) + 1


@dataclass
class Events:
    """Events of the leads being featurised: row index of the lead, age in days at its cutoff, and codes."""

    row: np.ndarray
    age: np.ndarray
    kind: np.ndarray  # 0 page_view, 1.. KINDS, len(KINDS) + 1 other
    page: np.ndarray  # -1 none, 0.. PAGES, len(PAGES) other
    day: np.ndarray

    def of(self, *kinds: str) -> np.ndarray:
        """Mask of events of the named kinds."""
        return np.isin(self.kind, [KINDS.index(k) + 1 for k in kinds])


def build_features(engine: Engine, cutoffs: pd.Series) -> pd.DataFrame:
    """Features for the leads in `cutoffs` (lead id -> julian day of the cutoff), one row per lead."""
    index = pd.Index([int(i) for i in cutoffs.index])
    with ThreadPoolExecutor(max_workers=2) as workers:
        # The committee sums and the packing of the leads' events are SQLite's own work, which runs without the
        # GIL: on connections of their own they overlap with reading and featurising everything else.
        threads = len(index) >= PARALLEL_FROM and threads_allowed(engine)
        later = workers.submit(committee_on_own_connection, engine, index, cutoffs) if threads else None
        events_later = workers.submit(_on_own_connection, engine, index, queries.activity_records) if threads else None
        with engine.connect() as conn:
            queries.scope_leads(conn=conn, lead_ids=index)
            kinds = queries.attribute_kinds(conn=conn)
            leads = _leads(queries.lead_rows(conn=conn, attributes=bool(kinds)), index)
            messages = matrix(queries.message_rows(conn=conn), 6)
            entities = queries.message_entities(conn=conn)
            activities = queries.activity_records(conn=conn) if events_later is None else None
            committee = committee_rows(conn, cutoffs) if later is None else None
            judged = verdicts(conn=conn, lead_ids=index.tolist()) if any_verdict(conn=conn) else None
            conn.rollback()
        if events_later is not None:
            activities = events_later.result()
        assert activities is not None
        frame = _own_features(index, cutoffs, leads, activities, (messages, entities), kinds)
        if later is not None:
            committee = later.result()
    assert committee is not None
    committee_features(frame, leads, cutoffs, committee)
    if judged is not None:  # a team whose reps never judged a lead gets no column (and the same models as before)
        frame[FEEDBACK] = feedback_column(judged, cutoffs)
    return pd.DataFrame(dict(frame), index=index)


def _on_own_connection(engine: Engine, index: pd.Index, query: Callable[..., np.ndarray]) -> np.ndarray:
    with engine.connect() as conn:
        queries.scope_leads(conn=conn, lead_ids=index)
        found = query(conn=conn)
        conn.rollback()
    return found


def _own_features(index: pd.Index, cutoffs: pd.Series, leads: pd.DataFrame, activities: np.ndarray,
                  messages: tuple[np.ndarray, list[tuple]], kinds: dict[str, str]) -> Columns:
    cut = cutoffs.to_numpy(dtype=float)
    events = _events(activities, index, cut)
    frame = Columns(index)
    _firmographic(frame, leads)
    _attributes(frame, leads["attributes"], kinds, cut)
    _behaviour(frame, events)
    _temporal(frame, events, leads["created"].to_numpy(dtype=float), cut)
    conversation_features(frame, *messages, index, cut)
    return frame


_LEAD_NAMES = ["id", "account_id", "seniority", "source", "created", "attributes", "industry", "employees", "country"]


def _leads(rows: list[tuple], index: pd.Index) -> pd.DataFrame:
    """The lead rows as a frame in the order of `index` (the rows come ordered by id)."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(_LEAD_NAMES)
    frame = pd.DataFrame({name: np.asarray(values, dtype=object) for name, values in zip(_LEAD_NAMES, columns,
                                                                                        strict=True)})
    return frame.set_index("id").reindex(index)


# storage codes (see storage.models.ACTIVITY_CODE) -> the codes used here
_KIND_OF = np.array([VIEW if k == "page_view" else KINDS.index(k) + 1 if k in KINDS else len(KINDS) + 1
                     for k in (*ACTIVITY_KINDS, "other")])
_PAGE_OF = np.array([-1, *(PAGES.index(p) if p in PAGES else len(PAGES) for p in PAGE_TYPES), len(PAGES)]
                    + [len(PAGES)] * ((1 << PAGE_BITS) - len(PAGE_TYPES) - 2))


def _events(records: np.ndarray, index: pd.Index, cut: np.ndarray) -> Events:
    """The featurised leads' own events (queries.ACTIVITY_RECORD records) before each one's cutoff."""
    row = index.get_indexer(records["lead_id"].astype(np.int64))
    day = records["ms"].astype(np.float64) / 86400000.0
    keep = row >= 0
    row, day, code = row[keep], day[keep], records["code"][keep].astype(np.int64)
    age = cut[row] - day
    before = age > 0
    code = code[before]
    return Events(row[before], age[before], _KIND_OF[code >> PAGE_BITS], _PAGE_OF[code & ((1 << PAGE_BITS) - 1)],
                  day[before])


def _count(events: Events, mask: np.ndarray, window: float, size: int) -> np.ndarray:
    chosen = mask & (events.age <= window)
    return np.bincount(events.row[chosen], minlength=size).astype(float)


def _table(rows: np.ndarray, codes: np.ndarray, width: int, size: int) -> np.ndarray:
    """Counts per (row, code) as a size x width matrix."""
    return np.bincount(rows * width + codes, minlength=size * width).reshape(size, width).astype(float)


def _firmographic(frame: Columns, leads: pd.DataFrame) -> None:
    frame["firm.industry"] = leads["industry"].to_numpy()
    frame["firm.employees"] = pd.to_numeric(leads["employees"], errors="coerce").to_numpy()
    frame["firm.country"] = leads["country"].to_numpy()
    frame["firm.seniority"] = leads["seniority"].to_numpy()
    frame["firm.source"] = leads["source"].to_numpy()
    for name in CATEGORICAL:
        frame[name] = pd.Categorical(frame[name])


ATTRIBUTE_KINDS: dict[str, str] = {}  # CRM attribute -> its kind, as last read: reasons word dates and yes/no


def attribute_kind(name: str) -> str | None:
    """The kind (number, category, boolean, date) of a CRM attribute features were built with, if any."""
    return ATTRIBUTE_KINDS.get(name)


def _attributes(frame: Columns, raw: pd.Series, kinds: dict[str, str], cut: np.ndarray) -> None:
    ATTRIBUTE_KINDS.update(kinds)
    if not kinds:
        return
    parsed = [json.loads(text) if isinstance(text, str) else (text or {}) for text in raw.to_numpy()]  # JSONB: a dict
    table = pd.DataFrame.from_records(parsed, index=frame.index)
    for name, kind in kinds.items():
        column = table[name] if name in table else pd.Series(np.nan, index=frame.index)
        key = f"attr.{name}"
        if kind in ("number", "boolean"):
            frame[key] = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        elif kind == "date":  # an age in days at the cutoff (the decision, for decided leads): it does not drift
            days = pd.to_datetime(column, errors="coerce").map(lambda t: t.to_julian_date() if pd.notna(t) else np.nan)
            frame[key] = cut - days.to_numpy(dtype=float)
        elif kind == "category":
            frame[key] = pd.Categorical(column.to_numpy())
        # free text is left to the NLP signals


def _behaviour(frame: Columns, events: Events) -> None:
    size = frame.size
    views = events.kind == VIEW
    known_kind = (events.kind >= 1) & (events.kind <= len(KINDS))
    page_code = np.where(events.page < 0, len(PAGES), events.page)
    for window in WINDOWS:
        recent = events.age <= window
        chosen = views & recent
        pages = _table(events.row[chosen], page_code[chosen], len(PAGES) + 1, size)
        frame[f"beh.page_view_{window}d"] = pages.sum(axis=1)
        for position, page in enumerate((*PAGES, "other")):
            frame[f"beh.page_{page}_{window}d"] = pages[:, position]
        chosen = known_kind & recent
        counts = _table(events.row[chosen], events.kind[chosen] - 1, len(KINDS), size)
        for position, kind in enumerate(KINDS):
            frame[f"beh.{kind}_{window}d"] = counts[:, position]


def _last(rows: np.ndarray, ages: np.ndarray, size: int) -> np.ndarray:
    """Smallest age (most recent event) per row; NEVER where there is none."""
    result = np.full(size, NEVER)
    np.minimum.at(result, rows, np.minimum(ages, NEVER))
    return result


def _temporal(frame: Columns, events: Events, created: np.ndarray, cut: np.ndarray) -> None:
    size = frame.size
    engaged = ~events.of(*NOT_ENGAGEMENT)
    replies = events.of("email_reply")
    frame["time.days_since_activity"] = _last(events.row[engaged], events.age[engaged], size)
    frame["time.days_since_reply"] = _last(events.row[replies], events.age[replies], size)
    frame["time.count_7d"] = _count(events, engaged, 7, size)
    frame["time.count_28d"] = _count(events, engaged, 28, size)
    frame["time.velocity"] = frame["time.count_7d"] - frame["time.count_28d"] / 4.0
    frame["time.lead_age_days"] = cut - created
    first_reply = np.full(size, np.inf)
    np.minimum.at(first_reply, events.row[replies], events.day[replies])
    first_reply[np.isinf(first_reply)] = np.nan
    frame["time.days_to_first_reply"] = first_reply - created
    frame["time.reply_hours_median"] = _reply_speed(events, size)
    sent_21 = _count(events, events.of("email_sent"), 21, size)
    frame["neg.sent_21d"] = sent_21
    frame["neg.no_reply_21d"] = ((sent_21 >= 2) & (_count(events, replies, 21, size) == 0)).astype(float)


def _reply_speed(events: Events, size: int) -> np.ndarray:
    """Median hours from an outreach email to the next reply, per lead."""
    chosen = events.of("email_sent", "email_reply")
    table = pd.DataFrame({"row": events.row[chosen], "day": events.day[chosen],
                          "reply": events.of("email_reply")[chosen]}).sort_values(["row", "day"])
    if table.empty:
        return np.full(size, np.nan)
    table["sent_day"] = table["day"].where(~table["reply"]).groupby(table["row"]).ffill()
    answered = table[table["reply"] & table["sent_day"].notna()]
    hours = (answered["day"] - answered["sent_day"]) * 24.0
    median = hours.groupby(answered["row"]).median()
    result = np.full(size, np.nan)
    result[median.index.to_numpy(dtype=np.int64)] = median.to_numpy()
    return result
