"""Events the visits service publishes on visits.v1, and the slim copies of those it reads.

Every visit.* event carries the request's current state (`VisitState`) so a consumer never has to
call back; the few event-specific fields sit beside it.
"""

from datetime import date
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

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
