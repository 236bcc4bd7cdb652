"""A fresh demo comes with 8 weeks of score history, so every surface has movement to show on the first run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine

from bot.cli import cli
from tests.conftest import run_sql


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
        days = [row[0] for row in run_sql(conn,
            "SELECT DISTINCT date(scored_at) FROM score ORDER BY 1")]
        decided_later = run_sql(conn,
            "SELECT count(DISTINCT s.lead_id) FROM score s JOIN outcome o ON o.lead_id = s.lead_id "
            "WHERE s.scored_at < o.closed_at").scalar_one()
        after = run_sql(conn,
            "SELECT count(*) FROM score s JOIN outcome o ON o.lead_id = s.lead_id WHERE s.scored_at > o.closed_at"
        ).scalar_one()
    assert len(days) == 9  # eight weeks back, then today
    assert decided_later > 0 and after == 0  # a lead is scored only while it is open


@pytest.mark.parametrize(("question", "sections"), [
    ("what changed this week?", ("Rose most", "Fell most")),
    ("What's new lately?", ("Rose most", "Fell most")),
    ("which leads went cold this week?", ("Fell most",)),
    ("any new hot leads?", ("New hot leads",)),
])
def test_the_weeks_movers_are_understood_without_a_name(url: str, question: str, sections: tuple[str, ...]) -> None:
    answer = json.loads(run(url, "ask", "--json", question).output)
    digest = json.loads(run(url, "digest", "--now", "--dry-run", "--json").output)
    for title in ("Rose most", "Fell most", "New hot leads"):
        assert (title in answer["text"]) == (title in sections)
    if "Rose most" in sections:
        assert answer["risers"][:3] == [r["lead"] for r in digest["risers"]][:3]
        assert digest["risers"][0]["lead"] in answer["text"]


def test_not_hot_is_not_part_of_the_name_and_picks_the_one_that_is_not(url: str) -> None:
    with create_engine(url).connect() as conn:
        joined = ("group_concat(l.external_id || ':' || s.band)" if conn.dialect.name == "sqlite"
                  else "string_agg(l.external_id || ':' || s.band, ',')")
        pairs = run_sql(conn,
            f"SELECT min(l.name), {joined} FROM lead l JOIN score s ON s.lead_id = l.id "
            "WHERE s.id IN (SELECT max(id) FROM score GROUP BY lead_id) GROUP BY lower(l.name) HAVING count(*) = 2"
        ).all()
    name, leads = next((n, dict(x.split(":") for x in both.split(","))) for n, both in pairs
                       if sorted(b.split(":")[1] == "hot" for b in both.split(",")) == [False, True])
    not_hot = next(lead for lead, band in leads.items() if band != "hot")
    hot = next(lead for lead, band in leads.items() if band == "hot")
    assert json.loads(run(url, "ask", "--json", f"why is {name} not hot?").output)["lead"] == not_hot
    assert json.loads(run(url, "ask", "--json", f"why isn't {name.lower()} hot?").output)["lead"] == not_hot
    assert json.loads(run(url, "ask", "--json", f"why is {name} hot?").output)["lead"] == hot
