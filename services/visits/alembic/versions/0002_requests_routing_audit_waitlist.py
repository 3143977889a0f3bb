"""Requests, routing rules and divisions (seeded), history, audit log, full weeks and the waitlist.

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

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)

DIVISIONS = [
    # code, name, lead time in weeks, decision deadline in working days
    ("education", "Education Division", 8, 5),
    ("urban-environment", "Urban Environment Division", 4, 5),
    ("culture-and-leisure", "Culture and Leisure Division", 4, 5),
    ("social-services-health", "Social Services, Health Care and Rescue Services Division", 4, 5),
    ("city-executive-office", "City Executive Office", 4, 5),
    ("economic-development", "Economic Development (City Executive Office)", 4, 5),
    ("forum-virium", "Forum Virium Helsinki", 4, 5),
    ("business-hub", "Helsinki Business Hub", 4, 5),
    ("international-affairs", "International Affairs Unit", 4, 5),
]
ROUTING = [
    ("smart-city", "forum-virium"),
    ("climate", "urban-environment"),
    ("innovation", "economic-development"),
    ("mobility", "urban-environment"),
    ("education", "education"),
    ("participation", "city-executive-office"),
    ("culture", "culture-and-leisure"),
    ("design", "city-executive-office"),
]
APPEND_ONLY = {
    "postgresql": [
        """CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$""",
        """CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
           FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()""",
    ],
    "sqlite": [
        """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
           BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
        """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
           BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
    ],
}
DROP_APPEND_ONLY = {
    "postgresql": ["DROP TRIGGER audit_log_append_only ON audit_log", "DROP FUNCTION audit_log_append_only()"],
    "sqlite": ["DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"],
}


def upgrade() -> None:
    divisions = op.create_table(
        "divisions",
        sa.Column("code", sa.String(50), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("lead_time_weeks", sa.Integer(), nullable=False),
        sa.Column("decision_deadline_days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_divisions")),
    )
    rules = op.create_table(
        "routing_rules",
        sa.Column("focus_area", sa.String(50), nullable=False),
        sa.Column("division", sa.String(50), nullable=False),
        sa.ForeignKeyConstraint(["division"], ["divisions.code"], name=op.f("fk_routing_rules_division_divisions")),
        sa.PrimaryKeyConstraint("focus_area", name=op.f("pk_routing_rules")),
    )
    op.create_table(
        "reference_counters",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_reference_counters")),
    )
    _create_requests()
    _create_children()
    _create_audit_log()
    _create_capacity_read_model()
    op.bulk_insert(divisions, [dict(code=c, name=n, lead_time_weeks=w, decision_deadline_days=d)
                               for c, n, w, d in DIVISIONS])
    op.bulk_insert(rules, [dict(focus_area=f, division=d) for f, d in ROUTING])


def _create_requests() -> None:
    op.create_table(
        "requests",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("reference", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("division", sa.String(50), nullable=False),
        sa.Column("info_divisions", sa.JSON(), nullable=False),
        sa.Column("primary_focus_area", sa.String(50), nullable=False),
        sa.Column("organisation", sa.String(200), nullable=False),
        sa.Column("organisation_key", sa.String(200), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("contact_name", sa.String(200), nullable=True),
        sa.Column("contact_email", sa.String(320), nullable=True),
        sa.Column("contact_phone", sa.String(40), nullable=True),
        sa.Column("highest_rank", sa.String(30), nullable=False),
        sa.Column("delegation_size", sa.Integer(), nullable=False),
        sa.Column("preferred_dates", sa.JSON(), nullable=False),
        sa.Column("proposed_dates", sa.JSON(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("needs", sa.JSON(), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=True),
        sa.Column("host", sa.String(200), nullable=True),
        sa.Column("decline_reason", sa.String(30), nullable=True),
        sa.Column("short_notice", sa.Boolean(), nullable=False),
        sa.Column("duplicate_of", sa.String(20), nullable=True),
        sa.Column("decision_deadline", sa.Date(), nullable=True),
        sa.Column("escalated_at", Stamp, nullable=True),
        sa.Column("tracking_token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requests")),
        sa.UniqueConstraint("reference", name=op.f("uq_requests_reference")),
    )
    op.create_index("ix_requests_created_at_id", "requests", ["created_at", "id"])
    op.create_index("ix_requests_division_status", "requests", ["division", "status"])
    op.create_index("ix_requests_duplicates", "requests", ["organisation_key", "primary_focus_area", "created_at"])
    op.create_index("ix_requests_deadline", "requests", ["status", "decision_deadline"])


def _create_children() -> None:
    def request_fk(table: str) -> sa.ForeignKeyConstraint:
        return sa.ForeignKeyConstraint(["request_id"], ["requests.id"], ondelete="CASCADE",
                                       name=op.f(f"fk_{table}_request_id_requests"))

    op.create_table(
        "request_focus_areas",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("focus_area", sa.String(50), nullable=False),
        request_fk("request_focus_areas"),
        sa.PrimaryKeyConstraint("request_id", "position", name=op.f("pk_request_focus_areas")),
    )
    op.create_index(op.f("ix_request_focus_areas_focus_area"), "request_focus_areas", ["focus_area"])
    op.create_table(
        "members",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("title", sa.String(200), nullable=True),
        sa.Column("role", sa.String(200), nullable=True),
        request_fk("members"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
    )
    op.create_index(op.f("ix_members_request_id"), "members", ["request_id"])
    op.create_table(
        "request_history",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("at", Stamp, nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("by", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("division", sa.String(50), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        request_fk("request_history"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_history")),
    )
    op.create_index(op.f("ix_request_history_request_id"), "request_history", ["request_id"])


def _create_audit_log() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("at", Stamp, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("role", sa.String(30), nullable=True),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=True),
        sa.Column("reference", sa.String(20), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_request_id"), "audit_log", ["request_id"])
    for statement in APPEND_ONLY.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def _create_capacity_read_model() -> None:
    op.create_table(
        "full_weeks",
        sa.Column("division", sa.String(50), nullable=False),
        sa.Column("iso_week", sa.String(8), nullable=False),
        sa.Column("since", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("division", "iso_week", name=op.f("pk_full_weeks")),
    )
    op.create_table(
        "waitlist",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("iso_week", sa.String(8), nullable=False),
        sa.Column("division", sa.String(50), nullable=False),
        sa.Column("waitlisted_at", Stamp, nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], ondelete="CASCADE",
                                name=op.f("fk_waitlist_request_id_requests")),
        sa.PrimaryKeyConstraint("request_id", "iso_week", name=op.f("pk_waitlist")),
    )
    op.create_index("ix_waitlist_division_week", "waitlist", ["division", "iso_week", "waitlisted_at"])


def downgrade() -> None:
    op.drop_index("ix_waitlist_division_week", table_name="waitlist")
    op.drop_table("waitlist")
    op.drop_table("full_weeks")
    for statement in DROP_APPEND_ONLY.get(op.get_bind().dialect.name, []):
        op.execute(statement)
    op.drop_index(op.f("ix_audit_log_request_id"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index(op.f("ix_request_history_request_id"), table_name="request_history")
    op.drop_table("request_history")
    op.drop_index(op.f("ix_members_request_id"), table_name="members")
    op.drop_table("members")
    op.drop_index(op.f("ix_request_focus_areas_focus_area"), table_name="request_focus_areas")
    op.drop_table("request_focus_areas")
    for index in ("ix_requests_deadline", "ix_requests_duplicates", "ix_requests_division_status",
                  "ix_requests_created_at_id"):
        op.drop_index(index, table_name="requests")
    op.drop_table("requests")
    op.drop_table("reference_counters")
    op.drop_table("routing_rules")
    op.drop_table("divisions")
