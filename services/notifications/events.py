"""Events notifications publishes on notifications.v1, and slim copies of the events it reads.

The copies declare only the fields the recipient rules and templates use; unknown fields are ignored.
"""

from datetime import date, time
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from shared.events import Event

TOPIC = "notifications.v1"
Language = Literal["fi", "sv", "en"]
RecipientKind = Literal["delegation", "division", "communications", "protocol_office", "international_affairs"]
Channel = Literal["email", "webhook"]


class NotificationDelivered(Event):
    topic: ClassVar[str] = TOPIC
    type: ClassVar[str] = "notification.delivered.v1"
    delivery_id: str
    event_id: str
    event_type: str
    reference: str | None
    recipient: RecipientKind
    channel: Channel


class NotificationFailed(NotificationDelivered):
    type: ClassVar[str] = "notification.failed.v1"
    error: str


# --- visits.v1 -------------------------------------------------------------------------------


class DateRange(BaseModel):
    model_config = ConfigDict(frozen=True)
    start: date
    end: date


class Needs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    press: bool = False


class Terms(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    free_until_days: int
    late_cancellation_percent: Decimal


class Quote(BaseModel):
    """The visit's fee as visits quoted it (decimal strings on the wire)."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    currency: str
    visitors: int
    hours: Decimal
    price_per_visitor_hour: Decimal
    minimum_net: Decimal
    net: Decimal
    vat_percent: Decimal
    vat: Decimal
    gross: Decimal
    terms: Terms


class LateFee(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    currency: str
    percent: Decimal
    net: Decimal
    vat_percent: Decimal
    vat: Decimal
    gross: Decimal


class VisitEvent(Event):
    """The request's state as every visit.* event carries it."""

    topic: ClassVar[str] = "visits.v1"
    request_id: str
    reference: str
    status: str
    division: str
    organisation: str
    country: str
    language: Language
    contact_name: str | None
    contact_email: str | None
    highest_rank: str
    delegation_size: int
    preferred_dates: list[DateRange]
    visit_date: date | None = None
    host: str | None = None
    start_time: time | None = None  # local Helsinki time on visit_date
    end_time: time | None = None
    venue: str | None = None
    sequence: int = 0  # the visit's revision (SEQUENCE of its calendar entry)
    quote: Quote | None = None
    needs: Needs
    tracking_url: str | None


class VisitSubmitted(VisitEvent):
    type: ClassVar[str] = "visit.submitted.v1"


class VisitRouted(VisitEvent):
    type: ClassVar[str] = "visit.routed.v1"
    routed_by: str = "rule"  # "delegation": the delegation took one of the dates its division proposed
    message: str = ""  # the delegation's words when it takes proposed dates


class VisitWaitlisted(VisitEvent):
    type: ClassVar[str] = "visit.waitlisted.v1"
    nearest_open_weeks: list[str]


class VisitAccepted(VisitEvent):
    type: ClassVar[str] = "visit.accepted.v1"


class VisitRescheduled(VisitEvent):
    type: ClassVar[str] = "visit.rescheduled.v1"
    previous_date: date
    message: str  # the division's words to the delegation


class VisitDeclined(VisitEvent):
    type: ClassVar[str] = "visit.declined.v1"
    reason: str
    message: str
    was_accepted: bool = False  # the division declined a visit it had accepted; protocol cancels the plan


class VisitRedirected(VisitEvent):
    type: ClassVar[str] = "visit.redirected.v1"
    from_division: str
    message: str


class VisitDatesProposed(VisitEvent):
    type: ClassVar[str] = "visit.dates_proposed.v1"
    proposed_dates: list[DateRange]
    message: str


class VisitCancelled(VisitEvent):
    type: ClassVar[str] = "visit.cancelled.v1"
    was_accepted: bool = False
    message: str = ""  # the delegation's words when it turns proposed dates down
    declined_proposed: bool = False  # the delegation turned down the dates its division proposed
    late_fee: LateFee | None = None  # called off after the free period of the visit's fee


class VisitEscalated(VisitEvent):
    type: ClassVar[str] = "visit.escalated.v1"
    deadline: date


class VisitPersonalDataErased(Event):
    topic: ClassVar[str] = "visits.v1"
    type: ClassVar[str] = "visit.personal_data_erased.v1"
    request_id: str
    reference: str


# --- capacity.v1 -----------------------------------------------------------------------------


class CapacityWeekFull(Event):
    topic: ClassVar[str] = "capacity.v1"
    type: ClassVar[str] = "capacity.week_full.v1"
    division: str
    iso_week: str
    reserved: int
    limit: int | None


# --- protocol.v1 -----------------------------------------------------------------------------


class PlanItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    key: str
    owner: str
    required: bool
    state: str


class ProtocolPlanReady(Event):
    topic: ClassVar[str] = "protocol.v1"
    type: ClassVar[str] = "protocol.plan_ready.v1"
    request_id: str
    reference: str
    division: str
    level: int
    visit_date: date | None = None


class ProtocolPlanCreated(ProtocolPlanReady):
    type: ClassVar[str] = "protocol.plan_created.v1"
    host: str | None = None
    items: list[PlanItem]
    conflicts: list[str]
    status: str = "draft"  # draft | ready | cancelled


class ProtocolPlanUpdated(ProtocolPlanCreated):
    """A plan's date, status or conflicts changed: the protocol feed follows (nobody is e-mailed)."""

    type: ClassVar[str] = "protocol.plan_updated.v1"


NOTIFYING: dict[str, type[Event]] = {
    model.type: model
    for model in (
        VisitSubmitted,
        VisitRouted,
        VisitWaitlisted,
        VisitAccepted,
        VisitRescheduled,
        VisitDeclined,
        VisitRedirected,
        VisitDatesProposed,
        VisitCancelled,
        VisitEscalated,
        CapacityWeekFull,
        ProtocolPlanCreated,
        ProtocolPlanReady,
    )
}
