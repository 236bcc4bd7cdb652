"""`hotlead bench quality` finds the public data sets where it is told, and says so when they are absent."""

from __future__ import annotations

import json
import random
from pathlib import Path

from click.testing import CliRunner

from bot.bench.quality import run
from bot.cli import cli


def test_missing_data_sets_are_reported_with_where_to_point_the_bench(tmp_path: Path) -> None:
    result = run(home=tmp_path)
    assert set(result) == {"bank_marketing", "online_shoppers"}
    assert all("pass --data DIR" in found["skipped"] for found in result.values())


def test_a_data_set_in_the_given_folder_is_imported_and_cross_validated(tmp_path: Path) -> None:
    folder = tmp_path / "online_shoppers"
    folder.mkdir()
    pick = random.Random(3)
    rows = ["PageValues,Month,Revenue"]
    for _ in range(600):
        value = pick.expovariate(0.1)
        bought = pick.random() < (0.8 if value > 12 else 0.1)
        rows.append(f"{value:.2f},{pick.choice(['Feb', 'Mar', 'Nov'])},{'TRUE' if bought else 'FALSE'}")
    (folder / "online_shoppers_intention.csv").write_text("\n".join(rows) + "\n")
    done = CliRunner().invoke(cli, ["bench", "quality", "--folds", "2", "--data", str(tmp_path), "--json"])
    assert done.exit_code == 0, done.output
    found = json.loads(done.output)
    shoppers = found["online_shoppers"]
    assert shoppers["rows"] == 600 and len(shoppers["shuffled"]["folds"]) == 2
    assert shoppers["shuffled"]["auc"] > 0.75 and shoppers["forward"]["auc"] > 0.75  # PageValues carries the label
    assert shoppers["forward"]["holdout_rows"] == 120 and 0.5 < shoppers["forward"]["baseline_auc"] <= 1
    assert shoppers["forward"]["train_seconds"] > 0 and shoppers["forward"]["xgboost_train_seconds"] > 0
    as_used = shoppers["as_used"]  # the newest 120 rows imported as open leads, trained, scored
    assert as_used["open_leads"] == 120 and as_used["promoted"] and as_used["refused"] is None
    assert as_used["auc"] > 0.75 and as_used["winner"] in ("xgboost", "logistic", "stacked", "blend")
    assert "skipped" in found["bank_marketing"]


def test_any_export_runs_the_three_protocols_with_its_own_label(tmp_path: Path) -> None:
    pick = random.Random(4)
    rows = ["Deal,Visits,Channel,Stage,Duration"]
    for index in range(500):
        visits = pick.randrange(0, 20)
        won = pick.random() < 0.05 + 0.04 * visits
        rows.append(f"D{index},{visits},{pick.choice(['web', 'event'])},{'Closed Won' if won else 'Closed Lost'},"
                    f"{pick.random():.3f}")
    deals = tmp_path / "deals.csv"
    deals.write_text("\n".join(rows) + "\n")
    done = CliRunner().invoke(cli, ["bench", "quality", "--folds", "2", "--export", str(deals), "--label", "Stage",
                                    "--drop", "Duration", "--json"])
    assert done.exit_code == 0, done.output
    found = json.loads(done.output)
    assert list(found) == ["deals"] and found["deals"]["rows"] == 500 and found["deals"]["as_used"]["open_leads"] == 100
    assert found["deals"]["forward"]["auc"] > 0.7 and found["deals"]["features"] == 2  # Visits, Channel: no Duration
    refused = CliRunner().invoke(cli, ["bench", "quality", "--export", str(deals)])
    assert refused.exit_code == 2 and "--export needs --label COLUMN" in refused.output
