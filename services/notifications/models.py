"""Tables of the notifications service."""

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text, UniqueConstraint
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
