"""Signals that must win over the model: a lead who unsubscribed, whose email bounces, whom the CRM marks
"do not contact", or whom a rep who talked to them judged not a fit, is not to be called, whatever its
probability. Each rule is stated here, in one place. (A lost deal is an outcome: the lead is decided and leaves the
open pipeline altogether.)

A stopped lead keeps the model's probability (it is still the model's honest estimate) but its band is capped at
CAP, so it is never on a call list or alerted as hot, and its stop is the first thing `why`, `top` and chat say.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scoring.feedback import sentence, standing
from storage.history import Verdict

CAP = "cold"
GROUP = "stop"  # the reason group a stop is stored under, first among a score's reasons
# CRM flags that mean "do not contact": Salesforce's DoNotCall / HasOptedOutOfEmail, HubSpot's opted-out status
_DO_NOT = re.compile(r"do[\s_-]*not[\s_-]*(?:contact|call|email)|opt(?:ed)?[\s_-]*out|unsubscribed", re.IGNORECASE)
_YES = {"yes", "true", "1", "y", "ja", "oui", "sí", "si"}


@dataclass(frozen=True)
class Stop:
    """A rule: `applies(features)` gives, per row, whether it holds; `sentence` is what the rep is told."""

    name: str
    sentence: str
    applies: Callable[[pd.DataFrame], np.ndarray]


def _count(features: pd.DataFrame, name: str) -> np.ndarray:
    if name not in features:
        return np.zeros(len(features))
    return pd.to_numeric(features[name], errors="coerce").fillna(0.0).to_numpy(dtype=float)


def _flagged(features: pd.DataFrame) -> np.ndarray:
    """Rows a CRM "do not contact" attribute (by its name) marks yes."""
    out = np.zeros(len(features), dtype=bool)
    for name in features.columns:
        if str(name).startswith("attr.") and _DO_NOT.search(str(name)):
            column = features[name]
            text = column.astype(object).where(column.notna(), "").astype(str).str.strip().str.lower()
            out |= text.isin(_YES | {"1.0"}).to_numpy()
    return out


STOPS: tuple[Stop, ...] = (
    Stop("unsubscribed", "Unsubscribed in the last 90 days: do not contact until they opt in again",
         lambda f: _count(f, "beh.unsubscribe_90d") > 0),
    Stop("do not contact", "Marked “do not contact” in the CRM", _flagged),
    Stop("bounced", "An email to them bounced in the last 30 days, with no reply in that time: check the address "
                    "before reaching out",
         lambda f: (_count(f, "beh.email_bounce_30d") > 0) & (_count(f, "beh.email_reply_30d") == 0)),
)


def stop_reason(sentence: str) -> dict[str, object]:
    """A stop as a stored reason: first among a score's reasons, group GROUP, no contribution of the model's."""
    return {"contribution": 0.0, "group": GROUP, "text": sentence}


JUDGED_AFTER = "do not contact"  # a rep's "not a fit" comes after the rules up to this one, before the others


def stops(features: pd.DataFrame, judged: np.ndarray | None = None) -> np.ndarray:
    """Per row, the sentence of the first stop that holds, or None; `judged` holds, per row, the sentence of a
    rep's standing "not a fit" (see `judgements`) or None."""
    out = np.full(len(features), None, dtype=object)
    for stop in reversed(STOPS):  # the first rule listed wins where several hold
        if judged is not None and stop.name == JUDGED_AFTER:
            out = np.where(pd.isna(judged), out, judged)
        out[stop.applies(features)] = stop.sentence
    return out


def judgements(verdicts: Sequence[Verdict], leads: pd.Series) -> np.ndarray:
    """Per lead of `leads` (lead id → cutoff, a julian day), the sentence of the rep's verdict standing at its
    cutoff when it is "not a fit" ("Jordan Lee marked it not a fit on 3 Dec: student project"), else None."""
    judged = standing(verdicts, leads)
    out = np.full(len(leads), None, dtype=object)
    for row, lead in enumerate(leads.index):
        verdict = judged.get(lead)
        if verdict is not None and verdict.action == "not_fit":
            out[row] = sentence(verdict)
    return out
