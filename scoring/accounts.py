"""Account (buying-committee) features, point in time: who else at the account engaged, and how much.

Each lead's engagement at time t keeps it "engaged" for the 30 days after; merged per lead (or per account
and seniority) into disjoint intervals, the number covering a cutoff is a count of distinct contacts, found
with two binary searches instead of comparing every pair of colleagues.
"""

from __future__ import annotations

from typing import Any

import numpy as np

ENGAGED_FOR = 30.0
_SPAN = 100_000.0  # day numbers within one group stay below this offset


def _keys(group: np.ndarray, day: np.ndarray, base: float) -> np.ndarray:
    return group.astype(float) * _SPAN + (day - base)


def _count_covering(starts: np.ndarray, ends: np.ndarray, account: np.ndarray, q_day: np.ndarray,
                    base: float) -> np.ndarray:
    starts, ends = np.sort(starts), np.sort(ends)
    low = _keys(account, np.full(len(q_day), base), base)
    at = _keys(account, q_day, base)
    begun = np.searchsorted(starts, at, side="left") - np.searchsorted(starts, low, side="left")
    ended = np.searchsorted(ends, at, side="left") - np.searchsorted(ends, low, side="left")
    return (begun - ended).astype(float)


def account_features(frame: Any, targets: dict[str, np.ndarray], pool: dict[str, Any]) -> None:
    """Add acct.* columns. `targets`: account, cutoff per featurised lead (row order of `frame`), plus
    `own` (1 when the lead itself engaged in the 30 days). `pool`: account, lead, seniority code and day of
    every engagement event at those accounts."""
    account, cutoff = targets["account"], targets["cutoff"]
    has_account = account >= 0
    size = frame.size
    engaged = np.zeros(size)
    seniorities = np.zeros(size)
    week = np.zeros(size)
    month = np.zeros(size)
    p_account, p_lead, p_seniority, p_day = pool["account"], pool["lead"], pool["seniority"], pool["day"]
    if len(p_day) and has_account.any():
        base = float(min(p_day.min(), cutoff.min())) - ENGAGED_FOR - 1
        acct = account[has_account]
        cut = cutoff[has_account]
        # distinct contacts: intervals merged per lead, grouped by account
        per_lead = p_account.astype(np.int64) * 10_000_000 + p_lead.astype(np.int64)
        engaged[has_account] = _distinct(per_lead, p_day, p_account, acct, cut, base)
        per_level = p_account.astype(np.int64) * 100 + p_seniority.astype(np.int64)
        seniorities[has_account] = _distinct(per_level, p_day, p_account, acct, cut, base)
        keys = np.sort(_keys(p_account, p_day, base))
        for window, out in ((7.0, week), (28.0, month)):
            high = np.searchsorted(keys, _keys(acct, cut, base), side="left")
            low = np.searchsorted(keys, _keys(acct, cut - window, base), side="left")
            out[has_account] = high - low
    frame["acct.engaged_contacts_30d"] = np.maximum(engaged - targets["own"], 0.0)
    frame["acct.seniorities_engaged_30d"] = seniorities
    frame["acct.activity_7d"] = week
    frame["acct.activity_28d"] = month


def _distinct(group: np.ndarray, day: np.ndarray, account: np.ndarray, q_account: np.ndarray, q_day: np.ndarray,
              base: float) -> np.ndarray:
    order = np.lexsort((day, group))
    group, day, owner = group[order], day[order], account[order]
    new = np.ones(len(day), dtype=bool)
    new[1:] = (group[1:] != group[:-1]) | (day[1:] - day[:-1] > ENGAGED_FOR)
    first = np.flatnonzero(new)
    last = np.append(first[1:] - 1, len(day) - 1)
    starts = _keys(owner[first], day[first], base)
    ends = _keys(owner[first], day[last] + ENGAGED_FOR, base)
    return _count_covering(starts, ends, q_account, q_day, base)


def account_summary(frame: Any, targets: dict[str, np.ndarray], summary: dict[int, tuple[float, ...]]) -> None:
    """The same acct.* columns from per-account sums (contacts, seniority levels, 7-day and 28-day events)
    computed by the database for one shared cutoff."""
    empty = (0.0, 0.0, 0.0, 0.0)
    values = np.array([summary.get(int(a), empty) for a in targets["account"]], dtype=float).reshape(-1, 4)
    frame["acct.engaged_contacts_30d"] = np.maximum(values[:, 0] - targets["own"], 0.0)
    frame["acct.seniorities_engaged_30d"] = values[:, 1]
    frame["acct.activity_7d"] = values[:, 2]
    frame["acct.activity_28d"] = values[:, 3]
