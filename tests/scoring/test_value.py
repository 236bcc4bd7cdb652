"""The deal-value model: it learns what drives deal sizes, expects the mean amount (not the median), beats the
plain median on the newest deals, and travels with the scorer through the registry's bytes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoring.model import LeadScorer
from scoring.value import MIN_WON, fit_value


def pipeline(rows: int = 3000, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Leads whose conversion depends on `beh.visits` and whose won amounts on company size and plan."""
    rng = np.random.default_rng(seed)
    employees = np.exp(rng.normal(5.3, 1.2, rows))
    plan = rng.choice(["starter", "growth", "enterprise"], rows, p=[0.5, 0.35, 0.15])
    visits = rng.poisson(3, rows).astype(float)
    features = pd.DataFrame({"firm.employees": employees, "beh.visits": visits,
                             "attr.plan": pd.Categorical(plan)})
    labels = (rng.random(rows) < 1 / (1 + np.exp(-(visits - 4)))).astype(int)
    log_amount = 6.0 + 0.6 * np.log(employees) + np.select([plan == "growth", plan == "enterprise"], [0.5, 1.2], 0.0)
    amounts = np.where(labels == 1, np.exp(log_amount + rng.normal(0, 0.6, rows)), np.nan)
    return features, labels, amounts


def test_it_learns_deal_sizes_and_beats_the_median_on_the_newest_deals() -> None:
    features, labels, amounts = pipeline()
    scorer = LeadScorer().fit(features, labels)
    value = fit_value(scorer, features, amounts)
    assert value is not None
    m = value.metrics
    assert m["won_deals"] == int(labels.sum()) and m["holdout"] == "newest 20% of won deals"
    assert m["mae"] < 0.8 * m["median_baseline_mae"] and m["spearman"] > 0.6


def test_it_expects_the_mean_amount_not_the_median() -> None:
    """exp of a predicted log amount is a median: with log-normal noise (sigma 0.6) it understates the mean by
    about exp(0.6² / 2) = 1.20; Duan's smearing puts the mean back."""
    features, labels, amounts = pipeline(rows=6000)
    scorer = LeadScorer().fit(features, labels)
    value = fit_value(scorer, features, amounts)
    assert value is not None
    won = np.flatnonzero(labels == 1)
    expected = value.amounts(scorer, scorer.encode(features.iloc[won]))
    assert expected.mean() == pytest.approx(np.nanmean(amounts[won]), rel=0.05)
    assert 1.1 < value.smear < 1.35


def test_too_few_won_deals_give_no_value_model() -> None:
    features, labels, amounts = pipeline(rows=3000)
    kept = np.where(np.cumsum(~np.isnan(amounts)) <= MIN_WON - 1, amounts, np.nan)
    assert fit_value(LeadScorer().fit(features, labels), features, kept) is None


def test_the_value_model_travels_with_the_scorer_through_its_bytes() -> None:
    features, labels, amounts = pipeline()
    scorer = LeadScorer().fit(features, labels)
    plain = LeadScorer.from_bytes(scorer.to_bytes())
    assert plain.value_ is None
    scorer.value_ = fit_value(scorer, features, amounts)
    loaded = LeadScorer.from_bytes(scorer.to_bytes())
    encoded = scorer.encode(features.head(50))
    assert np.allclose(loaded.value_.amounts(loaded, encoded), scorer.value_.amounts(scorer, encoded))
    assert loaded.value_.metrics == scorer.value_.metrics
    assert np.allclose(loaded.predict_proba(features.head(50)), scorer.predict_proba(features.head(50)))
    assert np.allclose(loaded.contributions(features.head(5)), scorer.contributions(features.head(5)))
