"""Tables of the notifications service."""

from datetime import date, datetime, time

from sqlalchemy import JSON, Date, DateTime, Index, Integer, String, Text, Time, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.consumer import processed_events_table
from shared.db import new_metadata
from shared.outbox import outbox_table


class Base(DeclarativeBase):
    metadata = new_metadata()


outbox = outbox_table(Base.metadata)
processed_events = processed_events_table(Base.metadata)

DIVISIONS = (
    "education",
    "urban-environment",
    "culture-and-leisure",
    "social-services-health",
    "city-executive-office",
    "economic-development",
    "forum-virium",
    "business-hub",
    "international-affairs",
)


class DivisionRecipient(Base):
    """Where a division hears its news: an e-mail address and an optional signed webhook."""

    __tablename__ = "division_recipients"
    division: Mapped[str] = mapped_column(String(100), primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    webhook_secret: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(200))


class TrackingLink(Base):
    """The delegation's private link: visits sends it only with the submission, so every later e-mail needs our copy."""

    __tablename__ = "tracking_links"
    request_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tracking_url: Mapped[str] = mapped_column(String(2000))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Delivery(Base):
    """One message for one recipient over one channel, rendered when the event arrived."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "recipient_kind", "channel", name="uq_deliveries_event_recipient_channel"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(100))
    source_topic: Mapped[str] = mapped_column(String(200))  # its DLQ is `<source_topic>.dlq`
    event_key: Mapped[str] = mapped_column(String(200))
    event: Mapped[str | None] = mapped_column(Text)  # the original envelope, for the DLQ; erased with the request
    request_id: Mapped[str | None] = mapped_column(String(36), index=True)
    reference: Mapped[str | None] = mapped_column(String(40), index=True)
    division: Mapped[str | None] = mapped_column(String(100), index=True)  # the request's, for access
    recipient_kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(2000))  # e-mail or webhook URL; None = unknown or erased
    language: Mapped[str] = mapped_column(String(2))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)  # plain text, or the webhook's JSON
    body_html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # pending | sent | failed | cancelled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    traceparent: Mapped[str | None] = mapped_column(String(55))  # the trace the event came with, for the send
    calendar: Mapped[str | None] = mapped_column(Text)  # the visit as an .ics attachment (the delegation's e-mails)


class CalendarVisit(Base):
    """An accepted visit as the calendar feeds show it: a read model of visits.v1 (no personal data)."""

    __tablename__ = "calendar_visits"
    __table_args__ = (Index("ix_calendar_visits_visit_date", "visit_date"),)
    request_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    reference: Mapped[str] = mapped_column(String(40))
    division: Mapped[str] = mapped_column(String(100))
    organisation: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    delegation_size: Mapped[int] = mapped_column(Integer)
    visit_date: Mapped[date] = mapped_column(Date)
    start_time: Mapped[time | None] = mapped_column(Time)  # local Helsinki time; None: all day
    end_time: Mapped[time | None] = mapped_column(Time)
    venue: Mapped[str | None] = mapped_column(String(200))
    sequence: Mapped[int] = mapped_column(Integer)  # the visit's revision, as visits numbers it
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # called off (or declined)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CalendarPlan(Base):
    """What the protocol feed needs of a visit's protocol plan: a read model of protocol.v1."""

    __tablename__ = "calendar_plans"
    request_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)
    conflicts: Mapped[list[str]] = mapped_column(JSON)  # references of the plans it clashes with
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CalendarFeed(Base):
    """A secret address a calendar subscribes to; only a hash of its token is kept. Revoked feeds answer 404."""

    __tablename__ = "calendar_feeds"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # division | protocol | communications
    division: Mapped[str | None] = mapped_column(String(100))  # the division of a division's feed
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the token, hex
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(200))
