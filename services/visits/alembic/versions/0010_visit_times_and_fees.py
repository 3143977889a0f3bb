"""An accepted visit's hours and venue, its revision for calendars, its fee and late-cancellation fee; the
divisions' fee schedules.

Revision ID: 0010_visit_times_and_fees
Revises: 0011
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_visit_times_and_fees"
down_revision = "0011"
branch_labels = None
depends_on = None

# NUMERIC on PostgreSQL; text on SQLite, whose NUMERIC affinity would turn "12.50" into a float.
AMOUNT = sa.Numeric(12, 2).with_variant(sa.String(24), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("start_time", sa.Time(), nullable=True))
        batch.add_column(sa.Column("end_time", sa.Time(), nullable=True))
        batch.add_column(sa.Column("venue", sa.String(200), nullable=True))
        batch.add_column(sa.Column("sequence", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("quote", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("late_fee", sa.JSON(), nullable=True))
    op.create_table(
        "fee_schedules",
        sa.Column("division", sa.String(50), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("price_per_visitor_hour", AMOUNT, nullable=False),
        sa.Column("minimum_net", AMOUNT, nullable=False),
        sa.Column("vat_percent", AMOUNT, nullable=False),
        sa.Column("exempt_ranks", sa.JSON(), nullable=False),
        sa.Column("free_until_days", sa.Integer(), nullable=False),
        sa.Column("late_cancellation_percent", AMOUNT, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["division"], ["divisions.code"], name=op.f("fk_fee_schedules_division_divisions")),
        sa.PrimaryKeyConstraint("division", name=op.f("pk_fee_schedules")),
    )


def downgrade() -> None:
    op.drop_table("fee_schedules")
    with op.batch_alter_table("requests") as batch:  # SQLite rebuilds the table to drop columns
        for column in ("late_fee", "quote", "sequence", "venue", "end_time", "start_time"):
            batch.drop_column(column)
