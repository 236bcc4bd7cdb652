"""The engine: SQLite in WAL mode with foreign keys on; the schema, made new or upgraded by its migrations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from sqlalchemy import Connection, Engine, event, inspect
from sqlmodel import Session, SQLModel, create_engine, select

from storage import migrations, models
from storage.derived import julian_sql
from storage.errors import SchemaError

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=10000",
    # A bounded page cache (64 MB) keeps index inserts of big imports fast without growing memory.
    "PRAGMA cache_size=-65536",
    "PRAGMA temp_store=FILE",  # big sorts (an index built after a bulk import) spill instead of growing memory
)


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
_string = encode_basestring_ascii


def json_dumps(value: Any) -> str:
    """Serialise JSON deterministically so equal values compare equal in unique keys."""
    if value.__class__ is dict and not value:
        return "{}"
    if value.__class__ is dict and all(k.__class__ is str and v.__class__ is str for k, v in value.items()):
        # Same text as the encoder gives, built faster for the flat string maps imports produce.
        return "{" + ",".join([_string(k) + ":" + _string(v) for k, v in sorted(value.items())]) + "}"
    return _ENCODER.encode(value)


def mark(conn: Connection) -> str:
    """The driver's parameter placeholder: `?` for SQLite, `%s` for PostgreSQL drivers."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def marks(conn: Connection, count: int) -> str:
    """`count` placeholders separated by commas."""
    return ", ".join([mark(conn)] * count)


def json_loads(text: Any) -> Any:
    """Parse JSON text read with raw SQL (None stays None; PostgreSQL's JSONB arrives already parsed)."""
    return json.loads(text) if isinstance(text, str | bytes) else text


def julian(conn: Connection, column: str) -> str:
    """SQL for a stored moment's julian day number, as SQLite's julianday() gives it, on either engine."""
    if conn.dialect.name == "sqlite":
        return f"julianday({column})"
    return julian_sql(column)


def make_engine(url: str) -> Engine:
    """Create the engine for a SQLAlchemy URL; SQLite gets WAL, foreign keys and a page cache."""
    is_sqlite = url.startswith("sqlite")
    # hide_parameters: an SQL error in the log shows the statement, never the row (conversation text, names)
    kwargs: dict[str, Any] = {"json_serializer": json_dumps, "hide_parameters": True}
    if is_sqlite:
        kwargs["connect_args"] = {"check_same_thread": False}
    elif url.startswith("postgresql"):  # moments are written and compared in UTC, as on SQLite
        kwargs["connect_args"] = {"options": "-c timezone=UTC"}
    engine = create_engine(url, **kwargs)
    if not is_sqlite:
        event.listen(engine, "handle_error", _without_row_values)
    if is_sqlite:

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            for pragma in _SQLITE_PRAGMAS:
                cursor.execute(pragma)
            cursor.close()

    return engine


class ServerError(Exception):
    """A database server's error with its row values left out: PostgreSQL's DETAIL ("Key (name)=(Acme) already
    exists") quotes the row, and errors reach logs and replies. `sqlstate` says what it was."""

    def __init__(self, original: Exception) -> None:
        diag = getattr(original, "diag", None)
        primary = getattr(diag, "message_primary", None) or type(original).__name__
        super().__init__(f"{type(original).__name__}: {primary}")
        self.sqlstate = getattr(original, "sqlstate", None)
        self.constraint = getattr(diag, "constraint_name", None)


def _without_row_values(context: Any) -> Exception | None:
    """SQLAlchemy's handle_error hook: the same kind of error, carrying only the server's primary message."""
    error, diag = context.sqlalchemy_exception, getattr(context.original_exception, "diag", None)
    if error is None or diag is None or not (diag.message_detail or diag.context):  # nothing quoted: keep it
        return None
    scrubbed = type(error)(error.statement, None, ServerError(context.original_exception), hide_parameters=True)
    scrubbed.__cause__ = None
    return scrubbed  # type: ignore[no-any-return]


