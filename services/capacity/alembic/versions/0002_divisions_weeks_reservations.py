"""Divisions with default limits, capacity weeks, reservations.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ACTIVE = sa.text("released_at IS NULL")
# DESIGN.md: education hosts 6 visits a week by default; every other division is unlimited.
DIVISIONS = {
    "education": 6, "urban-environment": None, "culture-and-leisure": None, "social-services-health": None,
    "city-executive-office": None, "economic-development": None, "forum-virium": None, "business-hub": None,
    "international-affairs": None,
}


def upgrade() -> None:
    divisions = op.create_table(
        "divisions",
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("default_limit", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_divisions")),
    )
    op.bulk_insert(divisions, [{"code": code, "default_limit": limit} for code, limit in DIVISIONS.items()])
    op.create_table(
        "capacity_weeks",
        sa.Column("division", sa.String(length=50), nullable=False),
        sa.Column("iso_week", sa.String(length=8), nullable=False),
        sa.Column("has_own_limit", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("week_limit", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["division"], ["divisions.code"], name=op.f("fk_capacity_weeks_division_divisions")),
        sa.PrimaryKeyConstraint("division", "iso_week", name=op.f("pk_capacity_weeks")),
    )
    op.create_table(
        "reservations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("division", sa.String(length=50), nullable=False),
        sa.Column("iso_week", sa.String(length=8), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("reserved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["division", "iso_week"], ["capacity_weeks.division", "capacity_weeks.iso_week"],
                                name="fk_reservations_week_capacity_weeks"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservations")),
    )
    op.create_index("uq_reservations_active_request", "reservations", ["request_id"], unique=True,
                    postgresql_where=ACTIVE, sqlite_where=ACTIVE)
    op.create_index("ix_reservations_active_week", "reservations", ["division", "iso_week"],
                    postgresql_where=ACTIVE, sqlite_where=ACTIVE)


def downgrade() -> None:
    op.drop_index("ix_reservations_active_week", table_name="reservations")
    op.drop_index("uq_reservations_active_request", table_name="reservations")
    op.drop_table("reservations")
    op.drop_table("capacity_weeks")
    op.drop_table("divisions")
