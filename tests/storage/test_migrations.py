"""Schema migrations: the migrations make exactly the schema the models make, on both engines; `hotlead init`
upgrades an older database (from before migrations, or at an older revision) in one transaction, and a database
a newer Hotlead made is refused by name."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import Connection, Engine, inspect, text

from bot.cli import cli
from storage import migrations
from storage.db import begin_now, check_schema, create_schema, make_engine, migrate, revision
from storage.errors import SchemaError


@pytest.fixture
def other_db_url(request: pytest.FixtureRequest, engine_name: str, tmp_path: Path) -> str:
    """A second fresh database beside `db_url`, on the same engine."""
    if engine_name == "postgresql":
        databases = request.getfixturevalue("postgres_databases")
        name = databases.create()
        request.addfinalizer(lambda: databases.drop(name))
        return str(databases.url(name))
    return f"sqlite:///{tmp_path / 'other.db'}"


def shape(engine: Engine) -> dict[str, list[tuple[str, ...]]]:
    """Everything the schema is made of, as the database itself reports it: tables, columns, indexes,
    constraints, triggers and trigger functions (not the data, not the migrations' own table)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(
                "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' "
                "AND tbl_name <> 'alembic_version' ORDER BY type, name").all()
            return {"objects": [(t, n, tb, re.sub(r"\s+", " ", sql or "").strip()) for t, n, tb, sql in rows]}
        queries = {
            "columns": "SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, '') "
                       "FROM information_schema.columns WHERE table_schema = 'public' "
                       "AND table_name <> 'alembic_version' ORDER BY table_name, ordinal_position",
            "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
                       "AND tablename <> 'alembic_version' ORDER BY indexname",
            "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                           "WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> "
                           "'alembic_version' ORDER BY conname",
            "triggers": "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1",
            "functions": "SELECT proname, prosrc FROM pg_proc WHERE pronamespace = 'public'::regnamespace "
                         "ORDER BY 1",
        }
        return {part: [tuple(str(v) for v in row) for row in conn.exec_driver_sql(sql).all()]
                for part, sql in queries.items()}


def before_migrations(conn: Connection) -> None:
    """Take away what the revisions after the baseline added, and the revision itself."""
    for statement in ("DROP TABLE alembic_version", "DROP TABLE apscheduler_jobs", "DROP INDEX ix_alert_pending"):
        conn.exec_driver_sql(statement)


def version_5_file(url: str) -> str:
    """A database as Hotlead 0.1 with schema 5 left it: no alert.delivery, no delivery_event, no lead_action.note,
    the carrier's status written into alert.status, and no migrations' revision."""
    engine = make_engine(url)
    create_schema(engine)
    with engine.begin() as conn:
        before_migrations(conn)
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
    needs = (f"schema version 5 \\(from before migrations\\); this Hotlead needs revision {migrations.HEAD}; "
             "run `hotlead init`")
    with pytest.raises(SchemaError, match=needs):
        check_schema(engine)


