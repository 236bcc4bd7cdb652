import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from click.testing import Result
from sqlalchemy import create_engine, inspect

from bot.cli import COMMAND_MODULES, cli
from tests.conftest import run_sql

COMMANDS = {"init", "import", "demo", "bench"}


def test_help_lists_the_commands(run: Callable[..., Result]) -> None:
    result = run("--help")
    assert result.exit_code == 0, result.output
    assert set(cli.commands) >= COMMANDS
    for name in COMMANDS:
        assert f"  {name} " in result.output


def test_every_command_is_found_where_the_lazy_loader_looks_for_it(run: Callable[..., Result]) -> None:
    """`hotlead X` imports only X's module: a command missing from COMMAND_MODULES would be unknown to it."""
    assert run("--help").exit_code == 0  # loads every module
    found = {name: command.callback.__module__ for name, command in cli.commands.items()}
    assert found == {name: f"bot.cli.{module}" for name, module in COMMAND_MODULES.items()}


def test_init_creates_the_schema_and_can_run_again(run: Callable[..., Result]) -> None:
    first, second = run("init"), run("init")
    assert first.exit_code == 0 and "Created the Hotlead schema" in first.output
    assert second.exit_code == 0 and "Checked the Hotlead schema" in second.output


def test_import_reports_inserted_updated_unchanged(
    run: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    file = write("leads.csv", "external_id,name,created_at\nL1,Jane Doe,2026-09-01\nL2,John Roe,2026-09-02\n")
    assert "2 inserted, 0 updated, 0 unchanged" in run("import", "leads", str(file)).output
    assert "0 inserted, 0 updated, 2 unchanged" in run("import", "leads", str(file)).output


def test_a_bad_file_exits_non_zero_listing_rows_and_leaves_the_database_as_it_was(
    run: Callable[..., Result], write: Callable[[str, str], Path], db_url: str
) -> None:
    run("import", "leads", str(write("leads.csv", "external_id,name,created_at\nL1,Jane,2026-09-01\n")))
    lines = ["lead,kind,occurred_at"] + [f"L1,page_view,2026-10-{n:02d}T10:00:00Z" for n in range(1, 13)]
    lines[7] = "L1,page_view,2026-13-07"
    lines[12] = "L999,page_view,2026-10-12T10:00:00Z"
    bad = write("activities.csv", "\n".join(lines) + "\n")
    result = run("import", "activities", str(bad))
    assert result.exit_code != 0
    assert f"{bad}:7: column occurred_at: not a date" in result.output
    assert f"{bad}:12: column lead: unknown lead 'L999'" in result.output
    assert "Traceback" not in result.output
    with create_engine(db_url).connect() as conn:
        assert run_sql(conn, "SELECT count(*) FROM activity").scalar_one() == 0
        assert run_sql(conn, "SELECT count(*) FROM lead").scalar_one() == 1


def test_import_json_output(run: Callable[..., Result], write: Callable[[str, str], Path]) -> None:
    result = run("import", "reps", str(write("reps.csv", "name,role\nAnn,manager\n")), "--json")
    data = json.loads(result.output)
    assert (data["inserted"], data["rows"], data["kind"]) == (1, 1, "reps")
    assert data["peak_rss_mb"] > 0


def test_crm_import_needs_a_label(run: Callable[..., Result], write: Callable[[str, str], Path]) -> None:
    result = run("import", "crm", str(write("x.csv", "a,b\n1,2\n")))
    assert result.exit_code == 2 and "--label" in result.output


def test_demo_builds_a_database_without_a_terminal_and_writes_the_truth(
    run: Callable[..., Result], db_url: str, tmp_path: Path
) -> None:
    truth = tmp_path / "truth.csv"
    result = run("demo", "--leads", "300", "--seed", "3", "--truth", str(truth))
    assert result.exit_code == 0, result.output
    assert "Demo database ready" in result.output and "Try next" in result.output
    header, *lines = truth.read_text().splitlines()
    assert header == "external_id,probability,segment,expected_value" and len(lines) == 300
    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert run_sql(conn, "SELECT count(*) FROM lead").scalar_one() == 300
        assert run_sql(conn, "SELECT count(*) FROM message WHERE channel = 'call'").scalar_one() > 0
    schema = inspect(engine)
    for table in schema.get_table_names():  # the truth never reaches the database
        columns = [column["name"] for column in schema.get_columns(table)]
        assert "probability" not in columns or table == "score"


def test_demo_replaces_its_own_database_but_not_someone_elses(
    run: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    assert run("demo", "--leads", "100").exit_code == 0
    assert run("demo", "--leads", "120").exit_code == 0
    run("init")
    other = write("other.db", "")
    with sqlite3.connect(other) as conn:  # someone else's data
        conn.execute("CREATE TABLE customers (name TEXT)")
    refused = run("demo", "--leads", "100", env={"HOTLEAD_DATABASE_URL": f"sqlite:///{other}"})
    assert refused.exit_code == 1 and "--force" in refused.output
    forced = run("demo", "--leads", "100", "--force", env={"HOTLEAD_DATABASE_URL": f"sqlite:///{other}"})
    assert forced.exit_code == 0, forced.output
    empty = write("empty.db", "")  # a file with no table in it holds nothing to lose
    assert run("demo", "--leads", "100", env={"HOTLEAD_DATABASE_URL": f"sqlite:///{empty}"}).exit_code == 0


def test_commands_on_an_empty_database_never_show_a_traceback(run: Callable[..., Result], tmp_path: Path) -> None:
    result = run("import", "leads", str(tmp_path / "missing.csv"))
    assert result.exit_code == 2 and "does not exist" in result.output


def test_bench_import_reports_the_contract_keys(run: Callable[..., Result]) -> None:
    result = run("bench", "import", "--rows", "4000", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["rows"] == 4000
    assert data["rows_per_s"] > 0 and data["seconds"] > 0 and data["peak_rss_mb"] > 0
    assert abs(data["rows"] / data["seconds"] - data["rows_per_s"]) / data["rows_per_s"] < 0.01
    # a quarter more, later activities, into the table that holds the 4,000 already: all new rows
    assert data["into_full_rows"] == 1000 and data["into_full_inserted"] == 1000 and data["into_full_rows_per_s"] > 0
