"""`hotlead segments` on the demo: the contract's keys, every decided lead in one segment, the open leads placed."""

from __future__ import annotations

import json
from collections.abc import Callable

from click.testing import CliRunner, Result
from sqlalchemy import Engine

from bot.cli import cli
from tests.conftest import run_sql

KEYS = {"segment", "size", "conversion_rate", "base_rate", "ci_low", "ci_high", "description"}


def test_segments_cover_the_decided_leads_and_place_the_open_ones(demo_url: str, demo_engine: Engine) -> None:
    result = CliRunner().invoke(cli, ["segments", "--json", "--leads", "3"], env={"HOTLEAD_DATABASE_URL": demo_url})
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    with demo_engine.connect() as conn:
        decided = run_sql(conn, "SELECT count(*), sum(converted) FROM outcome").one()
        open_leads = run_sql(conn, "SELECT count(*) FROM lead l LEFT JOIN outcome o ON o.lead_id = l.id "
                                   "WHERE o.id IS NULL AND l.status NOT IN ('won', 'lost')").scalar_one()
    assert len(found) >= 2 and all(segment.keys() >= KEYS for segment in found)
    assert sum(s["size"] for s in found) == decided[0] and sum(s["converted"] for s in found) == decided[1]
    assert all(s["base_rate"] == round(decided[1] / decided[0], 6) for s in found)
    assert all(s["ci_low"] <= s["conversion_rate"] <= s["ci_high"] and s["description"] for s in found)
    assert sum(s["open_leads"] for s in found) == open_leads
    assert all(len(s["leads"]) == min(3, s["open_leads"]) for s in found)
    text = CliRunner().invoke(cli, ["segments"], env={"HOTLEAD_DATABASE_URL": demo_url}).output
    assert f"Segment {found[0]['segment']}: {found[0]['size']:,} decided leads" in text
    assert found[0]["description"] in text


def test_without_a_model_there_are_no_segments_yet(run: Callable[..., Result]) -> None:
    assert run("init").exit_code == 0
    result = run("segments")
    assert result.exit_code != 0 and "no segments yet" in result.output and "Traceback" not in result.output
