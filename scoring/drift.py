"""Feature drift: the population stability index (PSI) of the leads scored now against the training reference.

At training time the model version keeps, for its most important numeric features and for its predicted
probability, the decile edges and the share of rows in each bin (plus a last bin for missing values). Later the
open leads are binned on the same edges and compared: PSI = sum((actual - expected) * ln(actual / expected)).
Below 0.1 nothing moved, 0.1-0.2 a little, above DRIFT_PSI the model sees a population it was not trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from scoring.model import LeadScorer

BINS = 10
TOP_FEATURES = 10
DRIFT_PSI = 0.2
EPSILON = 1e-4  # an empty bin counts as this share, so that PSI stays finite
PROBABILITY = "probability"


def edges_of(values: Any, bins: int = BINS) -> np.ndarray:
    """The inner quantile edges that split the known values into `bins` equal-count bins (ties merge bins)."""
    known = _known(values)
    if not len(known):
        return np.array([], dtype=float)
    # edges are observed values: counts (0, 1, 2 visits) bin on their own values, not between them
    return np.unique(np.quantile(known, np.linspace(0.0, 1.0, bins + 1)[1:-1], method="inverted_cdf"))


def proportions(values: Any, edges: Sequence[float] | np.ndarray) -> np.ndarray:
    """The share of values in each bin (right-closed, between the edges) and, last, the share missing."""
    array = np.asarray(values, dtype=float).ravel()
    missing = np.isnan(array)
    bins = np.searchsorted(np.asarray(edges, dtype=float), array[~missing], side="left")
    counts = np.append(np.bincount(bins, minlength=len(edges) + 1), missing.sum()).astype(float)
    return counts / max(len(array), 1)


def psi(expected: Sequence[float] | np.ndarray, actual: Sequence[float] | np.ndarray) -> float:
    """The population stability index between two sets of bin shares over the same bins."""
    e = np.clip(np.asarray(expected, dtype=float), EPSILON, None)
    a = np.clip(np.asarray(actual, dtype=float), EPSILON, None)
    if e.shape != a.shape:
        raise ValueError(f"{len(e)} reference bins but {len(a)} current ones")
    return float(np.sum((a - e) * np.log(a / e)))


def distribution(values: Any, bins: int = BINS) -> dict[str, list[float]]:
    """Decile edges of `values` and the share of them in each bin, as stored in a model version."""
    edges = edges_of(values, bins)
    return {"edges": [float(x) for x in edges], "proportions": [float(x) for x in proportions(values, edges)]}


def important_numeric(scorer: LeadScorer, top: int = TOP_FEATURES) -> list[str]:
    """The `top` numeric features the booster gained most from, most important first."""
    gain = {name: float(value) for name, value in scorer.booster_.get_score(importance_type="total_gain").items()
            if isinstance(value, int | float)}
    numeric = [name for name in gain if name not in scorer.categories_]
    return sorted(numeric, key=lambda name: -gain[name])[:top]


def reference(scorer: LeadScorer, features: pd.DataFrame, probability: np.ndarray) -> dict[str, Any]:
    """The training reference: distributions of the important numeric features and of the probability."""
    names = [name for name in important_numeric(scorer) if name in features.columns]
    return {
        "bins": BINS,
        "features": {name: distribution(features[name].to_numpy(dtype=float)) for name in names},
        PROBABILITY: distribution(probability),
    }


def drift(reference: dict[str, Any], features: pd.DataFrame, probability: np.ndarray) -> dict[str, float]:
    """PSI of each reference feature (and of `probability`) between the reference and these rows."""
    result: dict[str, float] = {}
    if not len(features):
        return result
    for name, stored in reference.get("features", {}).items():
        if name in features.columns:
            result[name] = psi(stored["proportions"], proportions(features[name].to_numpy(dtype=float),
                                                                  stored["edges"]))
    if PROBABILITY in reference:
        stored = reference[PROBABILITY]
        result[PROBABILITY] = psi(stored["proportions"], proportions(probability, stored["edges"]))
    return result


def _known(values: Any) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    return array[~np.isnan(array)]
