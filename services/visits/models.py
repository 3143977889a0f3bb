"""Tables of the visits service."""

import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    Time,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.visits.domain import CENT, DateRange, FeeSchedule
from shared.consumer import processed_events_table
from shared.db import new_metadata
from shared.outbox import outbox_table

BigId = BigInteger().with_variant(Integer, "sqlite")


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC on the way out, also from SQLite, which stores naive values."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
            return value.replace(tzinfo=None) if dialect.name == "sqlite" else value
        return value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class DateRanges(TypeDecorator):
    """A list of `DateRange`, stored as JSON `[{"start": "2027-02-15", "end": ...}]`."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: list[DateRange] | None, dialect) -> list[dict] | None:
        if value is None:
            return None
        return [{"start": r.start.isoformat(), "end": r.end.isoformat()} for r in value]

    def process_result_value(self, value: list[dict] | None, dialect) -> list[DateRange]:
        return [DateRange(date.fromisoformat(r["start"]), date.fromisoformat(r["end"])) for r in value or []]


class Amount(TypeDecorator):
    """A Decimal kept exact: NUMERIC on PostgreSQL, text on SQLite (whose numbers are floats)."""

    impl = Numeric(12, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        return dialect.type_descriptor(String(24) if dialect.name == "sqlite" else Numeric(12, 2))

    def process_bind_param(self, value: Decimal | None, dialect) -> Decimal | str | None:
        return str(value) if value is not None and dialect.name == "sqlite" else value

    def process_result_value(self, value: Decimal | str | None, dialect) -> Decimal | None:
        return None if value is None else Decimal(value).quantize(CENT)  # "25.50" from either database


class Base(DeclarativeBase):
    metadata = new_metadata()


outbox = outbox_table(Base.metadata)
processed_events = processed_events_table(Base.metadata)


class DivisionRow(Base):
    """A city division that can own requests; admins edit lead time and deadline."""

    __tablename__ = "divisions"
    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    lead_time_weeks: Mapped[int] = mapped_column(Integer, default=4)
    decision_deadline_days: Mapped[int] = mapped_column(Integer, default=5)


class FeeScheduleRow(Base):
    """What a division charges for hosting, and its cancellation terms; a division without one charges nothing."""

    __tablename__ = "fee_schedules"
    division: Mapped[str] = mapped_column(ForeignKey("divisions.code"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    price_per_visitor_hour: Mapped[Decimal] = mapped_column(Amount)
    minimum_net: Mapped[Decimal] = mapped_column(Amount)
    vat_percent: Mapped[Decimal] = mapped_column(Amount)
    exempt_ranks: Mapped[list[str]] = mapped_column(JSON, default=list)
    free_until_days: Mapped[int] = mapped_column(Integer)
    late_cancellation_percent: Mapped[Decimal] = mapped_column(Amount)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    def to_domain(self) -> FeeSchedule:
        return FeeSchedule(
            currency=self.currency,
            price_per_visitor_hour=self.price_per_visitor_hour,
            minimum_net=self.minimum_net,
            vat_percent=self.vat_percent,
            free_until_days=self.free_until_days,
            late_cancellation_percent=self.late_cancellation_percent,
            exempt_ranks=frozenset(self.exempt_ranks),
        )


class RoutingRule(Base):
    """Focus area -> owning division; admin-editable, seeded from DESIGN.md."""

    __tablename__ = "routing_rules"
    focus_area: Mapped[str] = mapped_column(String(50), primary_key=True)
    division: Mapped[str] = mapped_column(ForeignKey("divisions.code"))


class ReferenceCounter(Base):
    """The last reference number handed out per year; bumped on its own, before the submitting transaction."""

    __tablename__ = "reference_counters"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_value: Mapped[int] = mapped_column(Integer)


class VisitRequest(Base):
    """One delegation's request, from submission to its outcome."""

    __tablename__ = "requests"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    division: Mapped[str] = mapped_column(String(50))
    info_divisions: Mapped[list[str]] = mapped_column(JSON, default=list)
    primary_focus_area: Mapped[str] = mapped_column(String(50))
    organisation: Mapped[str] = mapped_column(String(200))
    organisation_key: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    language: Mapped[str] = mapped_column(String(2))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    highest_rank: Mapped[str] = mapped_column(String(30))
    delegation_size: Mapped[int] = mapped_column(Integer)
    preferred_dates: Mapped[list[DateRange]] = mapped_column(DateRanges)
    proposed_dates: Mapped[list[DateRange]] = mapped_column(DateRanges, default=list)
    purpose: Mapped[str] = mapped_column(Text)
    needs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    visit_date: Mapped[date | None] = mapped_column(Date)
    host: Mapped[str | None] = mapped_column(String(200))
    start_time: Mapped[time | None] = mapped_column(Time)  # local Helsinki time, like visit_date
    end_time: Mapped[time | None] = mapped_column(Time)
    venue: Mapped[str | None] = mapped_column(String(200))
    # The visit's revision: raised on every change to it once accepted (a new date, its cancellation), so that
    # calendars replace their copy of it (iCalendar SEQUENCE).
    sequence: Mapped[int] = mapped_column(Integer, server_default="0")
    # domain.Quote.as_json() (decimal strings); NULL, not JSON null, when there is no fee, so SQL can tell.
    quote: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    late_fee: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))  # domain.LateFee.as_json()
    decline_reason: Mapped[str | None] = mapped_column(String(30))
    short_notice: Mapped[bool] = mapped_column(Boolean, default=False)
    duplicate_of: Mapped[str | None] = mapped_column(String(20))
    decision_deadline: Mapped[date | None] = mapped_column(Date)
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The freed week the waitlist offered this request, while its division decides: a place held for it.
    offered_week: Mapped[str | None] = mapped_column(String(8))
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # declined, cancelled or completed
    erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # personal data anonymised
    tracking_token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Raised by every UPDATE, which also checks it: the request's ETag, and a guard against lost updates.
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    focus_area_rows: Mapped[list["RequestFocusArea"]] = relationship(
        order_by="RequestFocusArea.position", lazy="selectin", cascade="all, delete-orphan"
    )
    members: Mapped[list["Member"]] = relationship(
        order_by="Member.position", lazy="selectin", cascade="all, delete-orphan"
    )

    __table_args__ = (
        Index("ix_requests_created_at_id", "created_at", "id"),
        Index("ix_requests_country_created_at_id", "country", "created_at", "id"),
        Index("ix_requests_division_status", "division", "status"),
        Index("ix_requests_duplicates", "organisation_key", "primary_focus_area", "created_at"),
        Index("ix_requests_deadline", "status", "decision_deadline"),
        Index("ix_requests_status_visit_date", "status", "visit_date"),
        Index("ix_requests_status_ended_at", "status", "ended_at"),
        Index("ix_requests_offered_week", "division", "offered_week"),
    )
    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}

    @property
    def focus_areas(self) -> list[str]:
        return [row.focus_area for row in self.focus_area_rows]

    @property
    def flags(self) -> list[str]:
        """Derived from the columns that hold each flag, in a stable order."""
        present = {
            "short_notice": self.short_notice,
            "possible_duplicate": self.duplicate_of is not None,
            "escalated": self.escalated_at is not None,
        }
        return [flag for flag, on in present.items() if on]


