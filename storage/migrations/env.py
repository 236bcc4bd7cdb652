"""Alembic's environment: migrations run on the connection Hotlead hands over, inside its transaction."""

from alembic import context
from sqlmodel import SQLModel

import storage.models  # noqa: F401 - the tables, for autogenerate's comparisons

connection = context.config.attributes["connection"]
# transactional DDL on SQLite too (it has it; Alembic assumes not): a failed upgrade leaves the database as it was
context.configure(connection=connection, target_metadata=SQLModel.metadata, transactional_ddl=True,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
