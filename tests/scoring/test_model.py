import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from scoring.linear import recency_weights
from scoring.model import LeadScorer, NotEnoughOutcomesError

# One thread: on a busy two-core machine, two OpenMP threads make XGBoost many times slower.
FAST = {"n_jobs": 1}


def leads(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Synthetic leads whose true conversion chance is a logistic function of their features."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "beh.visits": rng.poisson(3, n).astype(float), "time.days_since_activity": rng.exponential(15, n),
        "firm.employees": rng.lognormal(4, 1, n),
        "firm.industry": pd.Categorical(rng.choice(["saas", "retail", "bank"], n)),
    })
    logit = (-1.5 + 0.35 * X["beh.visits"] - 0.08 * X["time.days_since_activity"] - 0.2 * np.log(X["firm.employees"])
             + np.where(X["firm.industry"] == "saas", 0.7, 0.0))
    y = (rng.random(n) < 1 / (1 + np.exp(-logit.to_numpy()))).astype(int)
    return X, y


@pytest.fixture(scope="module")
def fitted() -> tuple[LeadScorer, pd.DataFrame]:
    X, y = leads(3000, seed=1)
    return LeadScorer(**FAST).fit(X, y), leads(500, seed=2)[0]


@pytest.mark.parametrize(("positives", "negatives"), [(49, 400), (400, 49)])
def test_fit_refuses_fewer_than_50_of_either_class_naming_both_counts(positives: int, negatives: int) -> None:
    X, _ = leads(positives + negatives, seed=3)
    y = np.array([1] * positives + [0] * negatives)
    with pytest.raises(NotEnoughOutcomesError) as caught:
        LeadScorer(**FAST).fit(X, y)
    assert f"found {positives} and {negatives}" in str(caught.value)


def test_probabilities_are_calibrated_on_new_leads() -> None:
    X, y = leads(20_000, seed=4)
    scorer = LeadScorer(**FAST).fit(X, y)
    new_X, new_y = leads(20_000, seed=5)
    p = scorer.predict_proba(new_X)[:, 1]
    top = p >= np.quantile(p, 0.9)
    assert abs(p.mean() - new_y.mean()) < 0.02
    assert abs(p[top].mean() - new_y[top].mean()) < 0.05


def test_contributions_and_bias_sum_to_the_margin(fitted: tuple[LeadScorer, pd.DataFrame]) -> None:
    scorer, X = fitted
    contributions = scorer.contributions(X)
    assert list(contributions.columns) == [*X.columns, "bias"]
    assert np.abs(contributions.sum(axis=1).to_numpy() - scorer.margin(X)).max() < 1e-4


def test_a_scorer_saved_as_bytes_predicts_exactly_the_same(fitted: tuple[LeadScorer, pd.DataFrame]) -> None:
    scorer, X = fitted
    restored = LeadScorer.from_bytes(scorer.to_bytes())
    assert np.array_equal(restored.predict_proba(X), scorer.predict_proba(X))
    assert restored.get_params() == scorer.get_params()


def test_an_unseen_category_scores_like_a_missing_one(fitted: tuple[LeadScorer, pd.DataFrame]) -> None:
    scorer, X = fitted
    unseen, missing = X.head(20).copy(), X.head(20).copy()
    unseen["firm.industry"] = "mining"
    missing["firm.industry"] = np.nan
    assert np.array_equal(scorer.predict_proba(unseen), scorer.predict_proba(missing))


def test_clone_keeps_the_parameters_and_nothing_learned(fitted: tuple[LeadScorer, pd.DataFrame]) -> None:
    copy = clone(LeadScorer(max_depth=2, learning_rate=0.1))
    assert (copy.max_depth, copy.learning_rate) == (2, 0.1)
    assert copy.get_params() == LeadScorer(max_depth=2, learning_rate=0.1).get_params()
    fresh = clone(fitted[0])
    assert fresh.get_params() == fitted[0].get_params()
    assert not hasattr(fresh, "booster_")


def test_tabulated_contributions_are_pred_contribs_and_travel_with_the_saved_scorer(
    fitted: tuple[LeadScorer, pd.DataFrame]
) -> None:
    scorer, X = fitted
    encoded = scorer.encode(X)
    expected = scorer.contributions(X).to_numpy()
    assert np.abs(scorer.encoded_contributions(encoded) - expected).max() < 1e-5
    blob = scorer.to_bytes()
    restored = LeadScorer.from_bytes(blob)
    assert restored._tables is not None  # loaded, not compiled again
    assert np.abs(restored.encoded_contributions(encoded) - expected).max() < 1e-5


def test_a_scorer_saved_before_tables_existed_still_loads(fitted: tuple[LeadScorer, pd.DataFrame]) -> None:
    scorer, X = fitted
    blob = scorer.to_bytes()
    size = int.from_bytes(blob[:8], "big")
    state = json.loads(blob[8 : 8 + size])
    tables = state.pop("tables_size")
    header = json.dumps(state).encode()
    old = len(header).to_bytes(8, "big") + header + blob[8 + size + tables :]
    assert np.array_equal(LeadScorer.from_bytes(old).predict_proba(X), scorer.predict_proba(X))


