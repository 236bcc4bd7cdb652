"""The CRM sync's own tables: each object kind's cursor, and the link from each CRM record to the Hotlead row it
became.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tables = sa.inspect(op.get_bind())
    if not tables.has_table("crm_cursor"):  # an older schema's upgrade may have made it already from the models
        _cursors()
    if not tables.has_table("crm_link"):
        _links()


def _cursors() -> None:
    op.create_table(
        "crm_cursor",
        sa.Column("crm", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("cursor", sa.String(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),  # as the models make it
        sa.PrimaryKeyConstraint("crm", "kind"),
    )


def _links() -> None:
    op.create_table(
        "crm_link",
        sa.Column("crm", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("crm_id", sa.String(), nullable=False),
        sa.Column("local_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("crm", "kind", "crm_id"),
    )
    op.create_index("ix_crm_link_local", "crm_link", ["crm", "kind", "local_id"], unique=False)


def downgrade() -> None:
    op.drop_table("crm_link")
    op.drop_table("crm_cursor")
