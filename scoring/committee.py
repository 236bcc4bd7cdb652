"""The buying committee of the featurised leads: what everyone at their accounts did, read from the store."""

from __future__ import annotations

from itertools import chain
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from scoring.accounts import ENGAGED_FOR, account_features, account_summary
from storage import queries

NOT_ENGAGEMENT = ("email_sent", "email_bounce", "unsubscribe")
SENIORITIES = ("c_level", "vp", "director", "manager", "individual")

Committee = np.ndarray | dict[int, tuple[float, ...]]


def committee_features(frame: Any, leads: pd.DataFrame, cutoffs: pd.Series, committee: Committee) -> None:
    """Add the acct.* columns from what `committee_rows` read."""
    targets = {
        "account": leads["account_id"].fillna(-1).to_numpy(dtype=np.int64),
        "cutoff": cutoffs.to_numpy(dtype=float),
        "own": (np.asarray(frame["time.days_since_activity"]) <= 30.0).astype(float),
    }
    if isinstance(committee, np.ndarray):
        pool = {"account": committee[:, 0].astype(np.int64), "lead": committee[:, 1].astype(np.int64),
                "seniority": committee[:, 2].astype(np.int64), "day": committee[:, 3]}
        account_features(frame, targets, pool)
    else:
        account_summary(frame, targets, committee)


def threads_allowed(engine: Engine) -> bool:
    """A second connection sees the same data (not so for an in-memory SQLite database)."""
    return not (engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"))


def committee_on_own_connection(engine: Engine, index: pd.Index, cutoffs: pd.Series) -> Committee:
    """`committee_rows` for the leads of `index`, read on a connection of its own (for another thread)."""
    with engine.connect() as conn:
        queries.scope_leads(conn=conn, lead_ids=index)
        rows = committee_rows(conn, cutoffs)
        conn.rollback()
    return rows


def committee_rows(conn: Any, cutoffs: pd.Series) -> Committee:
    """What the account features need: when every lead shares one cutoff (scoring now, `why`), SQLite sums
    each account up; otherwise (training) every colleague engagement in reach of some cutoff is fetched."""
    if len(cutoffs) and cutoffs.nunique() == 1:
        at = float(cutoffs.iloc[0])
        rows = queries.account_summary_rows(
            conn=conn, skip=NOT_ENGAGEMENT, seniorities=SENIORITIES, until=at, month=at - ENGAGED_FOR,
            week=at - 7, four_weeks=at - 28,
        )
        return {int(account): tuple(float(v or 0) for v in values) for account, *values in rows}
    since = float(cutoffs.min()) - ENGAGED_FOR - 1 if len(cutoffs) else 0.0
    return matrix(queries.engagement_rows(conn=conn, skip=NOT_ENGAGEMENT, seniorities=SENIORITIES, since=since), 4)


def matrix(rows: list[tuple[Any, ...]], width: int) -> np.ndarray:
    """Rows of numbers as a float matrix (NULL as NaN)."""
    try:
        return np.fromiter(chain.from_iterable(rows), dtype=float, count=len(rows) * width).reshape(-1, width)
    except TypeError:  # a NULL among the numbers
        return np.array(rows, dtype=float).reshape(-1, width)
