"""The linear contestant: a regularised logistic regression on LeadScorer's own encoded matrix (numbers imputed
with the median, standardised and clipped, with a missing flag; categories one-hot by their training codes).

Its contributions are exact, like TreeSHAP's: feature j gives Σ wₖ·(zₖ − z̄ₖ) over its encoded columns k, and the
bias w₀ + Σ wₖ·z̄ₖ, so that contributions and bias add up to the linear margin."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

MIN_LEVEL = 10  # a category level seen fewer times in training has no column of its own (it reads as the rest)
CLIP = 5.0  # standardised numbers are clipped to ±5: one outlier does not dominate a margin
C = 0.5


@dataclass
class LinearPart:
    """A fitted linear model over `features` encoded columns (see `fit`)."""

    numeric: list[tuple[int, float, float, float, bool]]  # (column, median, mean, std, has a missing flag)
    categorical: list[tuple[int, list[float]]]  # (column, the levels with a column each)
    weights: np.ndarray  # one per design column
    intercept: float
    centre: np.ndarray  # the design columns' training means
    owner: np.ndarray  # the feature index of each design column
    features: int

    @classmethod
    def fit(
        cls, encoded: np.ndarray, labels: np.ndarray, categorical: list[bool], half_life: float | None = None,
    ) -> LinearPart:
        """Fit on rows of LeadScorer.encode output; `categorical[j]` tells which columns hold category codes.
        With a `half_life` (a share of the rows, which come oldest first), a row's weight halves every that many
        rows back from the newest (see `recency_weights`)."""
        numeric, levels = [], []
        numbers = [j for j, is_category in enumerate(categorical) if not is_category]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column has no median: it is skipped
            medians = np.nanmedian(encoded[:, numbers], axis=0) if numbers else np.zeros(0)
        for j, median in zip(numbers, medians, strict=True):
            if np.isnan(median):
                continue
            column = encoded[:, j]
            missing = np.isnan(column)
            x = np.where(missing, median, column)
            mean, std = float(x.mean()), float(x.std()) or 1.0
            numeric.append((j, float(median), mean, std, bool(missing.any())))
        for j, is_category in enumerate(categorical):
            if is_category:
                column = encoded[:, j]
                counts = np.bincount(column[~np.isnan(column)].astype(np.int64))  # codes are small whole numbers
                kept = [float(v) for v in np.flatnonzero(counts >= MIN_LEVEL)]
                if kept:
                    levels.append((j, kept))
        part = cls(numeric, levels, np.zeros(0), 0.0, np.zeros(0), np.zeros(0, dtype=int), len(categorical))
        part.owner = part._owners()
        design = part.design(encoded)
        part.centre = design.mean(axis=0)
        # Newton's method with a Cholesky solve: five steps on a few dozen columns, where L-BFGS took forty
        model = LogisticRegression(C=C, max_iter=100, solver="newton-cholesky")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence notes: the validation AUC judges the result
            weights = None if half_life is None else recency_weights(len(labels), half_life)
            model.fit(design, labels, sample_weight=weights)
        part.weights, part.intercept = model.coef_[0].astype(float), float(model.intercept_[0])
        return part

    def _owners(self) -> np.ndarray:
        """The feature index of each design column (a number and its missing flag, then category levels)."""
        owners: list[int] = []
        for j, *_rest, flagged in self.numeric:
            owners += [j, j] if flagged else [j]
        for j, kept in self.categorical:
            owners += [j] * len(kept)
        return np.asarray(owners, dtype=int)

    def design(self, encoded: np.ndarray) -> np.ndarray:
        """The design matrix of rows encoded by LeadScorer.encode."""
        columns: list[np.ndarray] = []
        for j, median, mean, std, flagged in self.numeric:
            column = encoded[:, j]
            missing = np.isnan(column)
            columns.append(np.clip((np.where(missing, median, column) - mean) / std, -CLIP, CLIP))
            if flagged:
                columns.append(missing.astype(float))
        for j, kept in self.categorical:
            column = encoded[:, j]
            columns += [(column == level).astype(float) for level in kept]
        if not columns:
            return np.zeros((len(encoded), 0))
        return np.column_stack(columns)

    def margin(self, encoded: np.ndarray) -> np.ndarray:
        """The linear log-odds."""
        return self.intercept + self.design(encoded) @ self.weights

    def contributions(self, encoded: np.ndarray) -> np.ndarray:
        """Exact contributions per feature, the bias last; each row adds up to `margin`."""
        parts = (self.design(encoded) - self.centre) * self.weights
        out = np.zeros((len(encoded), self.features + 1))
        for k, j in enumerate(self.owner):
            out[:, j] += parts[:, k]
        out[:, -1] = self.intercept + float(self.centre @ self.weights)
        return out

    def to_state(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {"numeric": self.numeric, "categorical": self.categorical, "weights": self.weights.tolist(),
                "intercept": self.intercept, "centre": self.centre.tolist(), "features": self.features}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LinearPart:
        """The part saved with `to_state`."""
        part = cls([tuple(n) for n in state["numeric"]],  # type: ignore[misc]
                   [(int(j), [float(v) for v in kept]) for j, kept in state["categorical"]],
                   np.asarray(state["weights"], dtype=float), float(state["intercept"]),
                   np.asarray(state["centre"], dtype=float), np.zeros(0, dtype=int), int(state["features"]))
        part.owner = part._owners()
        return part


def recency_weights(rows: int, half_life: float) -> np.ndarray:
    """Weights for `rows` rows in time order that halve every `half_life` × rows back from the newest, scaled to
    average one (so that the regularisation means what it does unweighted)."""
    age = (rows - 1 - np.arange(rows)) / max(rows, 1)
    weights = 0.5 ** (age / half_life)
    return weights * rows / weights.sum()
