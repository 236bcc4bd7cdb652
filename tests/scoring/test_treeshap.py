"""Tabulated TreeSHAP gives XGBoost's own `pred_contribs=True` numbers."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from scoring.treeshap import compile_booster, forest_from_bytes, forest_to_bytes

TYPES = ["q", "q", "q", "q", "c", "c"]


def data(rows: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Numbers with gaps, a 3-level category (one-hot splits) and a 12-level one (partition splits)."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([
        rng.normal(size=rows), rng.exponential(size=rows), rng.integers(0, 5, rows).astype(float),
        rng.normal(size=rows), rng.integers(0, 3, rows).astype(float), rng.integers(0, 12, rows).astype(float),
    ])
    logit = X[:, 0] + np.log1p(X[:, 1]) - 0.5 * X[:, 2] + (X[:, 4] == 1) + 0.3 * (X[:, 5] % 3) + X[:, 0] * X[:, 3]
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(float)
    X[rng.random(X.shape) < 0.15] = np.nan
    return X, y


def matrix(X: np.ndarray, y: np.ndarray | None = None) -> xgb.DMatrix:
    return xgb.DMatrix(X, label=y, feature_types=TYPES, enable_categorical=True)


def booster(depth: int, rounds: int = 40, **params: object) -> xgb.Booster:
    X, y = data()
    settings = {"objective": "binary:logistic", "max_depth": depth, "eta": 0.3, "tree_method": "hist",
                "max_cat_to_onehot": 4, "nthread": 1, "seed": 0, **params}
    return xgb.train(settings, matrix(X, y), num_boost_round=rounds)


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 6])
def test_contributions_match_pred_contribs(depth: int) -> None:
    model = booster(depth)
    X, _ = data(rows=800, seed=1)
    forest = compile_booster(model)
    assert forest is not None
    expected = model.predict(matrix(X), pred_contribs=True)
    assert np.abs(forest.contributions(X) - expected).max() < 1e-5


def test_contributions_add_up_to_the_margin() -> None:
    model = booster(3, subsample=0.7, colsample_bytree=0.6)
    X, _ = data(rows=500, seed=2)
    contributions = compile_booster(model).contributions(X)  # type: ignore[union-attr]
    assert np.allclose(contributions.sum(axis=1), model.predict(matrix(X), output_margin=True), atol=1e-5)


def test_unseen_categories_and_all_missing_rows_follow_xgboost() -> None:
    model = booster(2)
    X = np.array([[np.nan] * 6, [0.1, 2.0, 3.0, -1.0, 7.0, 40.0], [-5.0, 0.0, 0.0, 9.0, 2.0, 11.0]])
    expected = model.predict(matrix(X), pred_contribs=True)
    assert np.abs(compile_booster(model).contributions(X) - expected).max() < 1e-5  # type: ignore[union-attr]


def test_stumps_only_move_the_bias() -> None:
    X, y = data()
    model = xgb.train({"objective": "binary:logistic", "max_depth": 2, "min_split_loss": 1e9, "nthread": 1},
                      matrix(X, y), num_boost_round=3)
    expected = model.predict(matrix(X[:50]), pred_contribs=True)
    assert np.abs(compile_booster(model).contributions(X[:50]) - expected).max() < 1e-5  # type: ignore[union-attr]


def test_other_objectives_are_left_to_xgboost() -> None:
    X, y = data()
    model = xgb.train({"objective": "reg:squarederror", "max_depth": 2, "nthread": 1}, matrix(X, y), 5)
    assert compile_booster(model) is None


def test_tables_saved_as_bytes_give_the_same_contributions() -> None:
    model = booster(3)
    X, _ = data(rows=300, seed=3)
    forest = compile_booster(model)
    assert forest is not None
    assert np.array_equal(forest_from_bytes(forest_to_bytes(forest)).contributions(X), forest.contributions(X))
