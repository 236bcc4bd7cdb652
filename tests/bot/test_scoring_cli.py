import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine

from bot.cli import cli
from tests.conftest import run_sql

TOP_KEYS = {"lead", "name", "account", "probability", "percentile", "band", "movement", "top_reason"}
WHY_KEYS = {"lead", "probability", "percentile", "band", "base_value", "margin", "contributions", "reasons"}
TRAIN_KEYS = {"version", "auc", "pr_auc", "brier", "rules_auc", "quartile_ratio", "promoted", "holdout_ids",
              "holdout", "ece", "calibration_slope", "baseline_auc", "seconds", "deployed_on", "refused", "rescored",
              "contestants", "winner"}


@dataclass
class Demo:
    """A demo database that was trained and scored once through the CLI."""

    url: str
    trained: dict[str, Any]

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env={"HOTLEAD_DATABASE_URL": self.url})

    def json(self, *args: str) -> Any:
        result = self.run(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.output)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'hotlead.db'}"
    built = Demo(url, {})
    assert built.run("demo", "--leads", "1500", "--seed", "5", "--no-train").exit_code == 0
    built.trained = built.json("train")
    built.json("score")
    return built


def fails_cleanly(result: Result, message: str) -> None:
    """A non-zero exit with one clear message and no traceback."""
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert message in result.output and "Traceback" not in result.output


def test_train_json_reports_the_metrics_and_the_holdout(demo: Demo) -> None:
    report = demo.trained
    assert set(report) >= TRAIN_KEYS
    assert report["promoted"] is True
    assert 0.5 < report["auc"] <= 1 and 0.5 < report["rules_auc"] <= 1
    with create_engine(demo.url).connect() as conn:
        decided = set(run_sql(conn,
            "SELECT l.external_id FROM outcome o JOIN lead l ON l.id = o.lead_id").scalars())
    assert len(report["holdout_ids"]) == report["metrics"]["holdout_leads"] > 0
    assert set(report["holdout_ids"]) <= decided
    assert report["holdout"] == "time" and report["deployed_on"] == len(decided)  # the demo's decisions are dated
    assert set(report["contestants"]) >= {"xgboost", "logistic"} and report["winner"] in report["contestants"]
    assert report["rules_apply"] is True and report["seconds_per_10k_leads"] > 0  # the demo has activity
    with create_engine(demo.url).connect() as conn:  # promoted, so the open leads were scored by it at once
        scored = run_sql(conn, "SELECT count(DISTINCT lead_id) FROM score").scalar_one()
    assert report["rescored"] > 0 and scored >= report["rescored"]


def test_why_json_breaks_the_margin_into_base_value_and_reasons(demo: Demo) -> None:
    lead = demo.json("top", "--limit", "1")[0]["lead"]
    why = demo.json("why", lead)
    assert set(why) >= WHY_KEYS and why["lead"] == lead
    assert len(why["reasons"]) >= 3
    assert abs(why["base_value"] + sum(r["contribution"] for r in why["reasons"]) - why["margin"]) < 1e-4
    assert abs(why["base_value"] + sum(why["contributions"].values()) - why["margin"]) < 1e-4
    # in the probability's own log-odds: the reasons add up to the score shown
    assert abs(1 / (1 + math.exp(-why["margin"])) - why["probability"]) < 1e-6


def test_train_json_reports_the_band_shares_and_refuses_ones_over_a_whole(demo: Demo) -> None:
    assert (demo.trained["hot_share"], demo.trained["warm_share"]) == (0.1, 0.3)
    fails_cleanly(demo.run("train", "--hot-share", "0.7", "--warm-share", "0.5"), "add up to at most 1")


def test_why_takes_a_name_as_a_rep_would_type_it_and_lists_the_ids_when_several_fit(demo: Demo) -> None:
    with create_engine(demo.url).connect() as conn:
        unique, lead = run_sql(conn, "SELECT name, min(external_id) FROM lead GROUP BY name HAVING count(*) = 1 "
                                            "ORDER BY name LIMIT 1").one()
        shared = run_sql(conn, "SELECT name FROM lead GROUP BY name HAVING count(*) BETWEEN 2 AND 5 "
                                     "LIMIT 1").scalar_one()  # all of them listed
        ids = run_sql(conn, "SELECT external_id FROM lead WHERE name = ?", (shared,)).scalars().all()
    assert demo.json("why", unique.lower())["lead"] == lead
    result = demo.run("why", shared)
    fails_cleanly(result, "more than one lead fits")
    assert all(external_id in result.output for external_id in ids)


def test_why_a_lead_that_does_not_exist_fails_cleanly(demo: Demo) -> None:
    fails_cleanly(demo.run("why", "NOPE-1"), "no lead")


def test_top_json_lists_leads_best_first(demo: Demo) -> None:
    rows = demo.json("top", "--limit", "25")
    assert len(rows) == 25 and set(rows[0]) == TOP_KEYS | {"expected_value"}  # the demo's model knows deal values
    probabilities = [row["probability"] for row in rows]
    assert probabilities == sorted(probabilities, reverse=True)


def test_top_band_hot_lists_only_hot_leads(demo: Demo) -> None:
    rows = demo.json("top", "--band", "hot", "--limit", "1000")
    assert rows and {row["band"] for row in rows} == {"hot"}


def test_top_accounts_ranks_accounts_by_intent(demo: Demo) -> None:
    rows = demo.json("top", "--accounts", "--limit", "20")
    intents = [row["intent"] for row in rows]
    assert len(rows) == 20 and len({row["account"] for row in rows}) == 20
    assert intents == sorted(intents, reverse=True)


def test_model_list_json_lists_the_trained_version(demo: Demo) -> None:
    versions = demo.json("model", "list")
    assert [(v["version"], v["status"]) for v in versions] == [(demo.trained["version"], "active")]
    assert versions[0]["auc"] == demo.trained["auc"]


def test_model_activate_an_unknown_version_names_the_known_ones(demo: Demo) -> None:
    fails_cleanly(demo.run("model", "activate", "v99"), demo.trained["version"])


def test_why_versus_another_lead_gives_reasons(demo: Demo) -> None:
    best, *_, worse = demo.json("top", "--limit", "50")
    pair = demo.json("why", best["lead"], "--vs", worse["lead"])
    assert pair["reasons"] and all(reason["contribution"] > 0 for reason in pair["reasons"])
    assert pair["a"]["lead"] == best["lead"] and pair["b"]["lead"] == worse["lead"]


@pytest.mark.parametrize("command", [["score"], ["why", "L1"]], ids=["score", "why"])
def test_before_any_training_scoring_commands_say_to_run_train(
    run: Callable[..., Result], write: Callable[[str, str], Path], command: list[str]
) -> None:
    run("init")
    run("import", "leads", str(write("leads.csv", "external_id,name,created_at\nL1,Jane Doe,2026-09-01\n")))
    fails_cleanly(run(*command), "hotlead train")


def test_top_shows_each_leads_id_and_refuses_a_limit_below_one(demo: Demo) -> None:
    rows = demo.json("top", "--limit", "3")
    lines = demo.run("top", "--limit", "3").output.splitlines()
    assert len(lines) == 3 and all(row["lead"] in line for row, line in zip(rows, lines, strict=True))
    for limit in ("0", "-3"):
        refused = demo.run("top", "--limit", limit)
        assert refused.exit_code == 2 and "is not in the range 1<=x<=100000" in refused.output
