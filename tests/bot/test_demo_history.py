"""A fresh demo comes with 8 weeks of score history, so every surface has movement to show on the first run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine

from bot.cli import cli


def run(url: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), env={"HOTLEAD_DATABASE_URL": url, "HOTLEAD_NLP": "rules"})
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    built = f"sqlite:///{tmp_path_factory.mktemp('history') / 'hotlead.db'}"
    run(built, "demo", "--leads", "1500", "--seed", "5")
    return built


def test_the_digest_of_a_fresh_demo_lists_risers_and_fallers_with_reasons_and_charts_them(
    url: str, tmp_path: Path,
) -> None:
    chart = tmp_path / "movers.png"
    digest = json.loads(run(url, "digest", "--now", "--dry-run", "--chart", str(chart), "--json").output)
    assert digest["risers"] and digest["fallers"]
    assert all(r["reason"] for r in digest["risers"] + digest["fallers"])
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 5000


def test_what_changed_this_week_answers_with_a_movement(url: str) -> None:
    riser = json.loads(run(url, "digest", "--now", "--dry-run", "--json").output)["risers"][0]
    answer = run(url, "ask", f"what changed for {riser['lead']} this week?").output
    assert "no change" not in answer.lower() and "pts" in answer


def test_the_history_is_dated_a_week_apart_and_leads_decided_since_were_scored_while_open(url: str) -> None:
    with create_engine(url).connect() as conn:
        days = [row[0] for row in conn.exec_driver_sql(
            "SELECT DISTINCT date(scored_at) FROM score ORDER BY 1")]
        decided_later = conn.exec_driver_sql(
            "SELECT count(DISTINCT s.lead_id) FROM score s JOIN outcome o ON o.lead_id = s.lead_id "
            "WHERE s.scored_at < o.closed_at").scalar_one()
        after = conn.exec_driver_sql(
            "SELECT count(*) FROM score s JOIN outcome o ON o.lead_id = s.lead_id WHERE s.scored_at > o.closed_at"
        ).scalar_one()
    assert len(days) == 9  # eight weeks back, then today
    assert decided_later > 0 and after == 0  # a lead is scored only while it is open
