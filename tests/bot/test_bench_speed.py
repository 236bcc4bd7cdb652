"""`hotlead bench speed --db URL`: the same figures on either engine, with the engine named."""

from __future__ import annotations

import json
from collections.abc import Callable

from click.testing import Result

KEYS = {"engine", "leads", "active_leads", "import_rows_per_s", "rescore_leads_per_s", "explain_leads_per_s",
        "why_p50_ms", "why_p99_ms", "train_s", "train_auc", "nlp", "nlp_messages", "nlp_s"}


def test_bench_speed_builds_the_demo_in_the_given_database_and_names_its_engine(
    run: Callable[..., Result], db_url: str, engine_name: str,
) -> None:
    result = run("bench", "speed", "--leads", "1000", "--db", db_url, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report.keys() >= KEYS and report["engine"] == engine_name
    assert report["leads"] == 1000 and report["import_rows"] > 1000 and 0.5 < report["train_auc"] <= 1.0
    assert report["why_p50_ms"] <= report["why_p99_ms"]
    assert report["nlp_messages"] > 100 and report["nlp"]  # conversations read, as `hotlead demo` reads them
    again = run("bench", "speed", "--leads", "1000", "--db", db_url, "--json")  # its own tables replaced
    assert again.exit_code == 0 and json.loads(again.output)["leads"] == 1000, again.output


def test_bench_speed_never_replaces_a_database_holding_other_data(run: Callable[..., Result], db_url: str) -> None:
    assert run("init").exit_code == 0  # a team's database: Hotlead's tables, not made by a demo or a bench
    result = run("bench", "speed", "--leads", "1000", "--db", db_url, "--json")
    assert result.exit_code != 0 and "not a demo or a bench's" in result.output
    assert "Traceback" not in result.output
