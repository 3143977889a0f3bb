"""Tables of the protocol service."""

import datetime as dt
from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Integer, String, Text, Time, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from shared.consumer import processed_events_table
from shared.db import new_metadata
from shared.outbox import outbox_table


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = new_metadata()


outbox = outbox_table(Base.metadata)
processed_events = processed_events_table(Base.metadata)


class Plan(Base):
    """The protocol plan of one accepted visit; at most one per request."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(36), unique=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    division: Mapped[str] = mapped_column(String(60), index=True)
    level: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(120))
    visit_date: Mapped[dt.date] = mapped_column(Date, index=True)
    start_time: Mapped[dt.time | None] = mapped_column(Time)  # local Helsinki time, as the division set it
    end_time: Mapped[dt.time | None] = mapped_column(Time)
    venue: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft | ready | cancelled
    conflict: Mapped[bool] = mapped_column(Boolean, default=False)
    conflicts: Mapped[list[str]] = mapped_column(JSON, default=list)  # references of the clashing plans
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)

    items: Mapped[list["Item"]] = relationship(
        back_populates="plan", lazy="selectin", order_by="Item.id", cascade="all, delete-orphan"
    )

    def item(self, key: str) -> "Item | None":
        return next((item for item in self.items if item.key == key), None)


class Item(Base):
    """One checklist line of a plan."""

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("plan_id", "key", name="uq_items_plan_id_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(40))
    owner: Mapped[str] = mapped_column(String(40))
    required: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(20), default="open")
    note: Mapped[str | None] = mapped_column(Text, default=None)
    updated_by: Mapped[str | None] = mapped_column(String(200), default=None)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)

    plan: Mapped[Plan] = relationship(back_populates="items")


class Gift(Base):
    """A line of the gift register: given or received during one visit."""

    __tablename__ = "gifts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    reference: Mapped[str] = mapped_column(String(40))
    direction: Mapped[str] = mapped_column(String(10))  # given | received
    description: Mapped[str] = mapped_column(Text)
    value_band: Mapped[str] = mapped_column(String(20))
    giver: Mapped[str] = mapped_column(String(200))
    recipient: Mapped[str] = mapped_column(String(200))
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
