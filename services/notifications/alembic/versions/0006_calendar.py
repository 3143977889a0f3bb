"""Calendars: the delegation's .ics attachment on its deliveries; the read models of accepted visits and of their
protocol plans that the iCalendar feeds are built from; the feeds' secret addresses (hashed).

Revision ID: 0006_calendar
Revises: 0003
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_calendar"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("calendar", sa.Text(), nullable=True))
    op.create_table(
        "calendar_visits",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("reference", sa.String(40), nullable=False),
        sa.Column("division", sa.String(100), nullable=False),
        sa.Column("organisation", sa.String(200), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("delegation_size", sa.Integer(), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=True),
        sa.Column("end_time", sa.Time(), nullable=True),
        sa.Column("venue", sa.String(200), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_calendar_visits")),
    )
    op.create_index("ix_calendar_visits_visit_date", "calendar_visits", ["visit_date"])
    op.create_table(
        "calendar_plans",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("conflicts", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_calendar_plans")),
    )
    op.create_table(
        "calendar_feeds",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("division", sa.String(100), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_feeds")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_feeds_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("calendar_feeds")
    op.drop_table("calendar_plans")
    op.drop_index("ix_calendar_visits_visit_date", table_name="calendar_visits")
    op.drop_table("calendar_visits")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("calendar")
