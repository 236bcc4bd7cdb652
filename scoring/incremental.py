"""Rescore a few leads at once (as events arrive), against the population of every active lead's latest score."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from scoring.leads import population
from scoring.rescore import EPSILON, score_leads, top_reasons
from scoring.stops import GROUP
from storage.db import json_dumps
from storage.history import insert_scores, latest_scores, stamp
from storage.queries import open_lead_ids


@dataclass(frozen=True)
class Moved:
    """A lead whose score moved: before (None when first scored) and now, with the reasons now."""

    lead_id: int
    before: tuple[float, float, str] | None  # probability, percentile, band
    probability: float
    percentile: float
    band: str
    reasons: list[dict[str, Any]]


def rescore_leads(engine: Engine, lead_ids: list[int], now: datetime | None = None) -> list[Moved]:
    """Score these open leads now and append a history row for each one that moved (as `hotlead score`)."""
    moment = now or datetime.now(UTC)
    with engine.connect() as conn:
        open_ids = open_lead_ids(conn=conn, among=lead_ids)
        if not open_ids:
            return []
        latest = {lead: (row.probability, row.percentile, row.band, row.reasons)
                  for lead, row in latest_scores(conn=conn, lead_ids=open_ids).items()}
    julian = pd.Timestamp(moment).to_julian_date()
    scored = score_leads(engine, pd.Series(julian, index=open_ids, dtype=float), population(engine))
    rows = np.array([i for i, lead in enumerate(open_ids)
                     if lead not in latest or abs(latest[lead][0] - scored.probability[i]) > EPSILON
                     or latest[lead][2] != scored.band[i] or _stop(latest[lead][3]) != scored.stopped[i]], dtype=int)
    if not len(rows):
        return []
    reasons = top_reasons(scored, rows)
    scored_at = stamp(moment)
    moved = []
    records = []
    for position, row in enumerate(rows):
        lead = open_ids[row]
        before = latest.get(lead)
        item = Moved(lead, before[:3] if before else None, float(scored.probability[row]),
                     float(scored.percentile[row]), str(scored.band[row]), reasons[position])
        moved.append(item)
        records.append((lead, scored.version_id, scored_at, item.probability, item.percentile, item.band,
                        json_dumps(item.reasons)))
    with engine.begin() as conn:
        insert_scores(conn=conn, records=records)
    return moved


def _stop(reasons: list[dict[str, Any]]) -> str | None:
    return str(reasons[0]["text"]) if reasons and reasons[0].get("group") == GROUP else None

