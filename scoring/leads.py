"""Answers about leads: why one scores what it does, how two compare, and who is on top."""

from __future__ import annotations

import dataclasses
import difflib
import math
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from scoring.errors import NoModelError
from scoring.evidence import evidence
from scoring.explain import all_reasons, compare_reasons, missing_value, reasons
from scoring.features import build_features
from scoring.feedback import lead_feedback
from scoring.model import LeadScorer
from scoring.rescore import Scored, active_cutoffs, active_scorer, score_leads
from storage import queries
from storage.db import json_loads
from storage.errors import NotFoundError

COMMITTEE = 5  # an account's intent looks at its five best leads


def _lookup(engine: Engine, key: str) -> tuple[int, str, str, str | None, float]:
    """(id, external id, name, account, cutoff day) of a lead named by external id (or exact name)."""
    with engine.connect() as conn:
        rows = queries.lead_by_key(conn=conn, key=key)
        if not rows:
            close = difflib.get_close_matches(key, queries.lead_keys(conn=conn), n=3, cutoff=0.6)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise NotFoundError(f"no lead {key!r}{hint}")
    lead_id, external_id, name, account, closed = rows[0]
    cutoff = closed if closed is not None else pd.Timestamp.now(tz="UTC").to_julian_date()
    return lead_id, external_id, name, account, float(cutoff)


def population(engine: Engine) -> np.ndarray | None:
    """Latest probabilities of the open leads (what a percentile is among), cached until a score is written or an
    outcome recorded, by this process or another."""
    with engine.connect() as conn:
        version = queries.population_version(conn=conn)
    return _population_at(engine, version)


@lru_cache(maxsize=4)
def _population_at(engine: Engine, _version: tuple[Any, ...]) -> np.ndarray | None:
    with engine.connect() as conn:
        values = queries.open_latest_probabilities(conn=conn)
    return np.asarray(values) if values else None


def _scored(engine: Engine, keys: list[str]) -> list[tuple[dict[str, Any], Scored]]:
    """Each lead's head facts and its scoring (all leads featurised in one pass)."""
    found = [_lookup(engine, key) for key in keys]
    cutoffs = pd.Series([f[4] for f in found], index=[f[0] for f in found])
    scored = score_leads(engine, cutoffs, population(engine))
    result = []
    for i, (lead_id, external_id, name, account, cutoff) in enumerate(found):
        one = _row(scored, i, len(found))
        head = {"lead": external_id, "lead_id": lead_id, "cutoff": cutoff, "name": name, "account": account,
                "probability": float(one.probability[0]), "percentile": float(one.percentile[0]),
                "band": str(one.band[0])}
        result.append((head, one))
    return result


def _row(scored: Scored, i: int, n: int) -> Scored:
    """Row `i` of a scoring of `n` leads, as a scoring of its own."""
    sliced: dict[str, Any] = {f.name: (value.iloc[[i]] if isinstance(value, pd.DataFrame) else value[[i]])
              for f in dataclasses.fields(scored)
              if isinstance(value := getattr(scored, f.name), (pd.DataFrame, np.ndarray)) and len(value) == n}
    return dataclasses.replace(scored, **sliced)


def _one(engine: Engine, key: str) -> tuple[dict[str, Any], Scored]:
    return _scored(engine, [key])[0]


def _values(scored: Scored) -> dict[str, Any]:
    row = scored.features.iloc[0]
    return {name: (None if missing_value(v) else (v.item() if hasattr(v, "item") else v)) for name, v in row.items()}


def explain_lead(engine: Engine, key: str) -> dict[str, Any]:
    """Everything `hotlead why` shows: score, base value, every contribution and the reasons."""
    head, scored = _one(engine, key)
    contributions = {k: float(v) for k, v in scored.contributions().iloc[0].items()}
    base = contributions.pop("bias")
    values = _values(scored)
    presence = getattr(scored.scorer, "presence_", {})
    pro, con = reasons(contributions, values, top=3, presence=presence)
    lead_id, cutoff = head.pop("lead_id"), head.pop("cutoff")
    quotes = evidence(engine, lead_id, cutoff, [(r.group, r.contribution) for r in pro + con])

    def shown(reason: Any) -> dict[str, Any]:
        text = f"{reason.text}; {quotes[reason.group]}" if reason.group in quotes else reason.text
        return {"text": text, "contribution": reason.contribution}

    value = getattr(scored.scorer, "value_", None)
    amount = float(value.amounts(scored.scorer, scored.encoded)[0]) if value is not None else None
    now = pd.to_datetime(cutoff, unit="D", origin="julian", utc=True).round("ms").to_pydatetime()
    pinned = scored.pinned[0] if scored.pinned is not None else None
    return {
        **head, "stop": scored.stopped[0], "pinned": pinned, "feedback": lead_feedback(engine, lead_id, now),
        "base_value": base, "margin": float(scored.margin[0]),
        **({"expected_amount": round(amount, 2), "expected_value": round(head["probability"] * amount, 2)}
           if amount is not None else {}),
        "contributions": contributions,
        "reasons": [{"text": r.text, "contribution": r.contribution, "group": r.group}
                    for r in all_reasons(contributions, values, presence)],
        "for": [shown(r) for r in pro],
        "against": [shown(r) for r in con],
        "values": values,
    }


