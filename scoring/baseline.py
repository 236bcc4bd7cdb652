"""The plain baseline every model is compared with: a regularised logistic regression on the same features
(numbers imputed and scaled, with a missing flag; categories one-hot), fitted on the same rows."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def logistic_baseline(X: pd.DataFrame) -> Pipeline:
    """An unfitted logistic regression pipeline for frames shaped like `X`."""
    categorical = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype) or X[c].dtype == object]
    numeric = [c for c in X.columns if c not in categorical]
    encode = ColumnTransformer([
        ("numbers", make_pipeline(SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                                  StandardScaler()), numeric),
        ("categories", make_pipeline(SimpleImputer(strategy="constant", fill_value="(missing)"),
                                     OneHotEncoder(handle_unknown="ignore", min_frequency=10)), categorical),
    ])
    return make_pipeline(encode, LogisticRegression(C=0.5, max_iter=2000))


def _text(X: pd.DataFrame) -> pd.DataFrame:
    """Categories as plain text columns (the imputer and one-hot encoder want objects, not pandas categoricals)."""
    out = X.copy()
    for name in out.columns:
        if isinstance(out[name].dtype, pd.CategoricalDtype):
            out[name] = out[name].astype(object).where(out[name].notna(), None)
    return out


def baseline_auc(train_x: pd.DataFrame, train_y: np.ndarray, hold_x: pd.DataFrame, hold_y: np.ndarray) -> float:
    """Holdout AUC of the logistic-regression baseline fitted on the training rows."""
    usable = [c for c in train_x.columns if train_x[c].notna().any()]
    train, hold = _text(train_x[usable]), _text(hold_x[usable])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence and unknown-category notes: the figure is what matters
        model = logistic_baseline(train).fit(train, train_y)
        return float(roc_auc_score(hold_y, model.predict_proba(hold)[:, 1]))
