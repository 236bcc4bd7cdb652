"""Bands: the top share of open leads is hot, the next share warm, the rest cold (shares kept with each model).

On a small pipeline (fewer than SMALL_PIPELINE open leads) shares of a handful of leads would contradict the
probabilities (a 70% lead "cold" because twelve others are higher), so bands come from probability thresholds
instead: those that give the same shares among the labelled leads the model learnt from."""

from __future__ import annotations

from typing import Any

import numpy as np

from scoring.errors import BandError

HOT_SHARE, WARM_SHARE = 0.10, 0.30
SMALL_PIPELINE = 200


def shares_of(params: dict[str, Any]) -> tuple[float, float]:
    """The (hot, warm) shares stored in a model version's parameters (versions older than them: the defaults)."""
    return float(params.get("hot_share", HOT_SHARE)), float(params.get("warm_share", WARM_SHARE))


def check_shares(hot: float, warm: float) -> None:
    """BandError unless 0 < hot, 0 <= warm and hot + warm <= 1."""
    if not (0 < hot <= 1 and 0 <= warm <= 1 and hot + warm <= 1 + 1e-9):
        raise BandError(f"band shares must be a hot share above 0 and a warm share of 0 or more that add up to "
                        f"at most 1 (100%); got hot {hot:g} and warm {warm:g}")


def bands(percentile: np.ndarray, hot: float = HOT_SHARE, warm: float = WARM_SHARE) -> np.ndarray:
    """hot for the top `hot` share, warm for the next `warm`, cold for the rest."""
    # rounded so that 1 - 0.1 - 0.3 is exactly the 60th percentile, not 60.000000000000014
    warm_band = np.where(percentile >= round(100 * (1 - hot - warm), 9), "warm", "cold")
    return np.where(percentile >= round(100 * (1 - hot), 9), "hot", warm_band)


def thresholds(probability: np.ndarray, hot: float = HOT_SHARE, warm: float = WARM_SHARE) -> tuple[float, float]:
    """The probabilities above which the top `hot` share, and the next `warm` share, of these leads fall."""
    return float(np.quantile(probability, 1 - hot)), float(np.quantile(probability, max(1 - hot - warm, 0.0)))


def bands_of(probability: np.ndarray, percentile: np.ndarray, population: int, hot: float, warm: float,
             cut: tuple[float, float] | None) -> np.ndarray:
    """Bands by share of a `population` of open leads, or by the model's probability thresholds `cut` when the
    population is a small pipeline (and the model has them)."""
    if cut is None or population >= SMALL_PIPELINE:
        return bands(percentile, hot, warm)
    hot_at, warm_at = cut
    return np.where(probability >= hot_at, "hot", np.where(probability >= warm_at, "warm", "cold"))
