"""When a request ended and when its personal data was erased; indexes for the completion and retention jobs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)
INDEXES = {"ix_requests_status_visit_date": ["status", "visit_date"],
           "ix_requests_status_ended_at": ["status", "ended_at"]}


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("ended_at", Stamp, nullable=True))
        batch.add_column(sa.Column("erased_at", Stamp, nullable=True))
    # Requests that ended before this revision start their retention clock at their last change.
    op.execute("UPDATE requests SET ended_at = updated_at WHERE status IN ('declined', 'cancelled', 'completed')")
    for name, columns in INDEXES.items():
        op.create_index(name, "requests", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="requests")
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("erased_at")
        batch.drop_column("ended_at")
