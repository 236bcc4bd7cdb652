"""Deal value: what a lead is worth if it is won, learnt from the amounts of the team's won deals, so that leads
can be ranked by expected value (probability × expected amount), as managers rank them.

A regression on the logarithm of the amount (deal sizes span orders of magnitude) over the scorer's own features,
turned back into an expected amount with Duan's smearing factor, the mean of exp(residual) on the training deals:
exp of a predicted log amount is a median, which would understate every deal. It is judged on the newest fifth of
the won deals against the plain median amount, and `hotlead train` reports both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xgboost as xgb
from scipy.stats import spearmanr

if TYPE_CHECKING:
    from scoring.model import LeadScorer

MIN_WON = 30  # won deals with an amount, before a value model is fitted
HOLDOUT_FRACTION = 0.2
MAX_ROUNDS = 400


@dataclass
class DealValue:
    """A fitted value model: expected amount of a won deal from the scorer's encoded features."""

    booster: xgb.Booster
    smear: float
    metrics: dict[str, Any] = field(default_factory=dict)

    def amounts(self, scorer: LeadScorer, encoded: np.ndarray) -> np.ndarray:
        """The expected amount of each encoded row, were it won."""
        return np.exp(np.asarray(self.booster.predict(scorer._dmatrix(encoded)), dtype=float)) * self.smear

    def header(self, size: int) -> dict[str, Any]:
        """What the registry keeps of it beside its booster's `size` bytes."""
        return {"smear": self.smear, "metrics": self.metrics, "size": size}

    @classmethod
    def load(cls, header: dict[str, Any], raw: bytes) -> DealValue:
        return cls(xgb.Booster(model_file=bytearray(raw)), float(header["smear"]), dict(header["metrics"]))


def _params(scorer: LeadScorer, rows: int) -> dict[str, Any]:
    return {"objective": "reg:squarederror", "eta": 0.05, "max_depth": 3, "min_child_weight": 5,
            "subsample": 0.8, "lambda": 1.0, "tree_method": "hist", "max_cat_to_onehot": scorer.max_cat_to_onehot,
            "nthread": scorer._threads(rows), "seed": scorer.random_state}


def _fit(scorer: LeadScorer, encoded: np.ndarray, log_amounts: np.ndarray) -> tuple[xgb.Booster, float]:
    """Trees on the log amounts (as many rounds as the newest fifth of them keeps improving, then refitted on
    all), and the smearing factor of the refit."""
    cut = max(1, int(len(encoded) * (1 - HOLDOUT_FRACTION)))
    params = _params(scorer, len(encoded))
    rounds = MAX_ROUNDS
    if len(encoded) - cut >= 5:
        early = xgb.train(params, scorer._dmatrix(encoded[:cut], log_amounts[:cut]), MAX_ROUNDS,
                          evals=[(scorer._dmatrix(encoded[cut:], log_amounts[cut:]), "newest")],
                          early_stopping_rounds=30, verbose_eval=False)
        rounds = early.best_iteration + 1
    booster = xgb.train(params, scorer._dmatrix(encoded, log_amounts), rounds)
    residuals = log_amounts - np.asarray(booster.predict(scorer._dmatrix(encoded)), dtype=float)
    return booster, float(np.mean(np.exp(residuals)))


def fit_value(scorer: LeadScorer, features: pd.DataFrame, amounts: np.ndarray, *, in_time_order: bool = True,
              seed: int = 0) -> DealValue | None:
    """A value model over the rows with an amount (won deals; NaN elsewhere), judged on the newest fifth of them
    when the rows are in time order (oldest decision first), else on a random fifth; None with fewer than MIN_WON
    such rows."""
    rows = np.flatnonzero(np.nan_to_num(amounts, nan=0.0) > 0)
    if len(rows) < MIN_WON:
        return None
    if not in_time_order:
        rows = np.random.default_rng(seed).permutation(rows)
    encoded = scorer.encode(features.iloc[rows])
    logs = np.log(amounts[rows])
    cut = int(len(rows) * (1 - HOLDOUT_FRACTION))
    booster, smear = _fit(scorer, encoded[:cut], logs[:cut])
    model = DealValue(booster, smear)
    predicted, truth = model.amounts(scorer, encoded[cut:]), amounts[rows[cut:]]
    median = float(np.median(amounts[rows[:cut]]))
    correlation = spearmanr(predicted, truth).statistic if len(truth) > 2 else math.nan
    metrics = {
        "won_deals": int(len(rows)), "holdout_deals": int(len(truth)),
        "holdout": "newest 20% of won deals" if in_time_order else "a random 20% of won deals",
        "mae": round(float(np.mean(np.abs(predicted - truth))), 2),
        "median_baseline_mae": round(float(np.mean(np.abs(median - truth))), 2),
        "spearman": None if math.isnan(correlation) else round(float(correlation), 4),
        "median_amount": round(median, 2), "smear": round(smear, 4),
    }
    booster, smear = _fit(scorer, encoded, logs)  # deployed: every won deal, the newest too
    return DealValue(booster, smear, metrics)
