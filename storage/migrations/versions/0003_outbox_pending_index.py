"""The outbox's waiting rows get an index of their own: every poll of every server process looked for queued or
sending alerts by reading every alert ever sent (112 ms a poll at 200,000 alerts, on either engine; 1 ms on SQLite
and 5 ms on PostgreSQL with it). Partial (only waiting rows are in it) and, on PostgreSQL, covering.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PENDING = "status = 'queued' OR status = 'sending'"


def upgrade() -> None:
    op.create_index("ix_alert_pending", "alert", ["status", "channel", "target", "next_attempt_at"], unique=False,
                    sqlite_where=sa.text(PENDING), postgresql_where=sa.text(PENDING), postgresql_include=["id"])


def downgrade() -> None:
    op.drop_index("ix_alert_pending", table_name="alert")
