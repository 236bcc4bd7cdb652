"""`hotlead experiment` on the demo's simulated outcomes, and alerts that leave the control arm's new leads alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner, Result
from sqlalchemy import Engine

from bot.cli import cli
from bot.config import Settings
from bot.push.hot import alert_moves
from scoring.experiment import CONTROL, MODEL, arm_of
from scoring.incremental import Moved
from storage.history import stamp
from tests.conftest import run_sql


def experiment(url: str, *args: str, share: str = "0.2") -> Result:
    return CliRunner().invoke(cli, ["experiment", *args],
                              env={"HOTLEAD_DATABASE_URL": url, "HOTLEAD_HOLDOUT_SHARE": share})


def test_the_demo_reports_both_arms_their_rates_and_a_p_value(demo_url: str, demo_engine: Engine) -> None:
    result = experiment(demo_url, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    with demo_engine.connect() as conn:
        ids = [row[0] for row in run_sql(conn, "SELECT external_id FROM lead")]
        won = {row[0] for row in run_sql(conn, "SELECT l.external_id FROM lead l JOIN outcome o ON o.lead_id = l.id "
                                               "WHERE o.converted = 1")}
    arms = {arm["arm"]: arm for arm in report["arms"]}
    assert set(arms) == {MODEL, CONTROL} and report["since"] is None  # no start recorded: every lead
    for name, arm in arms.items():  # each lead where its id puts it, every lead counted, open ones included
        members = [lead for lead in ids if arm_of(lead, 0.2) == name]
        assert arm["leads"] == len(members) and arm["converted"] == len(won.intersection(members))
        assert arm["rate"] == round(arm["converted"] / arm["leads"], 6) and arm["ci_low"] < arm["rate"] < arm["ci_high"]
        assert arm["first_contact_hours_median"] is not None  # the demo's reps write first, within two days
    assert 250 < arms[CONTROL]["leads"] < 550  # a fifth of 2,000, give or take
    assert 0.0 <= report["p_value"] <= 1.0
    assert report["verdict"].split(":")[0] in ("no significant difference yet", "the model's arm converts better",
                                              "the control arm converts better")


def test_too_little_data_is_said_instead_of_a_verdict(demo_url: str) -> None:
    result = experiment(demo_url, "--since", "2099-01-01", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [arm["leads"] for arm in report["arms"]] == [0, 0] and report["p_value"] is None
    assert report["verdict"].startswith("not enough data yet")
    said = experiment(demo_url, "--since", "2099-01-01")
    assert "not enough data yet" in said.output and "Holdout share 20%, leads created since 2099-01-01" in said.output


def test_without_a_share_there_is_no_experiment_and_a_bad_share_is_refused(demo_url: str) -> None:
    off = json.loads(experiment(demo_url, "--json", share="0").output)
    assert off["verdict"].startswith("no experiment") and off["arms"][1]["leads"] == 0
    bad = experiment(demo_url, share="20%")
    assert bad.exit_code != 0 and "HOTLEAD_HOLDOUT_SHARE must be a share from 0 (off) to 0.5" in bad.output
    assert "Traceback" not in bad.output


def moved(lead_id: int) -> Moved:
    return Moved(lead_id, (0.2, 85.0, "warm"), 0.6, 93.0, "hot", [{"text": "Visited pricing 3×", "contribution": 0.8}])


def test_new_leads_of_the_control_arm_get_no_alert_and_older_ones_still_do(demo_engine: Engine) -> None:
    settings = Settings(hotlead_alert_channel="C0ALERTS", hotlead_holdout_share=0.2)
    start = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    with demo_engine.connect() as conn:
        rows = run_sql(conn, "SELECT id, external_id FROM lead WHERE owner_id IS NOT NULL ORDER BY id").all()
    control = [lead_id for lead_id, external_id in rows if arm_of(external_id, 0.2) == CONTROL]
    model = [lead_id for lead_id, external_id in rows if arm_of(external_id, 0.2) == MODEL]
    old_control, new_control, new_model = control[0], control[1], model[0]
    assert alert_moves(demo_engine, settings, [moved(old_control)], start)  # made before the start: alerted
    with demo_engine.begin() as conn:  # two leads arrive after the experiment started
        for lead_id in (new_control, new_model):
            run_sql(conn, "UPDATE lead SET created_at = ? WHERE id = ?", (stamp(start + timedelta(hours=1)), lead_id))
    later = start + timedelta(hours=2)
    assert alert_moves(demo_engine, settings, [moved(new_control)], later) == []
    assert len(alert_moves(demo_engine, settings, [moved(new_model)], later)) == 2  # the channel and the owner
    with demo_engine.connect() as conn:
        started = run_sql(conn, "SELECT value FROM meta WHERE key = 'experiment_started'").scalar_one()
        alerted = {row[0] for row in run_sql(conn, "SELECT DISTINCT lead_id FROM alert")}
    assert started == stamp(start) and alerted == {old_control, new_model}
    without = Settings(hotlead_alert_channel="C0ALERTS")  # no experiment: the same lead is alerted
    assert alert_moves(demo_engine, without, [moved(new_control)], later)
