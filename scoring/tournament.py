"""Who wins LeadScorer's tournament: the one-standard-error rule over the contestants' validation AUCs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from scoring.auc import auc_standard_error

PREFERRED_FIRST = ("xgboost", "logistic", "stacked", "blend")  # trees; a line; a line and a few trees; both


def choose(contestants: Mapping[str, float], candidates: Iterable[str], y: np.ndarray) -> str:
    """The first contestant of PREFERRED_FIRST (among `candidates`) whose validation AUC on outcomes `y` is within
    one standard error of the best one's (the one-standard-error rule): on a few hundred validation rows, or rows
    that drift, a smaller edge is noise. The trees stay unless clearly beaten; then the simplest of those within
    one standard error of the best wins."""
    allowed = [name for name in PREFERRED_FIRST if name in contestants and name in set(candidates)]
    if not allowed:
        return "xgboost"
    positives = int(y.sum())
    top = max(contestants[name] for name in allowed)
    margin = auc_standard_error(top, positives, len(y) - positives)
    return next(name for name in allowed if contestants[name] >= top - margin)
