"""What reps say about leads, and what it does: "Hotter than this", "Talked: no budget", "Not a fit" and "a fit
after all", from buttons or free text (bot/commands/verdict.py), stored with who, when, why and until when
(storage.history.VERDICTS). Each lead's latest verdict stands:

- it pins the band until its date: hotter → hot, no budget → cold (PINS); "not a fit" is a stop (scoring/stops.py);
- at the next retraining it is a feature, `rep.feedback` (+1 hotter, −1 no budget or not a fit, 0 a fit after
  all; missing without a verdict), read as of each decision like every other feature, and the leads reps judged
  weigh FEEDBACK_WEIGHT times as much in the trees' training: a rep who talked to the lead saw it closely.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from storage.history import Verdict, verdicts

COLUMN = "rep.feedback"
SIGNS = {"hotter": 1.0, "fit": 0.0, "no_budget": -1.0, "not_fit": -1.0}
PINS = {"hotter": "hot", "no_budget": "cold"}  # the band a standing verdict pins until its `until`
PIN_DAYS = {"hotter": 14, "no_budget": 30}  # a pin's length when the rep names no date
FEEDBACK_WEIGHT = 2.0
WORDS = {"hotter": "hotter than its score", "no_budget": "talked: no budget", "not_fit": "not a fit",
         "fit": "a fit after all"}


def _julian(moment: datetime) -> float:
    return float(pd.Timestamp(moment.replace(tzinfo=None)).to_julian_date())


def standing(verdicts: Sequence[Verdict], cutoffs: pd.Series) -> dict[int, Verdict]:
    """Each lead of `cutoffs` (lead id → julian day) that reps judged: its latest verdict made by its cutoff."""
    found: dict[int, Verdict] = {}
    limits = cutoffs.to_dict()
    for verdict in verdicts:  # oldest first: the latest by each lead's cutoff stands
        if verdict.lead_id in limits and _julian(verdict.created_at) <= limits[verdict.lead_id]:
            found[verdict.lead_id] = verdict
    return found


def feedback_column(verdicts: Sequence[Verdict], cutoffs: pd.Series) -> np.ndarray:
    """Per lead of `cutoffs`, the sign of its standing verdict (SIGNS), NaN without one."""
    judged = standing(verdicts, cutoffs)
    return np.array([SIGNS[judged[lead].action] if lead in judged else np.nan for lead in cutoffs.index],
                    dtype=float)


def pins(verdicts: Sequence[Verdict], cutoffs: pd.Series) -> np.ndarray:
    """Per lead of `cutoffs`, the band its standing verdict pins at the cutoff (until its `until`), else None."""
    judged = standing(verdicts, cutoffs)
    out = np.full(len(cutoffs), None, dtype=object)
    for row, (lead, cutoff) in enumerate(cutoffs.items()):
        verdict = judged.get(lead)
        if verdict is not None and verdict.action in PINS and (
                verdict.until is None or _julian(verdict.until) > cutoff):
            out[row] = PINS[verdict.action]
    return out


def sentence(verdict: Verdict, now: datetime | None = None) -> str:
    """“Jordan Lee marked it hotter than its score on 3 Dec: spoke today (band pinned hot until 17 Dec)”."""
    said = (f"{verdict.rep or 'A rep'} marked it {WORDS.get(verdict.action, verdict.action)} on "
            f"{verdict.created_at:%-d %b}" + (f": {verdict.note}" if verdict.note else ""))
    if verdict.action in PINS and verdict.until is not None:
        ended = now is not None and verdict.until <= now
        said += f" (band {'was ' if ended else ''}pinned {PINS[verdict.action]} until {verdict.until:%-d %b})"
    return said


def lead_feedback(engine: Engine, lead_id: int, now: datetime, shown: int = 3) -> list[dict[str, Any]]:
    """A lead's latest verdicts, newest first (`shown` of them), each with its sentence."""
    with engine.connect() as conn:
        said = verdicts(conn=conn, lead_id=lead_id)
    return [{"action": v.action, "rep": v.rep, "at": v.created_at.isoformat(), "note": v.note,
             "until": v.until.isoformat() if v.until else None, "text": sentence(v, now)}
            for v in reversed(said[-shown:])]
