from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from storage import models
from storage.db import check_schema, create_schema, make_engine
from storage.errors import SchemaError


@pytest.mark.sqlite_only
def test_sqlite_runs_in_wal_mode_with_foreign_keys(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1


def test_schema_has_every_table_of_the_design(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert {"account", "lead", "activity", "message", "signal", "outcome", "model_version", "score", "rep",
            "demo_session", "alert", "meta", "attribute"} <= tables


def test_schema_version_is_recorded(engine: Engine) -> None:
    with engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT value FROM meta WHERE key='schema_version'").scalar_one()
    assert version == str(models.SCHEMA_VERSION)


def test_create_schema_twice_keeps_data(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO rep (name, role, timezone) VALUES ('Ann', 'rep', 'UTC')")
    assert create_schema(engine) is False
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM rep").scalar_one() == 1


def test_an_empty_database_asks_for_init(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(SchemaError, match="hotlead init"):
        check_schema(engine)


def test_a_foreign_key_violation_is_refused(engine: Engine) -> None:
    with pytest.raises(Exception, match="(?i)foreign key"), engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO activity (lead_id, kind, occurred_at, page_type, detail) "
            "VALUES (999, 'x', '2026-01-01', '', '{}')"
        )


def test_hotlead_init_rebuilds_an_index_an_older_import_lost(db_url: str) -> None:
    from click.testing import CliRunner

    from bot.cli import cli

    url = db_url
    engine = make_engine(url)
    create_schema(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_activity_lead_day")
    result = CliRunner().invoke(cli, ["init"], env={"HOTLEAD_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert "Rebuilt missing indexes: ix_activity_lead_day" in result.output
    assert "ix_activity_lead_day" in {index["name"] for index in inspect(engine).get_indexes("activity")}
    assert "Rebuilt" not in CliRunner().invoke(cli, ["init"], env={"HOTLEAD_DATABASE_URL": url}).output


def test_an_sql_error_never_carries_the_rows_values(engine: Engine) -> None:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError) as raised, engine.begin() as conn:
        for _ in range(2):
            conn.execute(text("INSERT INTO account (name, extra) VALUES (:name, '{}')"),
                         {"name": "Private Prospect Name"})
    assert "Private Prospect Name" not in str(raised.value)
