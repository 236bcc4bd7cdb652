"""The engine: SQLite in WAL mode with foreign keys on; schema creation and its version."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from sqlalchemy import Connection, Engine, event, inspect
from sqlmodel import Session, SQLModel, create_engine, select

from storage import models
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


# Each step takes a database from the version before it to its own, in one transaction.
_UPGRADES: dict[int, tuple[str, ...]] = {
    6: ("ALTER TABLE alert ADD COLUMN delivery VARCHAR",  # the carrier's status, apart from the outbox's
        # schema 5 wrote Twilio's callbacks into status: a row with the carrier's id was sent, whatever it says
        "UPDATE alert SET delivery = status, status = 'sent' WHERE external_ref IS NOT NULL "
        "AND status NOT IN ('sent', 'superseded')"),
    7: ("ALTER TABLE alert ADD COLUMN expires_at VARCHAR",  # the outbox never gives up: it expires, by a rule
        "ALTER TABLE alert ADD COLUMN unsure_since VARCHAR"),  # a send whose answer was lost: look before re-sending
    8: ("ALTER TABLE lead_action ADD COLUMN note VARCHAR",),  # a rep's words with a verdict ("not a fit: students")
    # the outbox's lease (and new tables for several server processes: seen_request, job_run, target_pause)
    9: ("ALTER TABLE alert ADD COLUMN claimed_at TIMESTAMP",),
}


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


def create_schema(engine: Engine) -> bool:
    """Create every table that is missing, upgrade an older Hotlead schema in place, and record the schema
    version; True when the database was new."""
    existed = inspect(engine).has_table("meta")
    upgrade(engine)
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        if session.get(models.Meta, "schema_version") is None:
            session.add(models.Meta(key="schema_version", value=str(models.SCHEMA_VERSION)))
            session.commit()
    check_schema(engine)
    return not existed


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


def upgrade(engine: Engine) -> int | None:
    """Bring a database of an older schema version up to this one (new tables come from `create_all`);
    returns the version it had, or None when there was nothing to upgrade."""
    if not inspect(engine).has_table("meta"):
        return None
    with engine.begin() as conn:
        found = conn.execute(select(models.Meta.value).where(models.Meta.key == "schema_version")).scalar()
        if found is None or not found.isdigit() or int(found) >= models.SCHEMA_VERSION:
            return None
        if int(found) + 1 not in _UPGRADES:
            return None  # too old to upgrade: check_schema says so
        for version in range(int(found) + 1, models.SCHEMA_VERSION + 1):
            for statement in _UPGRADES[version]:
                conn.exec_driver_sql(statement)
        conn.execute(models.Meta.__table__.update().where(  # type: ignore[attr-defined]
            models.Meta.key == "schema_version").values(value=str(models.SCHEMA_VERSION)))
    return int(found)


def check_schema(engine: Engine) -> None:
    """Raise SchemaError unless the database holds this version of the Hotlead schema."""
    if not inspect(engine).has_table("meta"):
        raise SchemaError(f"{_where(engine)} has no Hotlead schema yet: run `hotlead init`")
    with Session(engine) as session:
        row = session.get(models.Meta, "schema_version")
    if row is None or row.value != str(models.SCHEMA_VERSION):
        found = row.value if row else "none"
        hint = "; run `hotlead init` to upgrade it" if found.isdigit() and int(found) + 1 in _UPGRADES else ""
        raise SchemaError(
            f"{_where(engine)} has schema version {found}; this Hotlead needs {models.SCHEMA_VERSION}{hint}"
        )


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
