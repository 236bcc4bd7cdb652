import pandas as pd
import pytest

from scoring.rules import RULES, rule_points


def points(columns: dict[str, list[float | None]]) -> list[float]:
    return list(rule_points(pd.DataFrame(columns)))


def test_more_pricing_visits_earn_more_points() -> None:
    assert points({"beh.page_pricing_90d": [0.0, 1.0, 3.0]}) == [0, 10, 30]


def test_pricing_visits_stop_counting_at_five() -> None:
    assert points({"beh.page_pricing_90d": [5.0, 40.0]}) == [50, 50]


def test_a_bounce_costs_points() -> None:
    scored = points({"beh.email_open_90d": [2.0, 2.0], "beh.email_bounce_90d": [0.0, 1.0]})
    assert scored[1] == scored[0] - 10


def test_unsubscribing_costs_twenty_points_once() -> None:
    assert points({"beh.unsubscribe_90d": [1.0, 3.0]}) == [-20, -20]


@pytest.mark.parametrize(("seniority", "expected"), [("c_level", 15), ("vp", 10), ("director", 5), ("manager", 0)])
def test_seniority_adds_points_by_level(seniority: str, expected: float) -> None:
    frame = pd.DataFrame({"firm.seniority": pd.Categorical([seniority, "individual"])})
    assert list(rule_points(frame)) == [expected, 0]


def test_inactivity_costs_a_point_per_ten_days() -> None:
    assert points({"time.days_since_activity": [0.0, 9.0, 25.0, 90.0]}) == [0, 0, -2, -9]


def test_engagement_points_add_up() -> None:
    kinds = ["page_demo", "email_click", "email_reply", "form_submit", "meeting"]
    assert points({f"beh.{kind}_90d": [1.0] for kind in kinds}) == [8 + 5 + 10 + 15 + 10]


def test_missing_columns_and_values_count_zero() -> None:
    assert points({"beh.webinar_90d": [1.0, None]}) == [10, 0]


def test_crm_only_frame_scores_zero_everywhere() -> None:
    crm = pd.DataFrame(
        {"attr.company size": [120.0, 15.0, 800.0], "attr.region": pd.Categorical(["emea", "amer", "emea"])}
    )
    assert list(rule_points(crm)) == [0, 0, 0]


def test_every_rule_reads_a_contract_column() -> None:
    assert all(rule.column.split(".")[0] in {"beh", "firm", "time"} for rule in RULES)
    assert all(rule.column.endswith("_90d") for rule in RULES if rule.column.startswith("beh."))
