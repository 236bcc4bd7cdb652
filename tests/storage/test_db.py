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


def version_5_file(url: str) -> str:
    """A database as Hotlead 0.1 with schema 5 left it: no alert.delivery, no delivery_event, no lead_action.note,
    and the carrier's status written into alert.status."""
    engine = make_engine(url)
    create_schema(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE delivery_event")
        conn.exec_driver_sql("DROP TABLE seen_request")
        conn.exec_driver_sql("DROP TABLE job_run")
        conn.exec_driver_sql("DROP TABLE target_pause")
        for column in ("delivery", "expires_at", "unsure_since", "claimed_at"):
            conn.exec_driver_sql(f"ALTER TABLE alert DROP COLUMN {column}")
        conn.exec_driver_sql("ALTER TABLE lead_action DROP COLUMN note")
        conn.exec_driver_sql("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
        for key, status, sid in (("a", "read", "SMa"), ("b", "queued", None), ("c", "failed", None),
                                 ("d", "sending", "SMd"), ("e", "undelivered", "SMe")):  # d, e: sent, then called back
            conn.execute(text("INSERT INTO alert (kind, channel, dedupe_key, created_at, status, attempts, payload, "
                              "external_ref) VALUES ('demo', 'whatsapp', :key, '2026-11-30 10:00:00', :status, 1, "
                              "'{}', :sid)"), {"key": key, "status": status, "sid": sid})
    engine.dispose()
    return url


def test_an_older_schema_is_refused_with_the_way_to_upgrade_it(db_url: str) -> None:
    engine = make_engine(version_5_file(db_url))
    needs = f"schema version 5; this Hotlead needs {models.SCHEMA_VERSION}; run `hotlead init` to upgrade it"
    with pytest.raises(SchemaError, match=needs):
        check_schema(engine)


def test_hotlead_init_upgrades_schema_5_in_place_keeping_every_alert(db_url: str) -> None:
    from click.testing import CliRunner

    from bot.cli import cli

    url = version_5_file(db_url)
    result = CliRunner().invoke(cli, ["init"], env={"HOTLEAD_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert "Upgraded the Hotlead schema" in result.output
    assert f"from version 5 to {models.SCHEMA_VERSION}" in result.output
    engine = make_engine(url)
    check_schema(engine)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT dedupe_key, status, delivery FROM alert ORDER BY dedupe_key").all()
        assert conn.exec_driver_sql("SELECT count(*) FROM delivery_event").scalar_one() == 0
    assert [tuple(r) for r in rows] == [("a", "sent", "read"), ("b", "queued", None), ("c", "failed", None),
                                        ("d", "sent", "sending"), ("e", "sent", "undelivered")]
    assert "note" in {c["name"] for c in inspect(engine).get_columns("lead_action")}  # schema 8: a rep's words
    assert "claimed_at" in {c["name"] for c in inspect(engine).get_columns("alert")}  # schema 9: the outbox's lease
    assert inspect(engine).has_table("seen_request")
    again = CliRunner().invoke(cli, ["init"], env={"HOTLEAD_DATABASE_URL": url})
    assert again.exit_code == 0 and "Checked the Hotlead schema" in again.output


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
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError) as raised, engine.begin() as conn:
        for _ in range(2):
            conn.execute(text("INSERT INTO account (name, extra) VALUES (:name, '{}')"),
                         {"name": "Private Prospect Name"})
    assert "Private Prospect Name" not in str(raised.value)