class SubmissionKey(Base):
    """An Idempotency-Key seen with a submission: a retry with it gets `answer` again until the retention job
    forgets it.

    Neither the key nor the tracking token is stored: the token of a keyed submission is derived from the key's hash.
    """

    __tablename__ = "submission_keys"
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the namespaced key
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the validated body
    request_id: Mapped[str] = mapped_column(String(36))  # no foreign key: bookkeeping for a day
    answer: Mapped[dict[str, Any]] = mapped_column(JSON)  # reference, status, division, flags as first answered
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class RequestFocusArea(Base):
    """The request's 1-3 focus areas in order; position 0 is the primary one."""

    __tablename__ = "request_focus_areas"
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    focus_area: Mapped[str] = mapped_column(String(50), index=True)


class Member(Base):
    """A delegation member; name and title are personal data, erased to None (the row stays for counts)."""

    __tablename__ = "members"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(200))


class HistoryEntry(Base):
    """What happened to a request, and whether a rule, a person, the delegation or the system did it."""

    __tablename__ = "request_history"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    action: Mapped[str] = mapped_column(String(30))
    by: Mapped[str] = mapped_column(String(20))  # delegation | rule | person | system | waitlist
    actor: Mapped[str | None] = mapped_column(String(200))  # the staff member's sub when by == person
    status: Mapped[str] = mapped_column(String(20))
    division: Mapped[str] = mapped_column(String(50))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AuditEntry(Base):
    """Append-only (database triggers refuse UPDATE and DELETE); never holds personal data."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(200))  # staff sub, "delegation", "system" or "anonymous"
    role: Mapped[str | None] = mapped_column(String(30))
    action: Mapped[str] = mapped_column(String(50))
    outcome: Mapped[str] = mapped_column(String(10))  # allowed | denied
    request_id: Mapped[str | None] = mapped_column(String(36), index=True)
    reference: Mapped[str | None] = mapped_column(String(20))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class FullWeek(Base):
    """Read model of capacity.week_full / week_reopened: weeks a division cannot host more."""

    __tablename__ = "full_weeks"
    division: Mapped[str] = mapped_column(String(50), primary_key=True)
    iso_week: Mapped[str] = mapped_column(String(8), primary_key=True)
    since: Mapped[datetime] = mapped_column(UtcDateTime)


class WaitlistEntry(Base):
    """One row per preferred week of a waitlisted request; the oldest gets a reopened week."""

    __tablename__ = "waitlist"
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), primary_key=True)
    iso_week: Mapped[str] = mapped_column(String(8), primary_key=True)
    division: Mapped[str] = mapped_column(String(50))
    waitlisted_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_waitlist_division_week", "division", "iso_week", "waitlisted_at"),)


class StaffSession(Base):
    """A signed-in staff member. The cookie holds a random key; the row is found by the key's hash, and what it
    keeps sealed (name, provider tokens) opens only with that key. Sign-out deletes the row."""

    __tablename__ = "staff_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the cookie's key, hex
    sub: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(30))
    division: Mapped[str | None] = mapped_column(String(50))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)  # started_at + the longest session
    access_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # None: a development session
    sealed: Mapped[str] = mapped_column(Text)