def explain_pair(engine: Engine, a: str, b: str, *, higher_first: bool = False) -> dict[str, Any]:
    """Why A ranks above B: the groups where A's contributions exceed B's the most. With `higher_first`, A is
    whichever of the two scores higher."""
    (head_a, scored_a), (head_b, scored_b) = _scored(engine, [a, b])
    if higher_first and scored_a.margin[0] < scored_b.margin[0]:
        (head_a, scored_a), (head_b, scored_b) = (head_b, scored_b), (head_a, scored_a)
    for head in (head_a, head_b):
        head.pop("lead_id"), head.pop("cutoff")
    names = [str(n) for n in scored_a.scorer.feature_names_in_]
    scorer = scored_a.scorer
    both = scorer.log_odds(scorer.encoded_contributions(np.vstack([scored_a.encoded, scored_b.encoded])))  # one pass
    contrib_a, contrib_b = (dict(zip(names, map(float, row[:-1]), strict=True)) for row in both)
    found = compare_reasons(contrib_a, contrib_b, _values(scored_a), _values(scored_b), top=3,
                            other=str(head_b.get("name") or head_b["lead"]))
    return {"a": head_a, "b": head_b, "margin_gap": float(scored_a.margin[0] - scored_b.margin[0]),
            "reasons": [{"text": r.text, "contribution": r.contribution} for r in found]}


def top_leads(engine: Engine, *, band: str | None = None, limit: int = 10, by: str = "probability"
              ) -> list[dict[str, Any]]:
    """Active leads by their latest score (or `by` "value": by expected value, probability × expected amount),
    best first, with movement since the score before; with `expected_value` when the active model has a
    deal-value model (`why` gives its two parts)."""
    scorer = _value_scorer(engine)
    if by == "value" and scorer is None:
        raise NoModelError("no deal-value model yet: train with won deals' amounts (`hotlead train --value`)")
    with engine.connect() as conn:
        rows = queries.latest_open_scores(conn=conn, band=band, limit=None if by == "value" else limit)
    amounts = expected_amounts(engine, scorer, [row[8] for row in rows]) if scorer is not None else {}
    if by == "value":
        rows.sort(key=lambda row: (-row[3] * amounts[row[8]], row[8]))
        rows = rows[:limit]
    result = []
    for external_id, name, account, p, percentile, band_, stored, previous, lead_id in rows:
        found = (json_loads(stored) if isinstance(stored, str) else stored) or []
        result.append({
            "lead": external_id, "name": name, "account": account, "probability": p, "percentile": percentile,
            "band": band_, "movement": 0.0 if previous is None else p - previous,
            "top_reason": found[0]["text"] if found else "",
            **({"expected_value": round(p * amounts[lead_id], 2)} if lead_id in amounts else {}),
        })
    return result


def _value_scorer(engine: Engine) -> LeadScorer | None:
    """The active model when it has a deal-value model, else None."""
    try:
        scorer, _version = active_scorer(engine)
    except NoModelError:
        return None
    return scorer if getattr(scorer, "value_", None) is not None else None


def deal_amounts(engine: Engine, lead_ids: list[int]) -> dict[int, float] | None:
    """Lead id → the amount each open lead is expected to bring if won; None when the active model has no
    deal-value model."""
    scorer = _value_scorer(engine)
    return None if scorer is None else expected_amounts(engine, scorer, lead_ids)


def expected_amounts(engine: Engine, scorer: LeadScorer, lead_ids: list[int]) -> dict[int, float]:
    """Lead id → the amount each open lead is expected to bring if won, from its features now."""
    if not lead_ids:
        return {}
    cutoffs = active_cutoffs(engine, among=lead_ids)
    if cutoffs.empty:  # none of them open any more
        return {}
    features = build_features(engine, cutoffs)
    amounts = scorer.value_.amounts(scorer, scorer.encode(features))
    return {int(i): float(a) for i, a in zip(features.index, amounts, strict=True)}


def top_accounts(engine: Engine, *, limit: int = 10) -> list[dict[str, Any]]:
    """Accounts ranked by the chance that at least one of their best leads converts."""
    with engine.connect() as conn:
        rows = queries.latest_open_scores(conn=conn, with_account=True)
    by_account: dict[str, list[tuple[float, str]]] = {}
    for _external_id, name, account, p, *_ in rows:
        by_account.setdefault(account, []).append((p, name))
    ranked: list[dict[str, Any]] = []
    for account, leads in by_account.items():
        leads.sort(reverse=True)
        intent = 1.0 - math.prod(1.0 - p for p, _ in leads[:COMMITTEE])
        ranked.append({"account": account, "intent": intent, "leads": len(leads), "best_lead": leads[0][1],
                       "best_probability": leads[0][0]})
    ranked.sort(key=lambda r: float(r["intent"]), reverse=True)
    return ranked[:limit]
