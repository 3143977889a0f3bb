"""Events the visits service publishes on visits.v1, and the slim copies of those it reads.

Every visit.* event carries the request's current state (`VisitState`) so a consumer never has to
call back; the few event-specific fields sit beside it.
"""

from datetime import date, time
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from shared.events import Event

TOPIC = "visits.v1"
Language = Literal["fi", "sv", "en"]


class DateRange(BaseModel):
    model_config = ConfigDict(frozen=True)
    start: date
    end: date


class Needs(BaseModel):
    model_config = ConfigDict(frozen=True)
    interpreter_language: str | None = None
    press: bool = False
    accessibility: str | None = None


# A local time of day in Helsinki, "HH:MM" on the wire.
ClockTime = Annotated[time, PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str)]


class Terms(BaseModel):
    """Calling the visit off is free until `free_until_days` before it, then costs this share of the net."""

    model_config = ConfigDict(frozen=True)
    free_until_days: int
    late_cancellation_percent: Decimal


class Quote(BaseModel):
    """The visit's fee, quoted from its division's schedule on acceptance; decimal strings, rounded to the cent."""

    model_config = ConfigDict(frozen=True)
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
    """What the visit's cancellation after its free period costs: `percent` of the quote's net, VAT on top."""

    model_config = ConfigDict(frozen=True)
    currency: str
    percent: Decimal
    net: Decimal
    vat_percent: Decimal
    vat: Decimal
    gross: Decimal


class VisitState(Event):
    """The request as it stands after the change; contact fields are None once erased."""

    topic: ClassVar[str] = TOPIC
    request_id: str
    reference: str
    status: str
    division: str
    info_divisions: list[str]
    focus_areas: list[str]
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
    start_time: ClockTime | None = None  # local time in Helsinki on visit_date; None: the day, no time set
    end_time: ClockTime | None = None
    venue: str | None = None
    sequence: int = 0  # the visit's revision, raised on each change once accepted (a calendar's SEQUENCE)
    quote: Quote | None = None  # None: no fee (the division charges nothing, or the rank is exempt)
    needs: Needs
    flags: list[str]
    tracking_url: str | None
    actor: str  # "delegation", "rule", "system" or the staff member's sub


class VisitSubmitted(VisitState):
    type: ClassVar[str] = "visit.submitted.v1"


class VisitRouted(VisitState):
    type: ClassVar[str] = "visit.routed.v1"
    # "delegation": the delegation took one of the dates the division proposed.
    routed_by: Literal["rule", "person", "waitlist", "delegation"] = "rule"
    message: str = ""  # the delegation's words when it takes proposed dates


class VisitWaitlisted(VisitState):
    type: ClassVar[str] = "visit.waitlisted.v1"
    nearest_open_weeks: list[str]  # ISO weeks, e.g. "2027-W07"


class VisitAccepted(VisitState):
    type: ClassVar[str] = "visit.accepted.v1"


class VisitRescheduled(VisitState):
    """The owning division moved an accepted visit: another day, other times or another venue."""

    type: ClassVar[str] = "visit.rescheduled.v1"
    previous_date: date
    message: str  # the division's words to the delegation


class VisitDeclined(VisitState):
    type: ClassVar[str] = "visit.declined.v1"
    reason: Literal["no_capacity", "out_of_scope", "short_notice", "duplicate", "other"]
    message: str
    was_accepted: bool = False  # a decline after acceptance releases the reserved week


class VisitRedirected(VisitState):
    type: ClassVar[str] = "visit.redirected.v1"
    from_division: str
    message: str
    redirected_by: Literal["rule", "person"] = "person"


class VisitDatesProposed(VisitState):
    type: ClassVar[str] = "visit.dates_proposed.v1"
    proposed_dates: list[DateRange]
    message: str


class VisitCancelled(VisitState):
    type: ClassVar[str] = "visit.cancelled.v1"
    was_accepted: bool = False
    message: str = ""  # the delegation's words when it turns proposed dates down
    declined_proposed: bool = False  # the delegation turned down the dates its division proposed
    late_fee: LateFee | None = None  # called off after the quote's free period


class VisitCompleted(VisitState):
    """The visit's day is over; published by the scheduled job the day after."""

    type: ClassVar[str] = "visit.completed.v1"


class VisitEscalated(VisitState):
    type: ClassVar[str] = "visit.escalated.v1"
    deadline: date


class VisitPersonalDataErased(Event):
    """Contact and member data of the request are anonymised here; every service erases its copies."""

    topic: ClassVar[str] = TOPIC
    type: ClassVar[str] = "visit.personal_data_erased.v1"
    request_id: str
    reference: str


# What visits reads from capacity.v1 for its read model of full weeks.
class CapacityWeekChanged(Event):
    topic: ClassVar[str] = "capacity.v1"
    division: str
    iso_week: str = Field(pattern=r"^\d{4}-W\d{2}$")
    reserved: int = Field(ge=0)
    limit: int | None  # None: no limit (any number of places)
