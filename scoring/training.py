"""Train a candidate on past decisions, judge it on the newest ones, promote it only when it is better."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sqlalchemy import Engine

from scoring import drift, registry
from scoring.bands import HOT_SHARE, WARM_SHARE, check_shares, shares_of
from scoring.evaluate import compare, lift_table, save_plots
from scoring.features import build_features
from scoring.model import LeadScorer
from scoring.rules import rule_points

HOLDOUT_FRACTION = 0.2


@dataclass
class TrainingData:
    """Every decided lead, oldest decision first, with features as of its decision."""

    features: pd.DataFrame
    labels: np.ndarray
    external_ids: list[str]
    decided: np.ndarray  # julian day of each decision (NaN when unknown)

    def split(self, fraction: float = HOLDOUT_FRACTION) -> int:
        """Index where the holdout (the newest decisions) starts."""
        return int(len(self.labels) * (1 - fraction))


@dataclass
class TrainingReport:
    """What `hotlead train` reports."""

    version: str
    promoted: bool
    metrics: dict[str, Any]
    lift: list[dict[str, Any]]
    holdout_ids: list[str]
    plots: list[Path] = field(default_factory=list)
    shares: tuple[float, float] = (HOT_SHARE, WARM_SHARE)  # the model's hot and warm band shares


def training_data(engine: Engine) -> TrainingData:
    """Decided leads in decision order; cutoffs are decision times (now, when a decision has no time)."""
    now = pd.Timestamp.now(tz="UTC").to_julian_date()
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT l.id, l.external_id, o.converted, julianday(o.closed_at) FROM outcome o "
            "JOIN lead l ON l.id = o.lead_id ORDER BY o.closed_at IS NULL, o.closed_at, l.id"
        ).all()
    decided = np.array([r[3] if r[3] is not None else np.nan for r in rows], dtype=float)
    cutoffs = pd.Series(np.where(np.isnan(decided), now, decided), index=[r[0] for r in rows])
    features = build_features(engine, cutoffs)
    return TrainingData(features, np.array([r[2] for r in rows], dtype=int), [r[1] for r in rows], decided)


def _window(decided: np.ndarray) -> tuple[datetime | None, datetime | None]:
    known = decided[~np.isnan(decided)]
    if not len(known):
        return None, None
    unix_epoch = 2440587.5  # the julian day of 1970-01-01T00:00Z
    first, last = (datetime.fromtimestamp(round((d - unix_epoch) * 86400), UTC) for d in (known.min(), known.max()))
    return first, last


def train(
    engine: Engine, *, plots: Path | None = None, scorer: LeadScorer | None = None,
    shares: tuple[float | None, float | None] = (None, None),
) -> TrainingReport:
    """Fit a candidate on all but the newest decisions and register it; promote it when it wins. Its band
    `shares` (hot, warm) default to the active model's, so that a retraining keeps the team's bands."""
    if scorer is None:
        hot, warm = _shares(engine, shares)
        scorer = LeadScorer(hot_share=hot, warm_share=warm)
    check_shares(scorer.hot_share, scorer.warm_share)  # before the slow part
    data = training_data(engine)
    cut = data.split()
    train_x, hold_x = data.features.iloc[:cut], data.features.iloc[cut:]
    train_y, hold_y = data.labels[:cut], data.labels[cut:]
    started = time.perf_counter()
    model = scorer.fit(train_x, train_y)
    seconds = time.perf_counter() - started
    probability = model.predict_proba(hold_x)[:, 1]
    points = rule_points(hold_x)
    comparison = compare(hold_y, probability, points)
    metrics: dict[str, Any] = {
        **comparison["model"], "rules_auc": comparison["rules"]["auc"], "rules": comparison["rules"],
        "auc_gain": comparison["auc_gain"], "train_seconds": round(seconds, 2), "train_leads": int(cut),
        "holdout_leads": int(len(hold_y)), "trees": model.best_iteration_ + 1, "depth": model.depth_,
        "without_conversation_auc": _auc_without(model, train_x, train_y, hold_x, hold_y, "conv."),
    }
    metrics["drift_reference"] = drift_reference(model, train_x, probability)
    active = registry.active_version(engine)
    promoted = active is None
    if active is not None:
        incumbent = registry.load_scorer(active).predict_proba(hold_x)[:, 1]
        metrics["active_auc_on_holdout"] = float(roc_auc_score(hold_y, incumbent))
        promoted = metrics["auc"] > metrics["active_auc_on_holdout"]
    version = registry.save_version(engine, model, metrics=metrics, window=_window(data.decided[:cut]))
    if promoted:
        registry.activate(engine, version.version)
    written = save_plots(plots, hold_y, probability, points) if plots else []
    return TrainingReport(version.version, promoted, metrics, lift_table(hold_y, probability),
                          data.external_ids[cut:], written, (model.hot_share, model.warm_share))


def _shares(engine: Engine, given: tuple[float | None, float | None]) -> tuple[float, float]:
    """The hot and warm shares asked for, else the active model's, else the defaults."""
    active = registry.active_version(engine)
    kept_hot, kept_warm = shares_of(active.params if active is not None else {})
    hot, warm = given
    return (kept_hot if hot is None else hot), (kept_warm if warm is None else warm)


def _auc_without(
    model: LeadScorer, train_x: pd.DataFrame, train_y: np.ndarray, hold_x: pd.DataFrame, hold_y: np.ndarray,
    prefix: str,
) -> float | None:
    """Holdout AUC of the same model trained without one feature family (what that family buys)."""
    keep = [c for c in train_x.columns if not c.startswith(prefix)]
    if len(keep) == len(train_x.columns):
        return None
    dropped = LeadScorer(**{**model.get_params(), "max_depth": model.depth_}).fit(train_x[keep], train_y)
    return float(roc_auc_score(hold_y, dropped.predict_proba(hold_x[keep])[:, 1]))


def drift_reference(model: LeadScorer, train_x: pd.DataFrame, holdout_probability: np.ndarray) -> dict[str, Any]:
    """What later drift checks compare with: the training rows' important features and the holdout's
    probabilities (the model's own scores on rows it never saw), binned by decile."""
    return drift.reference(model, train_x, holdout_probability)
