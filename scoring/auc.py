"""The uncertainty of an AUC measured on a finite sample (Hanley & McNeil, 1982)."""

from __future__ import annotations

import math


def auc_standard_error(auc: float, positives: int, negatives: int) -> float:
    """The standard error of an AUC measured on `positives` and `negatives` (Hanley & McNeil's approximation)."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)) / max(
        positives * negatives, 1)
    return math.sqrt(max(variance, 0.0))