# Before migrations: each step took a database from the version before it to its own (all in one transaction),
# up to version 9, the migrations' baseline (storage/migrations). Later changes are migrations.
_UPGRADES: dict[int, tuple[str, ...]] = {
    6: ("ALTER TABLE alert ADD COLUMN delivery VARCHAR",  # the carrier's status, apart from the outbox's
        # schema 5 wrote Twilio's callbacks into status: a row with the carrier's id was sent, whatever it says
        "UPDATE alert SET delivery = status, status = 'sent' WHERE external_ref IS NOT NULL "
        "AND status NOT IN ('sent', 'superseded')"),
    7: ("ALTER TABLE alert ADD COLUMN expires_at {moment}",  # the outbox never gives up: it expires, by a rule
        "ALTER TABLE alert ADD COLUMN unsure_since {moment}"),  # a send whose answer was lost: look before re-sending
    8: ("ALTER TABLE lead_action ADD COLUMN note VARCHAR",),  # a rep's words with a verdict ("not a fit: students")
    # the outbox's lease (and new tables for several server processes: seen_request, job_run, target_pause)
    9: ("ALTER TABLE alert ADD COLUMN claimed_at {moment}",),
}
_MOMENT = {"sqlite": "DATETIME", "postgresql": "TIMESTAMP WITH TIME ZONE"}  # what the models' times are made as


def begin_now(conn: Connection, *, immediate: bool = False) -> None:
    """Open the connection's transaction at once, so that DDL run next (DROP INDEX…) belongs to it and rolls back
    with it: pysqlite begins a transaction only before DML, and runs DDL before that in autocommit mode.
    `immediate` takes SQLite's write lock now (waiting busy_timeout for it) rather than at the first write."""
    raw = conn.connection.dbapi_connection
    if conn.dialect.name == "sqlite" and raw is not None and not raw.in_transaction:
        raw.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


def has_tables(engine: Engine) -> bool:
    """Whether the database holds any table at all (Hotlead's or another application's)."""
    return bool(inspect(engine).get_table_names())


def drop_schema(engine: Engine) -> None:
    """Drop Hotlead's tables and everything in them (only those: other tables in the database are left alone)."""
    SQLModel.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


def create_schema(engine: Engine) -> bool:
    """Make a new database's schema, or upgrade an older Hotlead schema in place; True when the database was
    new. A new one is made from the models in one transaction and stamped with the newest migration."""
    if inspect(engine).has_table("meta"):
        upgrade(engine)
        check_schema(engine)
        return False
    with engine.begin() as conn:
        begin_now(conn)
        SQLModel.metadata.create_all(conn)
        conn.execute(models.Meta.__table__.insert().values(  # type: ignore[attr-defined]
            key="schema_version", value=str(models.SCHEMA_VERSION)))
        migrate(conn, "stamp", migrations.HEAD)
    return True


def migrate(conn: Connection, command: str, revision: str) -> None:
    """Run Alembic's `command` (upgrade, stamp) to `revision` on this connection, inside its transaction."""
    from alembic import command as commands
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations.FOLDER))
    config.attributes["connection"] = conn
    getattr(commands, command)(config, revision)


