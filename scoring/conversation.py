"""Conversation features: how much the lead talks, asks, how it sounds, and what it mentions, before its cutoff."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

# feature name -> the span kind stored in signal.entities (only spans that are not negated count)
SIGNAL_COUNTS = {"budget": "budget", "timeline": "timeline", "competitor": "competitors",
                 "objection": "objections", "next_step": "next_steps"}
NO_ENTITIES = ("{}", None)


def conversation_features(frame: Any, rows: list[tuple[Any, ...]], index: pd.Index, cut: np.ndarray) -> None:
    """Add conv.* columns to `frame` (a name -> column mapping of len(index) rows) from message rows
    (lead, inbound?, julian day, has a question?, sentiment, urgency, entities JSON); only messages strictly
    before each lead's cutoff count."""
    size = len(index)
    lead, inbound, day, question, sentiment, urgency, entities = _columns(rows)
    row = index.get_indexer(lead.astype(np.int64))
    age = cut[row] - day
    kept = (row >= 0) & (age > 0)
    row, age, inbound_ = row[kept], age[kept], inbound[kept].astype(bool)
    sentiment_, urgency_, question_, texts = sentiment[kept], urgency[kept], question[kept], entities[kept]
    month = age <= 30
    recent = inbound_ & month

    def count(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(row[mask], weights=None if weights is None else weights[mask], minlength=size).astype(
            float)

    inbound_30 = count(recent)
    outbound_30 = count(~inbound_ & month)
    lines = inbound_30 + outbound_30
    frame["conv.inbound_30d"] = inbound_30
    frame["conv.outbound_30d"] = outbound_30
    frame["conv.talk_ratio"] = np.where(lines > 0, inbound_30 / np.where(lines > 0, lines, 1), np.nan)
    frame["conv.questions_30d"] = count(recent, question_)
    scored = inbound_ & ~np.isnan(sentiment_)
    week = scored & (age <= 7)
    frame["conv.sentiment_mean"] = _mean(row, sentiment_, scored, size)
    frame["conv.sentiment_7d"] = _mean(row, sentiment_, week, size)
    frame["conv.sentiment_trend"] = frame["conv.sentiment_7d"] - frame["conv.sentiment_mean"]
    frame["conv.urgency_max_7d"] = _max(row, urgency_, week, size)
    frame["conv.urgency_max_30d"] = _max(row, urgency_, scored & month, size)
    counts = {name: np.zeros(size) for name in SIGNAL_COUNTS}
    for at in np.flatnonzero(scored):
        found = texts[at]
        if found in NO_ENTITIES:
            continue
        found = json.loads(found) if isinstance(found, str) else found
        for name, kind in SIGNAL_COUNTS.items():
            counts[name][row[at]] += sum(1 for span in found.get(kind, []) or [] if not span.get("negated"))
    for name in SIGNAL_COUNTS:
        frame[f"conv.{name}"] = counts[name]


def _columns(rows: list[tuple[Any, ...]]) -> list[np.ndarray]:
    """The seven columns of the message rows: numbers as floats (NULL as NaN), entities as objects."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * 7
    return [*(np.asarray(c, dtype=float) for c in columns[:6]), np.asarray(columns[6], dtype=object)]


def _mean(row: np.ndarray, values: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    """Mean of `values` per row where `mask`; NaN for rows without any."""
    total = pd.Series(values[mask]).groupby(row[mask]).mean()
    out = np.full(size, np.nan)
    out[total.index.to_numpy(dtype=np.int64)] = total.to_numpy(dtype=float)
    return out


def _max(row: np.ndarray, values: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    """Largest of `values` per row where `mask`; 0 for rows without any."""
    out = np.full(size, -np.inf)
    np.maximum.at(out, row[mask], values[mask])
    out[np.isinf(out)] = 0.0
    return out
