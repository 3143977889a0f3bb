"""Idempotency keys of submissions: a retry with the same key gets the first answer, not a second request.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "submission_keys",
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name="pk_submission_keys"),
    )
    op.create_index("ix_submission_keys_created_at", "submission_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_submission_keys_created_at", table_name="submission_keys")
    op.drop_table("submission_keys")
