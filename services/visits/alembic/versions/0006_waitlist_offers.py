"""The week a request came off the waitlist for, while its division decides (a place held for it); and proposed
dates answer an escalation, for the requests escalated before they were proposed other dates as well.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("requests", sa.Column("offered_week", sa.String(8), nullable=True))
    op.create_index("ix_requests_offered_week", "requests", ["division", "offered_week"])
    op.execute("UPDATE requests SET escalated_at = NULL WHERE status = 'dates_proposed'")


def downgrade() -> None:
    op.drop_index("ix_requests_offered_week", table_name="requests")
    with op.batch_alter_table("requests") as batch:  # SQLite rebuilds the table to drop a column
        batch.drop_column("offered_week")
