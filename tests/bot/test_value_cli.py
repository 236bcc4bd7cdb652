"""Expected value on the demo: `top --by value` ranks by probability × expected amount, `why` shows both parts,
and the target can be "won with at least an amount"."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner, Result
from scipy.stats import spearmanr
from sqlalchemy import Engine

from bot.cli import cli
from tests.conftest import run_sql


def hotlead(url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"HOTLEAD_DATABASE_URL": url, "HOTLEAD_NLP": "rules"})


def test_top_by_value_ranks_by_probability_times_expected_amount(demo_url: str, demo_engine: Engine) -> None:
    by_value = json.loads(hotlead(demo_url, "top", "--by", "value", "--limit", "40", "--json").output)
    by_probability = json.loads(hotlead(demo_url, "top", "--limit", "40", "--json").output)
    for row in by_value + by_probability:  # the usual keys, and the expected value
        assert row.keys() >= {"lead", "name", "probability", "band", "top_reason", "expected_value"}
    values = [row["expected_value"] for row in by_value]
    assert values == sorted(values, reverse=True) and len(values) == 40
    assert values[0] >= max(row["expected_value"] for row in by_probability)
    assert [r["lead"] for r in by_value] != [r["lead"] for r in by_probability]
    with demo_engine.connect() as conn:  # the demo's deals grow with the company: so do the expected amounts
        size = dict(run_sql(conn, "SELECT l.external_id, a.employees FROM lead l "
                                  "JOIN account a ON a.id = l.account_id").all())
    for row in by_value[:5]:  # each is its probability times the amount `why` expects
        shown = json.loads(hotlead(demo_url, "why", row["lead"], "--json").output)
        assert abs(row["expected_value"] - row["probability"] * shown["expected_amount"]) <= 0.01
    amounts = [r["expected_value"] / r["probability"] for r in by_value]
    assert spearmanr(amounts, [size[r["lead"]] for r in by_value]).statistic > 0.5


def test_why_shows_both_parts_of_the_expected_value(demo_url: str) -> None:
    lead = json.loads(hotlead(demo_url, "top", "--limit", "1", "--json").output)[0]
    shown = json.loads(hotlead(demo_url, "why", lead["lead"], "--json").output)
    assert abs(shown["expected_value"] - shown["probability"] * shown["expected_amount"]) <= 0.01
    text = hotlead(demo_url, "why", lead["lead"]).output
    assert f"Expected value {shown['expected_value']:,.0f}: a {shown['probability']:.0%} chance of a deal worth " \
           f"{shown['expected_amount']:,.0f} if won" in text


def test_training_reports_the_value_model_against_the_median(demo_url: str) -> None:
    report = json.loads(hotlead(demo_url, "train", "--json").output)
    value = report["value"]
    assert value["holdout"] == "newest 20% of won deals" and value["won_deals"] > 100
    assert value["mae"] < value["median_baseline_mae"]  # amounts follow company size: better than one number
    said = hotlead(demo_url, "train").output
    assert "Deal value, learnt from" in said and "for the median amount" in said


def test_without_a_value_model_top_says_how_to_get_one(demo_url: str) -> None:
    trained = hotlead(demo_url, "train", "--no-value", "--json")
    assert trained.exit_code == 0 and json.loads(trained.output)["value"] is None
    hotlead(demo_url, "model", "activate", json.loads(trained.output)["version"])
    rows = json.loads(hotlead(demo_url, "top", "--json").output)
    assert rows and all("expected_value" not in row for row in rows)
    refused = hotlead(demo_url, "top", "--by", "value")
    assert refused.exit_code != 0 and "no deal-value model yet" in refused.output and "Traceback" not in refused.output


def test_the_target_can_be_a_won_deal_of_at_least_an_amount(demo_url: str, demo_engine: Engine) -> None:
    report = json.loads(hotlead(demo_url, "train", "--target-min-amount", "10000", "--json").output)
    assert report["target"] == "won with an amount of at least 10000"
    with demo_engine.connect() as conn:
        big = run_sql(conn, "SELECT count(*) FROM outcome WHERE converted = 1 AND amount >= 10000").scalar_one()
        won = run_sql(conn, "SELECT count(*) FROM outcome WHERE converted = 1").scalar_one()
    assert 0 < big < won
    assert report["metrics"]["holdout_leads"] + report["metrics"]["train_leads"] > big


def test_chat_ranks_by_expected_value_and_why_says_both_parts(demo_url: str, demo_engine: Engine) -> None:
    from bot.router import Deps, IncomingMessage, dispatch

    deps = Deps(demo_engine)

    def ask(question: str) -> Any:
        return dispatch(IncomingMessage(question, "console", "admin", None), deps)

    cli_rows = json.loads(hotlead(demo_url, "top", "--by", "value", "--limit", "5", "--json").output)
    for question in ("top 5 leads by value", "most valuable 5 leads", "show me 5 leads by expected value"):
        answer = ask(question)
        assert [row["lead"] for row in answer.data["leads"]] == [row["lead"] for row in cli_rows], question
        assert "expected value" in answer.plain()
    first = ask("top 5 leads by value").data["leads"][0]
    assert abs(first["expected_value"] - first["probability"] * first["expected_amount"]) <= 0.01
    why = ask(f"why is {first['lead']} hot?")
    assert why.data["expected_value"] == first["expected_value"]
    assert f"Expected value *{first['expected_value']:,.0f}*: a {first['probability']:.0%} chance" in why.plain()
