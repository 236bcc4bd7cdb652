import numpy as np
import pytest

from scoring.auc import auc_standard_error
from scoring.tournament import PREFERRED_FIRST, choose

Y = np.array([1] * 100 + [0] * 400)  # one standard error of an AUC near 0.7 is about 0.031 here


@pytest.mark.parametrize(("contestants", "winner"), [
    ({"xgboost": 0.70, "logistic": 0.72, "stacked": 0.72, "blend": 0.725}, "xgboost"),  # within one SE: trees stay
    ({"xgboost": 0.60, "logistic": 0.71, "stacked": 0.72, "blend": 0.73}, "logistic"),  # the simplest near the best
    ({"xgboost": 0.60, "logistic": 0.65, "stacked": 0.72, "blend": 0.73}, "stacked"),
    ({"xgboost": 0.60, "logistic": 0.65, "stacked": 0.66, "blend": 0.73}, "blend"),
    ({"xgboost": 0.41, "logistic": 0.39}, "xgboost"),  # a validation ranked backwards: nothing is clearly better
])
def test_the_trees_stay_unless_clearly_beaten_then_the_simplest_near_the_best_wins(
    contestants: dict[str, float], winner: str,
) -> None:
    assert choose(contestants, PREFERRED_FIRST, Y) == winner


def test_only_candidates_may_win() -> None:
    assert choose({"xgboost": 0.9, "logistic": 0.6}, ("logistic",), Y) == "logistic"
    assert choose({"xgboost": 0.9}, ("stacked",), Y) == "xgboost"  # nothing allowed was judged: the trees


def test_the_standard_error_shrinks_with_more_outcomes() -> None:
    assert auc_standard_error(0.7, 1000, 4000) < auc_standard_error(0.7, 100, 400) / 3
    assert auc_standard_error(0.7, 100, 400) == pytest.approx(0.031, abs=0.002)
