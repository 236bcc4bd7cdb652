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
