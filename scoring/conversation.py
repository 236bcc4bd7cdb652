"""Conversation features: how much the lead talks, asks, how it sounds, and what it mentions, before its cutoff."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from storage.queries import NO_SIGNAL

# feature name -> the span kind stored in signal.entities (only spans that are not negated count)
SIGNAL_COUNTS = {"budget": "budget", "timeline": "timeline", "competitor": "competitors",
                 "objection": "objections", "next_step": "next_steps"}


def conversation_features(frame: Any, messages: np.ndarray, entities: list[tuple[Any, ...]], index: pd.Index,
                          cut: np.ndarray) -> None:
    """Add conv.* columns to `frame` (a name -> column mapping of len(index) rows). `messages`: one row per
    message (lead, inbound?, julian day, has a question?, sentiment, urgency; NO_SIGNAL when not analysed);
    `entities`: (lead, julian day, entities JSON) of the analysed inbound messages with spans. Only messages
    strictly before each lead's cutoff count."""
    size = len(index)
    row, age, kept = _placed(messages[:, 0], messages[:, 2], index, cut)
    inbound, question, sentiment, urgency = (messages[kept, i] for i in (1, 3, 4, 5))
    inbound = inbound.astype(bool)
    month = age <= 30
    recent = inbound & month

    def count(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        chosen = None if weights is None else weights[mask]
        return np.bincount(row[mask], weights=chosen, minlength=size).astype(float)

    inbound_30 = count(recent)
    outbound_30 = count(~inbound & month)
    lines = inbound_30 + outbound_30
    frame["conv.inbound_30d"] = inbound_30
    frame["conv.outbound_30d"] = outbound_30
    frame["conv.talk_ratio"] = np.where(lines > 0, inbound_30 / np.where(lines > 0, lines, 1), np.nan)
    frame["conv.questions_30d"] = count(recent, question)
    scored = inbound & (sentiment != NO_SIGNAL)
    week = scored & (age <= 7)
    frame["conv.sentiment_mean"] = _mean(row, sentiment, scored, size)
    frame["conv.sentiment_7d"] = _mean(row, sentiment, week, size)
    frame["conv.sentiment_trend"] = frame["conv.sentiment_7d"] - frame["conv.sentiment_mean"]
    frame["conv.urgency_max_7d"] = _max(row, urgency, week, size)
    frame["conv.urgency_max_30d"] = _max(row, urgency, scored & month, size)
    counts = {name: np.zeros(size) for name in SIGNAL_COUNTS}
    if entities:
        lead, day, texts = zip(*entities, strict=True)
        row, _, kept = _placed(np.asarray(lead, dtype=float), np.asarray(day, dtype=float), index, cut)
        for at, text in zip(row.tolist(), np.asarray(texts, dtype=object)[kept].tolist(), strict=True):
            found = json.loads(text) if isinstance(text, str) else (text or {})
            for name, kind in SIGNAL_COUNTS.items():
                counts[name][at] += sum(1 for span in found.get(kind, []) or [] if not span.get("negated"))
    for name in SIGNAL_COUNTS:
        frame[f"conv.{name}"] = counts[name]


def _placed(lead: np.ndarray, day: np.ndarray, index: pd.Index, cut: np.ndarray) -> tuple[np.ndarray, ...]:
    """Row of each message's lead, its age at that lead's cutoff, and which messages count (before it)."""
    row = index.get_indexer(lead.astype(np.int64))
    age = cut[row] - day
    kept = (row >= 0) & (age > 0)
    return row[kept], age[kept], kept


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
