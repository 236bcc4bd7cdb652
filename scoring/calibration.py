"""Calibration of a model's margin into conversion rates: Platt's logistic fit, kept increasing."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression


def platt(margin: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Slope and intercept mapping margins to conversion rates (a logistic regression on the margin alone), always
    increasing: where the validation rows rank the other way (drift), the model's own log-odds are kept (slope 1),
    moved to those rows' conversion rate. Whether such a model may be promoted is its holdout's to say."""
    platt = LogisticRegression(C=1e6).fit(margin.reshape(-1, 1), labels)
    slope, intercept = float(platt.coef_[0, 0]), float(platt.intercept_[0])
    if slope > 0:
        return slope, intercept
    return 1.0, offset(margin, labels)


def offset(margin: np.ndarray, labels: np.ndarray) -> float:
    """The shift c that makes the mean of sigmoid(margin + c) the labels' mean (Newton's method: it is convex)."""
    c = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(margin + c)))
        step = float((labels - p).sum()) / max(float((p * (1 - p)).sum()), 1e-12)
        c += step
        if abs(step) < 1e-10:
            break
    return c
