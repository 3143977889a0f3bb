"""Tables of the capacity service."""

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.consumer import processed_events_table
from shared.db import new_metadata
from shared.outbox import outbox_table

ACTIVE = text("released_at IS NULL")


class Base(DeclarativeBase):
    metadata = new_metadata()


outbox = outbox_table(Base.metadata)
processed_events = processed_events_table(Base.metadata)


class Division(Base):
    """A hosting division and its default weekly limit (None = unlimited)."""

    __tablename__ = "divisions"
    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    default_limit: Mapped[int | None] = mapped_column(Integer)


class CapacityWeek(Base):
    """One division's week: created on demand, locked to serialise reservations, holds an own limit."""

    __tablename__ = "capacity_weeks"
    division: Mapped[str] = mapped_column(ForeignKey("divisions.code"), primary_key=True)
    iso_week: Mapped[str] = mapped_column(String(8), primary_key=True)
    has_own_limit: Mapped[bool] = mapped_column(default=False, server_default=false())
    week_limit: Mapped[int | None] = mapped_column(Integer)  # None = unlimited, when has_own_limit

    def limit(self, division: Division) -> int | None:
        """The week's own limit if an admin set one, else the division's default."""
        return self.week_limit if self.has_own_limit else division.default_limit


class Reservation(Base):
    """An accepted visit holding its week; released (kept, with released_at) on cancel or move."""

    __tablename__ = "reservations"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(String(40))
    division: Mapped[str] = mapped_column(String(50))
    iso_week: Mapped[str] = mapped_column(String(8))
    visit_date: Mapped[date] = mapped_column(Date)
    reserved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        ForeignKeyConstraint(
            ["division", "iso_week"],
            ["capacity_weeks.division", "capacity_weeks.iso_week"],
            name="fk_reservations_week_capacity_weeks",
        ),
        # One active reservation per request: a re-dated accept moves it, it never adds a second.
        Index(
            "uq_reservations_active_request", "request_id", unique=True, postgresql_where=ACTIVE, sqlite_where=ACTIVE
        ),
        Index("ix_reservations_active_week", "division", "iso_week", postgresql_where=ACTIVE, sqlite_where=ACTIVE),
    )
