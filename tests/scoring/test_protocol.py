"""The training protocol on exports as CRMs write them: no time column (a random, stratified holdout, and said
so), sorted by outcome (trains all the same), random labels (not promoted, with the reason), a column that gives
the outcome away (not promoted without --force), rows said to be in time order but sorted by outcome (one line)."""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import Result
from sqlalchemy import Engine
from sqlmodel import Session

from scoring import registry
from scoring.training import left_out_columns, train
from storage.db import set_meta
from storage.importers.crm import import_crm

ROWS = 900


def export(path: Path, *, sort_by_label: bool = False, random_labels: bool = False, leak: bool = False,
           open_leads: int = 0, seed: int = 4) -> Path:
    """A CRM export with no date: visits and an industry predict the outcome (unless the labels are random)."""
    pick = random.Random(seed)
    rows = []
    for index in range(ROWS):
        visits = pick.randrange(0, 20)
        industry = pick.choice(["Retail", "Fintech", "Health", "Media"])
        chance = 0.08 + 0.035 * visits + (0.15 if industry == "Fintech" else 0.0)
        won = pick.random() < (0.35 if random_labels else chance)
        row = {"Deal": f"D{index:05d}", "Number": 100_000 + index * 7, "Visits": visits, "Industry": industry,
               "Won": "yes" if won else "no",
               "Noise": round(pick.random(), 4)}
        if leak:
            row["Final Stage Code"] = 9 if won else 1  # only known once the deal is decided
        rows.append(row)
    if sort_by_label:
        rows.sort(key=lambda r: r["Won"])
    for row in rows[:open_leads]:
        row["Won"] = ""  # still open: to be scored
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def trained(run: Callable[..., Result], *args: str) -> dict:
    result = run("train", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_without_a_time_the_holdout_is_a_stratified_random_sample_and_says_so(
    engine: Engine, run: Callable[..., Result], tmp_path: Path,
) -> None:
    import_crm(engine, export(tmp_path / "deals.csv"), label="Won", id_column="Deal")
    report = trained(run)
    assert report["holdout"] == "random" and report["promoted"] is True and report["refused"] is None
    assert report["left_out"] == {"attr.Number": "an id: a different whole number on nearly every row"}
    assert report["metrics"]["holdout_leads"] == ROWS // 5 and report["deployed_on"] == ROWS
    assert 0.5 < report["baseline_auc"] < 1 and report["calibration_slope"] > 0 and 0 <= report["ece"] < 0.2
    assert report["rules_apply"] is False and report["seconds_per_10k_leads"] > 0  # a CRM export has no activity
    assert report["half_life"] is None  # no time, no newest decisions to weigh more
    assert registry.load_scorer(registry.active_version(engine)).half_lives == ()
    text = run("train").output
    assert "a random sample (no time to hold out the newest)" in text and "judged on the newest" not in text.lower()
    assert "Rules do not apply here" in text and "AUC gain over rules" not in text


def test_an_export_sorted_by_outcome_trains_all_the_same(
    engine: Engine, run: Callable[..., Result], tmp_path: Path,
) -> None:
    import_crm(engine, export(tmp_path / "deals.csv", sort_by_label=True), label="Won", id_column="Deal")
    report = trained(run)
    assert report["promoted"] is True and report["auc"] > 0.6  # the holdout holds both outcomes
    assert 0 < report["metrics"]["positives"] < report["metrics"]["n"]


def test_random_labels_are_not_promoted_and_train_says_why(
    engine: Engine, run: Callable[..., Result], tmp_path: Path,
) -> None:
    import_crm(engine, export(tmp_path / "deals.csv", random_labels=True), label="Won", id_column="Deal")
    report = trained(run)
    assert report["promoted"] is False and report["refused"].startswith("no signal")
    assert registry.active_version(engine) is None
    assert "not promoted: no signal" in run("train").output


def test_a_column_that_gives_the_outcome_away_is_left_out_and_a_model_too_good_needs_force(
    engine: Engine, run: Callable[..., Result], tmp_path: Path,
) -> None:
    import_crm(engine, export(tmp_path / "deals.csv", leak=True), label="Won", id_column="Deal")
    guarded = trained(run)
    assert guarded["left_out"]["attr.Final Stage Code"].startswith("a leak") and guarded["promoted"] is True
    assert "attr.Final Stage Code" not in registry.load_scorer(registry.active_version(engine)).feature_names_in_
    assert "Left out attr.Final Stage Code" in run("train").output
    insisted = trained(run, "--keep", "Final Stage Code")
    assert "attr.Final Stage Code" not in insisted["left_out"] and insisted["promoted"] is False
    assert insisted["refused"].startswith("too good to be true")
    assert trained(run, "--keep", "Final Stage Code", "--force")["promoted"] is True


def test_rows_said_to_be_in_time_order_but_sorted_by_outcome_are_one_clear_line(
    engine: Engine, run: Callable[..., Result], tmp_path: Path,
) -> None:
    import_crm(engine, export(tmp_path / "deals.csv", sort_by_label=True), label="Won", id_column="Deal")
    with Session(engine) as session:
        set_meta(session=session, key="decision_order", value="ordered")
        session.commit()
    result = run("train")
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "are the rows really in time order" in lines[0]


def test_on_a_small_pipeline_bands_follow_the_probability_not_shares_of_a_dozen_leads(
    engine: Engine, run: Callable[..., Result], tmp_path: Path,
) -> None:
    import_crm(engine, export(tmp_path / "deals.csv", open_leads=12), label="Won", id_column="Deal")
    report = trained(run)
    assert report["promoted"] is True and report["rescored"] == 12
    hot_at, warm_at = registry.load_scorer(registry.active_version(engine)).band_thresholds_
    with engine.connect() as conn:
        scored = conn.exec_driver_sql("SELECT probability, band FROM score").all()
    assert len(scored) == 12 and hot_at > warm_at
    assert all(band == ("hot" if p >= hot_at else "warm" if p >= warm_at else "cold") for p, band in scored)


def test_a_text_column_with_a_different_value_on_every_row_is_an_id_and_left_out() -> None:
    features = pd.DataFrame({"attr.Deal": pd.Categorical([f"D{i}" for i in range(100)]),
                             "attr.Channel": pd.Categorical(["web", "web", "event", "event"] * 25),
                             "attr.Visits": np.arange(100) % 7})
    labels = np.arange(100) % 2
    assert left_out_columns(features, labels) == {"attr.Deal": "an id: a different value on nearly every row"}
    assert left_out_columns(features, labels, keep=("Deal",)) == {}


def test_few_conversions_are_warned_about_once_per_training(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    import_crm(engine, export(tmp_path / "deals.csv"), label="Won", id_column="Deal")
    with caplog.at_level("WARNING"):
        train(engine)
    noisy = [r for r in caplog.records if "scores will be noisy" in r.getMessage()]
    assert len(noisy) == 1 and "only" in noisy[0].getMessage()  # not once per model fitted (candidate, deployed…)