def revision(conn: Connection) -> str | None:
    """The database's Alembic revision, or None when it has none (new, or made before migrations)."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def repair_indexes(engine: Engine) -> list[str]:
    """Create the indexes of the schema that an existing database lacks (a bulk import of an older Hotlead could
    lose one); returns their names."""
    inspector = inspect(engine)
    missing = []
    for table in SQLModel.metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {index["name"] for index in inspector.get_indexes(table.name)}
        missing += [index for index in table.indexes if index.name not in present]
    with engine.begin() as conn:
        for index in missing:
            index.create(conn)
    return [str(index.name) for index in missing]


def upgrade(engine: Engine) -> str | None:
    """Bring an older Hotlead database up to the newest migration, all in one transaction; returns what it had
    ("schema version 7" from before migrations, or "revision 0001"), or None when there was nothing to do (new
    to Hotlead, current already, or one check_schema refuses: too old, or newer than this Hotlead)."""
    if not inspect(engine).has_table("meta"):
        return None
    with engine.begin() as conn:
        begin_now(conn)
        found = revision(conn)
        if found is None:
            version = _schema_version(conn)
            if version is None or not _upgradable(version):
                return None  # too old, or not Hotlead's: check_schema says so
            for step in range(int(version) + 1, models.SCHEMA_VERSION + 1):
                for statement in _UPGRADES[step]:
                    conn.exec_driver_sql(statement.format(moment=_MOMENT[conn.dialect.name]))
            conn.execute(models.Meta.__table__.update().where(  # type: ignore[attr-defined]
                models.Meta.key == "schema_version").values(value=str(models.SCHEMA_VERSION)))
            had = f"schema version {version}"
        elif found == migrations.HEAD or found not in migrations.REVISIONS:
            return None
        else:
            had = f"revision {found}"
        migrate(conn, "upgrade", migrations.HEAD)  # from none: the baseline makes the tables they lacked
    return had


def check_schema(engine: Engine) -> None:
    """Raise SchemaError unless the database holds the newest Hotlead schema (the migrations' head)."""
    if not inspect(engine).has_table("meta"):
        raise SchemaError(f"{_where(engine)} has no Hotlead schema yet: run `hotlead init`")
    with engine.connect() as conn:
        found = revision(conn)
        version = _schema_version(conn)
    if found == migrations.HEAD:
        return
    if found in migrations.REVISIONS:
        raise SchemaError(f"{_where(engine)} is at schema revision {found}; this Hotlead needs "
                          f"{migrations.HEAD}: run `hotlead init` to upgrade it")
    if found is not None:
        raise SchemaError(f"{_where(engine)} is at schema revision {found}, which this Hotlead does not know "
                          f"(its newest is {migrations.HEAD}): a newer Hotlead made it; upgrade Hotlead")
    hint = "; run `hotlead init` to upgrade it" if version is not None and _upgradable(version) else ""
    raise SchemaError(f"{_where(engine)} has schema version {version or 'none'} (from before migrations); this "
                      f"Hotlead needs revision {migrations.HEAD}{hint}")


def _schema_version(conn: Connection) -> str | None:
    """The pre-migration schema version recorded in `meta`, if any."""
    return conn.execute(select(models.Meta.value).where(models.Meta.key == "schema_version")).scalar()


def _upgradable(version: str) -> bool:
    """Whether the old steps bring a pre-migration schema version to the migrations' baseline (it is that
    version already, or one a step starts from)."""
    return version.isdigit() and (int(version) == models.SCHEMA_VERSION or int(version) + 1 in _UPGRADES)


def get_meta(*, session: Session, key: str) -> str | None:
    """Read one fact about the database."""
    row = session.exec(select(models.Meta).where(models.Meta.key == key)).first()
    return row.value if row else None


def database_origin(engine: Engine) -> str | None:
    """What made this database ("demo" for `hotlead demo`, "bench" for a bench's build), or None (not said, or
    not a Hotlead database at all)."""
    try:
        with Session(engine) as session:
            return get_meta(session=session, key="origin")
    except Exception:  # noqa: BLE001 - not a Hotlead database at all: treat it as someone else's data
        return None


def set_meta(*, session: Session, key: str, value: str) -> None:
    """Record one fact about the database (caller commits)."""
    row = session.get(models.Meta, key)
    if row is None:
        session.add(models.Meta(key=key, value=value))
    else:
        row.value = value


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(engine) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def _where(engine: Engine) -> str:
    return f"database {engine.url.render_as_string(hide_password=True)}"


OUT_OF_PLAY = "('won', 'lost', 'deleted')"  # lead statuses no longer in play, as SQL (deleted: gone from the CRM)
