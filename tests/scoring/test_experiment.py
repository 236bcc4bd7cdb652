"""The controlled experiment's statistics, held to outside references: SciPy's Wilson interval, R's documented
Fisher's exact test example, and the textbook sample size for two proportions."""

from __future__ import annotations

import math

import pytest
from scipy.stats import binomtest

from scoring.experiment import (
    CONTROL,
    MODEL,
    ExperimentLead,
    arm_of,
    needed_per_arm,
    report,
    wilson,
)

IDS = [f"L{n:06d}" for n in range(20_000)]


def test_the_arm_is_a_stable_share_of_leads() -> None:
    arms = [arm_of(lead, 0.2) for lead in IDS]
    control = arms.count(CONTROL) / len(IDS)
    assert abs(control - 0.2) < 4 * math.sqrt(0.2 * 0.8 / len(IDS))  # a fair coin of 20%, within 4 sigma
    assert arms == [arm_of(lead, 0.2) for lead in IDS]  # the same every time: nothing stored, every process agrees
    assert all(arm_of(lead, 0.0) == MODEL for lead in IDS[:1000])
    wider = [arm_of(lead, 0.3) for lead in IDS]  # raising the share only moves leads into the control arm
    assert all(after == CONTROL for before, after in zip(arms, wider, strict=True) if before == CONTROL)


@pytest.mark.parametrize(("successes", "trials"), [(0, 10), (1, 10), (5, 10), (10, 10), (83, 100), (401, 4071)])
def test_the_interval_is_scipys_wilson_interval(successes: int, trials: int) -> None:
    expected = binomtest(successes, trials).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson(successes, trials)
    assert low == pytest.approx(expected.low, abs=1e-12) and high == pytest.approx(expected.high, abs=1e-12)


def leads(arm: str, converted: int, not_converted: int, still_open: int = 0) -> list[ExperimentLead]:
    return ([ExperimentLead(arm, True, 5.0)] * converted + [ExperimentLead(arm, False, None)] * not_converted
            + [ExperimentLead(arm, None, 30.0)] * still_open)


def test_the_p_value_is_fishers_exact_test_as_r_documents_it() -> None:
    """R's ?fisher.test, "Tea tasting": matrix(c(3, 1, 1, 3)), two-sided p-value = 0.4857."""
    result = report(leads(MODEL, 3, 1) + leads(CONTROL, 1, 3), share=0.5)
    assert result["p_value"] == pytest.approx(0.4857, abs=5e-5)
    assert result["verdict"].startswith("not enough data yet")  # 4 leads an arm decide nothing


def test_the_sample_size_is_the_textbooks() -> None:
    """10% against 15%, two-sided 5%, power 80%: 686 per group (Fleiss, without continuity correction)."""
    assert needed_per_arm(0.10, 0.15) == 686
    assert needed_per_arm(0.10, 0.10) is None


def test_a_clear_difference_is_called_and_a_small_one_is_not() -> None:
    clear = report(leads(MODEL, 120, 380) + leads(CONTROL, 60, 440), share=0.5)
    assert clear["p_value"] < 0.001 and clear["verdict"].startswith("the model's arm converts better")
    small = report(leads(MODEL, 52, 448) + leads(CONTROL, 50, 450), share=0.5)
    assert small["p_value"] > 0.5 and small["verdict"].startswith("no significant difference yet")
    assert "leads per arm" in small["verdict"]


def test_each_arm_counts_every_lead_assigned_to_it_open_ones_included() -> None:
    result = report(leads(MODEL, 40, 100, still_open=60) + leads(CONTROL, 10, 30, still_open=10), share=0.2)
    model, control = result["arms"]
    assert (model["arm"], model["leads"], model["decided"], model["converted"]) == (MODEL, 200, 140, 40)
    assert model["rate"] == pytest.approx(0.2) and model["ci_low"] < 0.2 < model["ci_high"]
    assert model["contacted"] == 100 and model["first_contact_hours_median"] == 30.0  # 40 at 5 h, 60 at 30 h
    assert (control["leads"], control["converted"]) == (50, 10)


def test_no_share_means_no_experiment() -> None:
    assert report(leads(MODEL, 50, 50), share=0.0)["verdict"].startswith("no experiment")
