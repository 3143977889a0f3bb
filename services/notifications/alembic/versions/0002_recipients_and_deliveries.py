"""Division recipients (seeded with placeholder addresses), tracking links and the delivery log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DIVISIONS = ("education", "urban-environment", "culture-and-leisure", "social-services-health",
             "city-executive-office", "economic-development", "forum-virium", "business-hub", "international-affairs")


def upgrade() -> None:
    recipients = op.create_table(
        "division_recipients",
        sa.Column("division", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("webhook_url", sa.String(length=2000), nullable=True),
        sa.Column("webhook_secret", sa.String(length=200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("division", name=op.f("pk_division_recipients")),
    )
    # Placeholders (.invalid never resolves) until an admin sets the real addresses.
    now = datetime.now(UTC)
    op.bulk_insert(recipients, [
        {"division": d, "email": f"{d}@visitdesk.invalid", "webhook_url": None, "webhook_secret": None,
         "updated_at": now, "updated_by": "migration"} for d in DIVISIONS
    ])
    op.create_table(
        "tracking_links",
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("tracking_url", sa.String(length=2000), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_tracking_links")),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("source_topic", sa.String(length=200), nullable=False),
        sa.Column("event_key", sa.String(length=200), nullable=False),
        sa.Column("event", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("reference", sa.String(length=40), nullable=True),
        sa.Column("division", sa.String(length=100), nullable=True),
        sa.Column("recipient_kind", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=2000), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("event_id", "recipient_kind", "channel", name="uq_deliveries_event_recipient_channel"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_deliveries_request_id", "deliveries", ["request_id"])
    op.create_index("ix_deliveries_reference", "deliveries", ["reference"])
    op.create_index("ix_deliveries_division", "deliveries", ["division"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_division", table_name="deliveries")
    op.drop_index("ix_deliveries_reference", table_name="deliveries")
    op.drop_index("ix_deliveries_request_id", table_name="deliveries")
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_table("tracking_links")
    op.drop_table("division_recipients")
