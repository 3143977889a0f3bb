"""A request's version: raised by every change, checked by every update, so a decision lands only on the state
its maker saw (ETag and If-Match) and SQLite's writers, which have no row locks, cannot overwrite each other.

Revision ID: 0011
Revises: 0006
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("requests", sa.Column("version", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:  # SQLite rebuilds the table to drop a column
        batch.drop_column("version")