def drifting(rows: int, seed: int, shift: float) -> tuple[pd.DataFrame, np.ndarray]:
    """One linear signal whose range moves with time (later rows beyond anything earlier), plus a category."""
    rng = np.random.default_rng(seed)
    x = 0.3 * rng.normal(size=rows) + np.linspace(0, shift, rows)
    kind = rng.choice(["a", "b", "c"], size=rows)
    margin = 1.5 * (x - shift / 2) + np.where(kind == "b", 0.8, 0.0)
    y = (rng.random(rows) < 1 / (1 + np.exp(-margin))).astype(int)
    return pd.DataFrame({"x": x, "kind": pd.Categorical(kind), "noise": rng.normal(size=rows)}), y


def test_the_tournament_deploys_a_linear_part_where_trees_cannot_extrapolate_and_reasons_stay_exact() -> None:
    X, y = drifting(3000, 1, shift=8.0)
    model = LeadScorer(n_jobs=1).fit(X, y)
    assert set(model.contestants_) >= {"xgboost", "logistic", "stacked"}
    assert model.winner_ in ("logistic", "stacked", "blend")
    assert model.contestants_[model.winner_] > model.contestants_["xgboost"]
    encoded = model.encode(X.iloc[-200:])
    contributions = model.encoded_contributions(encoded)
    np.testing.assert_allclose(contributions.sum(axis=1), model.encoded_margin(encoded), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.pred_contribs(encoded), contributions, atol=1e-4)
    again = LeadScorer.from_bytes(model.to_bytes())
    assert again.winner_ == model.winner_
    np.testing.assert_allclose(again.predict_proba(X.iloc[-200:]), model.predict_proba(X.iloc[-200:]), atol=1e-9)


def test_without_the_tournament_only_trees_are_fitted() -> None:
    X, y = drifting(1500, 2, shift=0.0)
    model = LeadScorer(n_jobs=1, contest=False).fit(X, y)
    assert model.winner_ == "xgboost" and list(model.contestants_) == ["xgboost"] and model.linear_ is None


def test_trees_stacked_on_the_line_add_exactly_to_its_margin_and_travel_with_the_saved_scorer() -> None:
    X, y = drifting(3000, 3, shift=8.0)
    model = LeadScorer(n_jobs=1, candidates=("stacked",)).fit(X, y)
    assert model.winner_ == "stacked" and model.mix_ == (1.0, 1.0) and model.linear_ is not None
    encoded = model.encode(X.iloc[-300:])
    trees = model.booster_.predict(model._dmatrix(encoded), output_margin=True)
    np.testing.assert_allclose(model.encoded_margin(encoded), model.linear_.margin(encoded) + trees, atol=1e-5)
    contributions = model.encoded_contributions(encoded)
    np.testing.assert_allclose(contributions.sum(axis=1), model.encoded_margin(encoded), rtol=1e-5, atol=1e-5)
    again = LeadScorer.from_bytes(model.to_bytes())
    assert again.winner_ == "stacked" and again.candidates == ("stacked",)
    np.testing.assert_allclose(again.predict_proba(X.iloc[-300:]), model.predict_proba(X.iloc[-300:]), atol=1e-9)


def test_calibration_stays_increasing_when_the_validation_rows_rank_the_other_way() -> None:
    X, y = leads(3000, seed=6)
    cut = int(len(y) * 0.8)
    y[cut:] = 1 - y[cut:]  # the newest rows (LeadScorer validates on them) turn every relation upside down
    model = LeadScorer(**FAST, contest=False, refit=False).fit(X, y)  # the trees the calibration was fitted to
    slope, _ = model.calibration_
    assert slope == 1.0  # the model's own log-odds, never flipped
    p = model.predict_proba(X)[:, 1]
    margin = model.margin(X)
    assert np.all(np.diff(p[np.argsort(margin)]) >= -1e-12)
    assert abs(p[cut:].mean() - y[cut:].mean()) < 0.02  # moved to the validation rows' conversion rate


def flipping(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """One signal whose relation to the outcome turns round halfway through the history (rows oldest first)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    slope = np.where(np.arange(rows) < rows * 0.5, -1.0, 1.5)
    y = (rng.random(rows) < 1 / (1 + np.exp(-slope * x))).astype(int)
    return pd.DataFrame({"x": x, "noise": rng.normal(size=rows)}), y


def test_where_the_data_turn_the_line_weighs_the_newest_decisions_most_and_keeps_that_when_saved() -> None:
    X, y = flipping(4000, 1)
    weighted = LeadScorer(n_jobs=1, candidates=("logistic",)).fit(X, y)
    plain = LeadScorer(n_jobs=1, candidates=("logistic",), half_lives=()).fit(X, y)
    assert weighted.half_life_ == 0.25 and plain.half_life_ is None
    assert weighted.contestants_["logistic"] > 0.75 > 0.5 > plain.contestants_["logistic"]
    assert weighted.linear_ is not None and weighted.linear_.weights[0] > 0  # the newest relation: x raises it
    assert LeadScorer.from_bytes(weighted.to_bytes()).half_life_ == 0.25


def test_without_drift_the_line_stays_unweighted() -> None:
    X, y = leads(3000, seed=7)
    assert LeadScorer(**FAST).fit(X, y).half_life_ is None


def test_recency_weights_halve_every_half_life_and_average_one() -> None:
    weights = recency_weights(1000, 0.25)
    assert weights.mean() == pytest.approx(1.0)
    assert weights[-1] / weights[-251] == pytest.approx(2.0) and np.all(np.diff(weights) > 0)
