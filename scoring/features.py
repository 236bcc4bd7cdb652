"""Point-in-time features: each lead as it looked just before its cutoff (its decision, or now).

Only events strictly before a lead's cutoff count, so a model trained on past decisions never sees what
happened after them. Names follow `family.name` (firm, attr, beh, time, neg, conv, acct); reasons group on them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from scoring.accounts import account_features
from storage import queries

WINDOWS = (7, 30, 90)
KINDS = ("email_sent", "email_open", "email_click", "email_reply", "email_bounce", "unsubscribe", "form_submit",
         "demo_request", "webinar", "trial_event", "meeting", "call")
PAGES = ("pricing", "demo", "docs", "case_study", "blog", "home", "careers")
NOT_ENGAGEMENT = ("email_sent", "email_bounce", "unsubscribe")
NEVER = 90.0  # days reported when something never happened
CATEGORICAL = ("firm.industry", "firm.country", "firm.seniority", "firm.source")
SIGNAL_COUNTS = ("budget", "timeline", "competitor", "objection", "next_step")
SMALL_SET = 2000  # below this many leads, load only their rows


class Columns(dict[str, Any]):
    """Feature columns under construction (name -> array of `size` values), made a DataFrame once at the end."""

    def __init__(self, index: pd.Index) -> None:
        super().__init__()
        self.index = index
        self.size = len(index)


@dataclass
class Events:
    """Events of the leads being featurised: row index of the lead, age in days at its cutoff, and codes."""

    row: np.ndarray
    age: np.ndarray
    kind: np.ndarray
    page: np.ndarray
    day: np.ndarray


def build_features(engine: Engine, cutoffs: pd.Series) -> pd.DataFrame:
    """Features for the leads in `cutoffs` (lead id -> julian day of the cutoff), one row per lead."""
    lead_ids = [int(i) for i in cutoffs.index]
    subset = lead_ids if len(lead_ids) <= SMALL_SET else None
    with engine.connect() as conn:
        leads = pd.DataFrame(queries.lead_rows(conn=conn, lead_ids=subset), columns=_LEAD_NAMES)
        activities = queries.activity_rows(conn=conn, lead_ids=subset)
        messages = queries.message_rows(conn=conn, lead_ids=subset)
        kinds = queries.attribute_kinds(conn=conn)
        accounts = [int(a) for a in leads["account_id"].dropna().unique()]
        colleagues = (
            queries.engagement_rows(conn=conn, account_ids=accounts, skip=NOT_ENGAGEMENT)
            if subset is not None else None
        )
    leads = leads.set_index("id")
    cut = cutoffs.to_numpy(dtype=float)
    index = pd.Index(lead_ids)
    events = _events(activities, index, cut)
    frame = Columns(index)
    _firmographic(frame, leads.reindex(index))
    _attributes(frame, leads.reindex(index)["attributes"], kinds, cut)
    _behaviour(frame, events)
    _temporal(frame, events, leads.reindex(index)["created"].to_numpy(dtype=float), cut)
    _conversation(frame, messages, index, cut)
    targets = {
        "account": leads.reindex(index)["account_id"].fillna(-1).to_numpy(dtype=np.int64),
        "cutoff": cut,
        "own": (np.asarray(frame["time.days_since_activity"]) <= 30.0).astype(float),
    }
    account_features(frame, targets, _pool(colleagues, activities, leads))
    return pd.DataFrame(dict(frame), index=index)


def _pool(colleagues: list[tuple] | None, activities: list[tuple], leads: pd.DataFrame) -> dict[str, np.ndarray]:
    """Every engagement event at the relevant accounts: (account, lead, seniority code, day)."""
    codes = {name: code for code, name in enumerate(("c_level", "vp", "director", "manager", "individual"))}
    if colleagues is None:  # every lead is loaded: derive from the activity rows already in memory
        if not activities:
            return {k: np.array([]) for k in ("account", "lead", "seniority", "day")}
        lead, kind, _page, day = (np.asarray(c) for c in zip(*activities, strict=True))
        engaged = ~np.isin(kind, NOT_ENGAGEMENT)
        lead, day = lead[engaged].astype(np.int64), day[engaged].astype(float)
        account = leads["account_id"].reindex(lead).to_numpy()
        seniority = leads["seniority"].reindex(lead).to_numpy()
    else:
        if not colleagues:
            return {k: np.array([]) for k in ("account", "lead", "seniority", "day")}
        account, lead, seniority, day = (np.asarray(c) for c in zip(*colleagues, strict=True))
        day = day.astype(float)
    known = pd.notna(account)
    level = np.array([codes.get(s, 9) for s in seniority], dtype=np.int64) if len(seniority) else np.array([])
    return {"account": account[known].astype(np.int64), "lead": lead[known].astype(np.int64),
            "seniority": level[known], "day": day[known]}


_LEAD_NAMES = ["id", "external_id", "name", "account_id", "seniority", "source", "created", "status",
               "attributes", "account", "industry", "employees", "country", "converted", "closed"]


def _events(rows: list[tuple], index: pd.Index, cut: np.ndarray) -> Events:
    if rows:
        lead, kind, page, day = (np.asarray(column) for column in zip(*rows, strict=True))
    else:
        lead, kind, page, day = (np.array([]) for _ in range(4))
    row = index.get_indexer(lead.astype(np.int64)) if len(lead) else np.array([], dtype=np.int64)
    keep = row >= 0
    row, kind, page, day = row[keep], kind[keep], page[keep], day[keep].astype(float)
    age = cut[row] - day
    before = age > 0
    return Events(row[before], age[before], kind[before], page[before], day[before])


def _count(events: Events, mask: np.ndarray, window: float, size: int) -> np.ndarray:
    chosen = mask & (events.age <= window)
    return np.bincount(events.row[chosen], minlength=size).astype(float)


def _firmographic(frame: Columns, leads: pd.DataFrame) -> None:
    frame["firm.industry"] = leads["industry"].to_numpy()
    frame["firm.employees"] = pd.to_numeric(leads["employees"], errors="coerce").to_numpy()
    frame["firm.country"] = leads["country"].to_numpy()
    frame["firm.seniority"] = leads["seniority"].to_numpy()
    frame["firm.source"] = leads["source"].to_numpy()
    for name in CATEGORICAL:
        frame[name] = pd.Categorical(frame[name])


def _attributes(frame: Columns, raw: pd.Series, kinds: dict[str, str], cut: np.ndarray) -> None:
    if not kinds:
        return
    parsed = [json.loads(text) if isinstance(text, str) else {} for text in raw.to_numpy()]
    table = pd.DataFrame.from_records(parsed, index=frame.index)
    for name, kind in kinds.items():
        column = table[name] if name in table else pd.Series(np.nan, index=frame.index)
        key = f"attr.{name}"
        if kind in ("number", "boolean"):
            frame[key] = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        elif kind == "date":
            days = pd.to_datetime(column, errors="coerce").map(lambda t: t.to_julian_date() if pd.notna(t) else np.nan)
            frame[key] = cut - days.to_numpy(dtype=float)
        elif kind == "category":
            frame[key] = pd.Categorical(column.to_numpy())
        # free text is left to the NLP signals


def _behaviour(frame: Columns, events: Events) -> None:
    size = frame.size
    is_view = events.kind == "page_view"
    for window in WINDOWS:
        frame[f"beh.page_view_{window}d"] = _count(events, is_view, window, size)
        for page in PAGES:
            frame[f"beh.page_{page}_{window}d"] = _count(events, is_view & (events.page == page), window, size)
        other = is_view & ~np.isin(events.page, PAGES)
        frame[f"beh.page_other_{window}d"] = _count(events, other, window, size)
        for kind in KINDS:
            frame[f"beh.{kind}_{window}d"] = _count(events, events.kind == kind, window, size)


def _last(rows: np.ndarray, ages: np.ndarray, size: int) -> np.ndarray:
    """Smallest age (most recent event) per row; NEVER where there is none."""
    result = np.full(size, NEVER)
    np.minimum.at(result, rows, np.minimum(ages, NEVER))
    return result


def _temporal(frame: Columns, events: Events, created: np.ndarray, cut: np.ndarray) -> None:
    size = frame.size
    engaged = ~np.isin(events.kind, NOT_ENGAGEMENT)
    replies = events.kind == "email_reply"
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
    sent_21 = _count(events, events.kind == "email_sent", 21, size)
    frame["neg.sent_21d"] = sent_21
    frame["neg.no_reply_21d"] = ((sent_21 >= 2) & (_count(events, replies, 21, size) == 0)).astype(float)


def _reply_speed(events: Events, size: int) -> np.ndarray:
    """Median hours from an outreach email to the next reply, per lead."""
    chosen = np.isin(events.kind, ("email_sent", "email_reply"))
    table = pd.DataFrame({"row": events.row[chosen], "day": events.day[chosen],
                          "reply": events.kind[chosen] == "email_reply"}).sort_values(["row", "day"])
    if table.empty:
        return np.full(size, np.nan)
    table["sent_day"] = table["day"].where(~table["reply"]).groupby(table["row"]).ffill()
    answered = table[table["reply"] & table["sent_day"].notna()]
    hours = (answered["day"] - answered["sent_day"]) * 24.0
    median = hours.groupby(answered["row"]).median()
    result = np.full(size, np.nan)
    result[median.index.to_numpy(dtype=np.int64)] = median.to_numpy()
    return result


def _conversation(frame: Columns, rows: list[tuple], index: pd.Index, cut: np.ndarray) -> None:
    size = frame.size
    names = ["lead", "inbound", "day", "question", "sentiment", "urgency", "entities"]
    table = pd.DataFrame(rows, columns=names)
    table["row"] = index.get_indexer(table["lead"].astype(np.int64)) if len(table) else []
    table = table[table["row"] >= 0]
    table["age"] = cut[table["row"].to_numpy(dtype=np.int64)] - table["day"].astype(float)
    table = table[table["age"] > 0]
    prospect = table[table["inbound"].astype(bool)]
    recent = prospect[prospect["age"] <= 30]

    def per_row(series: pd.Series, fill: float = 0.0) -> np.ndarray:
        out = np.full(size, fill)
        out[series.index.to_numpy(dtype=np.int64)] = series.to_numpy(dtype=float)
        return out

    frame["conv.inbound_30d"] = per_row(recent.groupby("row").size())
    outbound = table[~table["inbound"].astype(bool) & (table["age"] <= 30)]
    frame["conv.outbound_30d"] = per_row(outbound.groupby("row").size())
    lines = frame["conv.inbound_30d"] + frame["conv.outbound_30d"]
    frame["conv.talk_ratio"] = np.where(lines > 0, frame["conv.inbound_30d"] / np.where(lines > 0, lines, 1), np.nan)
    frame["conv.questions_30d"] = per_row(recent.groupby("row")["question"].sum())
    scored = prospect[prospect["sentiment"].notna()]
    week = scored[scored["age"] <= 7]
    frame["conv.sentiment_mean"] = per_row(scored.groupby("row")["sentiment"].mean(), np.nan)
    frame["conv.sentiment_7d"] = per_row(week.groupby("row")["sentiment"].mean(), np.nan)
    frame["conv.sentiment_trend"] = frame["conv.sentiment_7d"] - frame["conv.sentiment_mean"]
    frame["conv.urgency_max_7d"] = per_row(week.groupby("row")["urgency"].max())
    counts = {name: np.zeros(size) for name in SIGNAL_COUNTS}
    for row, entities in zip(scored["row"].to_numpy(), scored["entities"].to_numpy(), strict=True):
        found = json.loads(entities) if isinstance(entities, str) else (entities or {})
        for name in SIGNAL_COUNTS:
            counts[name][row] += len(found.get(name, []) or [])
    for name in SIGNAL_COUNTS:
        frame[f"conv.{name}"] = counts[name]
