"""Benchmarks behind `hotlead bench`: each measures one capability and returns plain numbers."""

from __future__ import annotations

from sqlalchemy import Engine

from storage.db import database_origin, drop_schema, has_tables, make_engine
from storage.errors import StorageError


def fresh_engine(database: str) -> Engine:
    """An engine on `database` without Hotlead's tables: those a demo or a bench made are dropped; StorageError
    when it holds anything else (a bench never replaces a team's data)."""
    engine = make_engine(database)
    if has_tables(engine):
        if database_origin(engine) not in ("demo", "bench"):
            raise StorageError(f"{engine.url} holds data that is not a demo or a bench's: give the bench a "
                               "database of its own")
        drop_schema(engine)
    return engine
