"""Bands: the top share of open leads is hot, the next share warm, the rest cold (shares kept with each model)."""

from __future__ import annotations

from typing import Any

import numpy as np

from scoring.errors import BandError

HOT_SHARE, WARM_SHARE = 0.10, 0.30


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
