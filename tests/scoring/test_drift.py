import json

import numpy as np
import pandas as pd
import pytest

from scoring.drift import DRIFT_PSI, PROBABILITY, distribution, drift, edges_of, important_numeric, proportions, psi
from scoring.model import LeadScorer


def test_psi_is_zero_for_identical_distributions() -> None:
    values = np.random.default_rng(1).normal(size=5000)
    stored = distribution(values)
    assert psi(stored["proportions"], proportions(values, stored["edges"])) == pytest.approx(0.0, abs=1e-12)


def test_psi_is_near_zero_for_a_fresh_sample_of_the_same_population() -> None:
    rng = np.random.default_rng(2)
    stored = distribution(rng.normal(size=5000))
    assert psi(stored["proportions"], proportions(rng.normal(size=5000), stored["edges"])) < 0.02


def test_psi_passes_the_drift_threshold_for_a_shifted_distribution() -> None:
    rng = np.random.default_rng(3)
    stored = distribution(rng.normal(size=5000))
    shifted = rng.normal(loc=0.75, size=5000)
    assert psi(stored["proportions"], proportions(shifted, stored["edges"])) > DRIFT_PSI


def test_tied_values_merge_bins_instead_of_making_empty_ones() -> None:
    counts = np.array([0.0] * 700 + [1.0] * 200 + [2.0] * 100)
    edges = edges_of(counts)
    assert list(edges) == [0.0, 1.0]
    assert proportions(counts, edges).tolist() == [0.7, 0.2, 0.1, 0.0]  # <=0, (0,1], >1, missing


def test_missing_values_have_their_own_bin() -> None:
    stored = distribution(np.array([1.0, 2.0, 3.0, 4.0]))
    now = proportions(np.array([1.0, np.nan, np.nan, 4.0]), stored["edges"])
    assert now[-1] == 0.5 and psi(stored["proportions"], now) > DRIFT_PSI


def test_psi_refuses_bins_that_do_not_match() -> None:
    with pytest.raises(ValueError, match="3 reference bins but 2"):
        psi([0.2, 0.3, 0.5], [0.5, 0.5])


@pytest.fixture(scope="module")
def scorer_and_rows() -> tuple[LeadScorer, pd.DataFrame]:
    rng = np.random.default_rng(4)
    n = 1500
    rows = pd.DataFrame({"beh.visits": rng.poisson(3, n).astype(float), "time.days_idle": rng.exponential(15, n),
                         "firm.noise": rng.normal(size=n),
                         "firm.industry": pd.Categorical(rng.choice(["saas", "retail"], n))})
    logit = -1.0 + 0.5 * rows["beh.visits"] - 0.1 * rows["time.days_idle"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit.to_numpy()))).astype(int)
    return LeadScorer(n_jobs=1).fit(rows, y), rows


def test_the_reference_keeps_numeric_features_by_importance(scorer_and_rows: tuple[LeadScorer, pd.DataFrame]) -> None:
    scorer, _ = scorer_and_rows
    names = important_numeric(scorer)
    assert "firm.industry" not in names and set(names) == {"beh.visits", "time.days_idle", "firm.noise"}
    assert names[-1] == "firm.noise"


def test_a_stored_reference_survives_json_and_shows_a_shift(scorer_and_rows: tuple[LeadScorer, pd.DataFrame]) -> None:
    from scoring.drift import reference

    scorer, rows = scorer_and_rows
    probability = scorer.predict_proba(rows)[:, 1]
    stored = json.loads(json.dumps(reference(scorer, rows, probability)))  # as kept in model_version.metrics
    same = drift(stored, rows, probability)
    assert set(same) >= {"beh.visits", PROBABILITY} and max(same.values()) < 1e-9
    busier = rows.assign(**{"beh.visits": rows["beh.visits"] + 3})
    moved = drift(stored, busier, scorer.predict_proba(busier)[:, 1])
    assert moved["beh.visits"] > DRIFT_PSI and moved[PROBABILITY] > DRIFT_PSI
    assert moved["time.days_idle"] < 1e-9
