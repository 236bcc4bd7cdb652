"""LeadScorer: XGBoost with native categoricals, time-ordered early stopping and calibrated output."""

from __future__ import annotations

import json
import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from scoring.errors import NotEnoughOutcomesError

log = logging.getLogger(__name__)
MIN_CLASS = 50
WARN_POSITIVES = 500


class LeadScorer(ClassifierMixin, BaseEstimator):
    """Gradient-boosted lead scores. `fit` expects rows in time order (oldest first) when `time_ordered`."""

    def __init__(
        self, *, n_estimators: int = 800, learning_rate: float = 0.03, max_depth: int = 4,
        min_child_weight: float = 2.0, subsample: float = 0.8, colsample_bytree: float = 0.8,
        reg_lambda: float = 2.0, validation_fraction: float = 0.2, early_stopping_rounds: int = 60,
        max_cat_to_onehot: int = 8, refit: bool = True, n_jobs: int = 2, random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.validation_fraction = validation_fraction
        self.early_stopping_rounds = early_stopping_rounds
        self.max_cat_to_onehot = max_cat_to_onehot
        self.refit = refit
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _params(self) -> dict[str, Any]:
        return {
            "objective": "binary:logistic", "eval_metric": "logloss", "eta": self.learning_rate,
            "max_depth": self.max_depth, "min_child_weight": self.min_child_weight, "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree, "lambda": self.reg_lambda, "tree_method": "hist",
            "max_cat_to_onehot": self.max_cat_to_onehot, "nthread": self.n_jobs, "seed": self.random_state,
        }

    def fit(self, X: pd.DataFrame, y: Any) -> LeadScorer:
        """Train on rows in time order: the newest `validation_fraction` stop the boosting and calibrate."""
        labels = np.asarray(y, dtype=float)
        positives = int(labels.sum())
        negatives = len(labels) - positives
        if positives < MIN_CLASS or negatives < MIN_CLASS:
            raise NotEnoughOutcomesError(
                f"need at least {MIN_CLASS} conversions and {MIN_CLASS} non-conversions to train; "
                f"found {positives} and {negatives}"
            )
        if positives < WARN_POSITIVES:
            log.warning("only %d conversions: scores will be noisy until there are %d", positives, WARN_POSITIVES)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.categories_ = {
            c: list(X[c].cat.categories) for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)
        }
        split = int(len(X) * (1 - self.validation_fraction))
        train, valid = self._matrix(X.iloc[:split], labels[:split]), self._matrix(X.iloc[split:], labels[split:])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            self.booster_ = xgb.train(
                self._params(), train, num_boost_round=self.n_estimators, evals=[(valid, "valid")],
                early_stopping_rounds=self.early_stopping_rounds, verbose_eval=False,
            )
        self.best_iteration_ = int(self.booster_.best_iteration)
        self.booster_ = self.booster_[: self.best_iteration_ + 1]
        margin = self.booster_.predict(valid, output_margin=True)
        platt = LogisticRegression(C=1e6).fit(margin.reshape(-1, 1), labels[split:])
        self.calibration_ = (float(platt.coef_[0, 0]), float(platt.intercept_[0]))
        if self.refit:
            # The newest rows matter most for the future: once the tree count is known, learn from all rows
            # (10% more trees for 25% more data); the calibration found above still maps margins to rates.
            rounds = int((self.best_iteration_ + 1) * 1.1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                self.booster_ = xgb.train(self._params(), self._matrix(X, labels), num_boost_round=rounds)
        self.classes_ = np.array([0, 1])
        return self

    def _matrix(self, X: pd.DataFrame, y: np.ndarray | None = None) -> xgb.DMatrix:
        frame = self.align(X)
        return xgb.DMatrix(frame, label=y, enable_categorical=True, nthread=self.n_jobs)

    def align(self, X: pd.DataFrame) -> pd.DataFrame:
        """Columns in training order, categories as seen in training (unknown values become missing)."""
        frame = X.reindex(columns=list(self.feature_names_in_))
        for name, levels in self.categories_.items():
            frame[name] = pd.Categorical(frame[name].astype(object), categories=levels)
        for name in frame.columns:
            if name not in self.categories_ and frame[name].dtype == object:
                frame[name] = pd.to_numeric(frame[name], errors="coerce")
        return frame

    def margin(self, X: pd.DataFrame) -> np.ndarray:
        """The booster's raw log-odds (what TreeSHAP contributions add up to)."""
        return np.asarray(self.booster_.predict(self._matrix(X), output_margin=True))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities, shape (n, 2)."""
        slope, intercept = self.calibration_
        p = 1.0 / (1.0 + np.exp(-(slope * self.margin(X) + intercept)))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 where the calibrated probability is at least one half."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Exact TreeSHAP contributions per feature plus a `bias` column; rows sum to the margin."""
        values = self.booster_.predict(self._matrix(X), pred_contribs=True)
        return pd.DataFrame(values, index=X.index, columns=[*self.feature_names_in_, "bias"])

    def to_bytes(self) -> bytes:
        """The booster and everything needed to use it again, as bytes for the model registry."""
        state = {"params": self.get_params(), "features": list(self.feature_names_in_),
                 "categories": self.categories_, "calibration": self.calibration_,
                 "best_iteration": self.best_iteration_}
        header = json.dumps(state, default=str).encode()
        return len(header).to_bytes(8, "big") + header + bytes(self.booster_.save_raw("ubj"))

    @classmethod
    def from_bytes(cls, blob: bytes) -> LeadScorer:
        """Rebuild a fitted scorer saved with `to_bytes`."""
        size = int.from_bytes(blob[:8], "big")
        state = json.loads(blob[8 : 8 + size])
        scorer = cls(**state["params"])
        scorer.booster_ = xgb.Booster(model_file=bytearray(blob[8 + size :]))
        scorer.feature_names_in_ = np.asarray(state["features"], dtype=object)
        scorer.categories_ = state["categories"]
        scorer.calibration_ = tuple(state["calibration"])
        scorer.best_iteration_ = state["best_iteration"]
        scorer.classes_ = np.array([0, 1])
        return scorer