def test_hotlead_init_upgrades_schema_5_in_place_keeping_every_alert(db_url: str) -> None:
    from click.testing import CliRunner

    from bot.cli import cli

    url = version_5_file(db_url)
    result = CliRunner().invoke(cli, ["init"], env={"HOTLEAD_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert "Upgraded the Hotlead schema" in result.output
    assert f"from schema version 5 to revision {migrations.HEAD}" in result.output
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


def structure(engine: Engine) -> dict[str, object]:
    """The schema as SQLAlchemy reflects it, column order aside (a column added by ALTER comes last), with the
    triggers' and indexes' definitions: for databases that reached the schema by different roads."""
    inspector = inspect(engine)
    tables = {
        table: (sorted((c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)),
                sorted((i["name"], tuple(i["column_names"]), i["unique"]) for i in inspector.get_indexes(table)),
                sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
                sorted((tuple(f["constrained_columns"]), f["referred_table"])
                       for f in inspector.get_foreign_keys(table)))
        for table in inspector.get_table_names() if table != "alembic_version"
    }
    made = shape(engine)
    definitions = [row for row in made.get("objects", []) if row[0] == "trigger"]
    definitions += made.get("triggers", []) + made.get("functions", []) + made.get("indexes", [])
    return {"tables": tables, "definitions": sorted(definitions)}


def assert_like_a_new_one(engine: Engine, fresh_url: str) -> None:
    """The upgraded database's schema is the one a new database gets (then both engines are let go)."""
    fresh = make_engine(fresh_url)
    create_schema(fresh)
    assert structure(engine) == structure(fresh)
    engine.dispose()
    fresh.dispose()


def test_head_is_the_scripts_head_and_the_revisions_their_order() -> None:
    scripts = ScriptDirectory(str(migrations.FOLDER))
    assert scripts.get_current_head() == migrations.HEAD
    assert tuple(s.revision for s in reversed(list(scripts.walk_revisions()))) == migrations.REVISIONS


def test_migrations_from_nothing_make_the_schema_the_models_make(db_url: str, other_db_url: str) -> None:
    """A model changed without a migration (or a migration that differs from the model) fails here."""
    made = make_engine(db_url)
    assert create_schema(made) is True
    migrated = make_engine(other_db_url)
    with migrated.begin() as conn:
        begin_now(conn)
        migrate(conn, "upgrade", "head")
        assert revision(conn) == migrations.HEAD
    made_shape, migrated_shape = shape(made), shape(migrated)
    assert sum(len(part) for part in made_shape.values()) > 30  # tables, indexes, triggers (and columns): all there
    assert migrated_shape == made_shape
    with made.connect() as conn:
        assert revision(conn) == migrations.HEAD  # a new database is stamped with the newest migration
    made.dispose()
    migrated.dispose()


def test_a_database_from_just_before_migrations_is_upgraded_by_init_keeping_its_rows(
        db_url: str, other_db_url: str, run: Callable[..., object]) -> None:
    engine = make_engine(db_url)
    create_schema(engine)
    with engine.begin() as conn:
        before_migrations(conn)  # schema 9 as Hotlead made it before migrations
        conn.exec_driver_sql("INSERT INTO rep (name, role, timezone) VALUES ('Ann', 'rep', 'UTC')")
    with pytest.raises(SchemaError, match=r"schema version 9 \(from before migrations\).*run `hotlead init`"):
        check_schema(engine)
    result = CliRunner().invoke(cli, ["init"], env={"HOTLEAD_DATABASE_URL": db_url})
    assert result.exit_code == 0, result.output
    assert f"from schema version 9 to revision {migrations.HEAD}" in result.output
    check_schema(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT name FROM rep").scalars().all() == ["Ann"]
    assert_like_a_new_one(engine, other_db_url)


def test_a_schema_5_database_upgraded_by_init_has_the_schema_a_new_one_has(db_url: str, other_db_url: str) -> None:
    engine = make_engine(version_5_file(db_url))
    result = CliRunner().invoke(cli, ["init"], env={"HOTLEAD_DATABASE_URL": db_url})
    assert result.exit_code == 0, result.output
    assert_like_a_new_one(engine, other_db_url)


def test_an_upgrade_that_fails_leaves_the_database_as_it_was(db_url: str) -> None:
    engine = make_engine(version_5_file(db_url))
    with engine.begin() as conn:  # schema 6 adds this column: its step fails, after nothing else ran
        conn.exec_driver_sql("ALTER TABLE lead_action ADD COLUMN note VARCHAR")
    before = shape(engine)
    result = CliRunner().invoke(cli, ["init"], env={"HOTLEAD_DATABASE_URL": db_url})
    assert result.exit_code != 0
    assert shape(engine) == before  # schema 6's and 7's columns and the baseline's tables rolled back with it
    assert not inspect(engine).has_table("delivery_event")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT value FROM meta WHERE key = 'schema_version'").scalar() == "5"
        assert revision(conn) is None
    engine.dispose()


def test_a_database_a_newer_hotlead_made_is_refused_by_name_and_left_alone(db_url: str) -> None:
    engine = make_engine(db_url)
    create_schema(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(SchemaError, match=f"revision 9999, which this Hotlead does not know .its newest is "
                                          f"{migrations.HEAD}.: a newer Hotlead made it"):
        check_schema(engine)
    before = shape(engine)
    result = CliRunner().invoke(cli, ["init"], env={"HOTLEAD_DATABASE_URL": db_url})
    assert result.exit_code != 0 and "a newer Hotlead made it" in result.output
    assert shape(engine) == before
    engine.dispose()


def at_revision(url: str, target: str) -> Engine:
    """A database made by the migrations up to `target` only (as an older Hotlead left it)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        begin_now(conn)
        migrate(conn, "upgrade", target)
        conn.exec_driver_sql("INSERT INTO meta (key, value) VALUES ('schema_version', '9')")
    return engine


def test_init_upgrades_revision_0001_to_the_head(db_url: str, other_db_url: str) -> None:
    engine = at_revision(db_url, "0001")
    with pytest.raises(SchemaError, match=f"at schema revision 0001; this Hotlead needs {migrations.HEAD}: run "
                                          "`hotlead init` to upgrade it"):
        check_schema(engine)
    result = CliRunner().invoke(cli, ["init"], env={"HOTLEAD_DATABASE_URL": db_url})
    assert result.exit_code == 0, result.output
    assert f"from revision 0001 to revision {migrations.HEAD}" in result.output
    assert_like_a_new_one(engine, other_db_url)


def test_the_job_store_a_running_server_made_is_kept_with_its_jobs(db_url: str, other_db_url: str) -> None:
    """Before revision 0002 APScheduler made its table when a server first started: the upgrade keeps it and
    its jobs, and APScheduler's shape is the schema's own."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    engine = at_revision(db_url, "0001")
    store = SQLAlchemyJobStore(engine=engine)
    store.start(BackgroundScheduler(), "default")  # APScheduler creates its table, as `hotlead serve` did
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO apscheduler_jobs (id, next_run_time, job_state) VALUES ('weekly-digest', "
                          "1.5, :state)"), {"state": b"\x80\x05job"})
    result = CliRunner().invoke(cli, ["init"], env={"HOTLEAD_DATABASE_URL": db_url})
    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT id, next_run_time FROM apscheduler_jobs").all() == [("weekly-digest", 1.5)]
    assert_like_a_new_one(engine, other_db_url)
