"""An index for the staff listing filtered by country, newest first (a rare country no longer scans the history).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_requests_country_created_at_id", "requests", ["country", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_requests_country_created_at_id", table_name="requests")
