"""The visit's local start and end time and its venue on the plan.

Revision ID: 0005_visit_times
Revises: 0002
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_visit_times"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.add_column(sa.Column("start_time", sa.Time(), nullable=True))
        batch.add_column(sa.Column("end_time", sa.Time(), nullable=True))
        batch.add_column(sa.Column("venue", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plans") as batch:  # SQLite rebuilds the table to drop columns
        for column in ("venue", "end_time", "start_time"):
            batch.drop_column(column)
