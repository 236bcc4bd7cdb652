import math
from pathlib import Path

import numpy as np
import pytest

from scoring.evaluate import calibration_table, compare, evaluate, format_report, lift_table, save_plots


def outcomes(n: int, positives: int) -> np.ndarray:
    return np.random.default_rng(0).permutation(np.r_[np.ones(positives), np.zeros(n - positives)])


def perfect_scores(y: np.ndarray) -> np.ndarray:
    return 0.5 * y + 0.4 * np.random.default_rng(1).uniform(size=len(y))


def good_model(n: int, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = 1 / (1 + np.exp(-(rng.normal(size=n) * 2 - 2)))
    return (rng.uniform(size=n) < p).astype(float), p


@pytest.mark.parametrize("positives", [40, 100, 300])
def test_perfect_ranking_has_auc_one_and_top_decile_captures_all_it_can(positives: int) -> None:
    y = outcomes(1000, positives)
    top = lift_table(y, perfect_scores(y))[0]
    assert evaluate(y, perfect_scores(y))["auc"] == 1.0
    assert top["converted"] == min(100, positives)
    assert top["cumulative_capture"] == pytest.approx(min(100, positives) / positives)


def test_random_scores_have_auc_near_half_and_no_lift() -> None:
    y = outcomes(20_000, 2_000)
    metrics = evaluate(y, np.random.default_rng(3).uniform(size=len(y)))
    assert abs(metrics["auc"] - 0.5) < 0.02
    assert abs(metrics["quartile_ratio"] - 1) < 0.2


def test_good_model_has_quartile_ratio_above_two() -> None:
    y, p = good_model(5_000)
    metrics = evaluate(y, p)
    assert metrics["quartile_ratio"] > 2
    assert metrics["top20_rate"] > metrics["base_rate"] > metrics["bottom20_rate"]


def test_empty_bottom_quartile_keeps_the_ratio_finite() -> None:
    y = outcomes(100, 10)
    metrics = evaluate(y, perfect_scores(y))
    assert metrics["bottom20_rate"] == 0
    assert metrics["quartile_ratio"] == pytest.approx((10 / 25) / (0.5 / 26))


def test_counts_and_base_rate_are_reported() -> None:
    y = outcomes(400, 60)
    metrics = evaluate(y, perfect_scores(y))
    assert (metrics["n"], metrics["positives"], metrics["base_rate"]) == (400, 60, 0.15)


def test_rule_points_are_evaluated_without_brier() -> None:
    y = outcomes(500, 50)
    metrics = evaluate(y, y * 30 - 20, probabilities=False)
    assert "brier" not in metrics
    assert all(math.isfinite(value) for value in metrics.values())


def test_probabilities_get_a_brier_score() -> None:
    y, p = good_model(2_000)
    assert 0 < evaluate(y, p)["brier"] < evaluate(y, np.full(len(y), 0.5))["brier"]


def test_points_passed_as_probabilities_are_rejected() -> None:
    y = outcomes(100, 10)
    with pytest.raises(ValueError, match="probabilities=False"):
        evaluate(y, y * 40)


def test_single_class_holdout_is_rejected() -> None:
    with pytest.raises(ValueError, match="both converted and unconverted"):
        evaluate(np.zeros(50), np.linspace(0, 1, 50))


def test_tied_scores_do_not_follow_row_order() -> None:
    y = np.r_[np.ones(30), np.zeros(70)]  # a holdout sorted by outcome
    flat = np.zeros(len(y))
    metrics = evaluate(y, flat, probabilities=False)
    assert metrics["auc"] == 0.5
    assert metrics["top20_rate"] == pytest.approx(0.3)
    assert metrics["bottom20_rate"] == pytest.approx(0.3)
    assert metrics["quartile_ratio"] == pytest.approx(1.0)
    assert [row["rate"] for row in lift_table(y, flat)] == pytest.approx([0.3] * 10)


def test_lift_rows_cover_every_lead_and_capture_ends_at_one() -> None:
    y, p = good_model(1_003)
    table = lift_table(y, np.round(p, 1))  # coarse scores: many ties
    assert [row["decile"] for row in table] == list(range(1, 11))
    assert sum(row["leads"] for row in table) == 1_003
    assert sum(row["converted"] for row in table) == pytest.approx(y.sum())
    assert table[-1]["cumulative_capture"] == 1.0
    assert table[0]["lift"] > 1 > table[-1]["lift"]


def test_calibrated_probabilities_stay_within_five_points_per_bin() -> None:
    rng = np.random.default_rng(4)
    p = rng.uniform(size=50_000)
    y = (rng.uniform(size=len(p)) < p).astype(float)
    table = calibration_table(y, p)
    assert [row["leads"] for row in table] == [5_000] * 10
    assert all(abs(row["predicted"] - row["observed"]) < 0.05 for row in table)
    assert [row["predicted"] for row in table] == sorted(row["predicted"] for row in table)


def test_compare_reports_the_model_gain_over_rules() -> None:
    y, p = good_model(3_000)
    result = compare(y, p, np.zeros(len(y)))
    assert result["rules"]["auc"] == 0.5
    assert "brier" in result["model"] and "brier" not in result["rules"]
    assert result["auc_gain"] == pytest.approx(result["model"]["auc"] - 0.5)


def test_report_shows_both_sides_and_aligned_deciles() -> None:
    y, p = good_model(3_000)
    report = format_report(compare(y, p, np.round(p * 20)), lift_table(y, p))
    lines = report.splitlines()
    assert lines[0].split() == ["model", "rules"]
    assert any(line.startswith("Top/bottom quartile") and "healthy above 2" in line for line in lines)
    assert any(line.startswith("Brier") and line.rstrip().endswith("-") for line in lines)
    lift_lines = lines[lines.index("Lift by decile") + 1 :]
    assert len(lift_lines) == 11
    assert len({len(line) for line in lift_lines}) == 1


def test_save_plots_writes_two_png_files(tmp_path: Path) -> None:
    y, p = good_model(2_000)
    paths = save_plots(tmp_path / "plots", y, p, np.round(p * 20))
    assert [path.name for path in paths] == ["lift.png", "calibration.png"]
    assert all(path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 1_000 for path in paths)
