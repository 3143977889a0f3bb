"""Request and response bodies of the visits API."""

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Annotated, Any, Literal

import pycountry
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)

from services.visits import domain
from services.visits.events import LateFee, Quote

FocusArea = Literal[
    "smart-city", "climate", "innovation", "mobility", "education", "participation", "culture", "design"
]
Rank = Literal[
    "head_of_state", "head_of_government", "minister", "ambassador", "mayor", "senior_official", "expert", "other"
]
Language = Literal["fi", "sv", "en"]
Flag = Literal["short_notice", "possible_duplicate", "escalated"]
Status = Literal[
    "submitted", "routed", "waitlisted", "accepted", "declined", "dates_proposed", "cancelled", "completed"
]
DeclineReason = Literal["no_capacity", "out_of_scope", "short_notice", "duplicate", "other"]
Text200 = Annotated[str, Field(min_length=1, max_length=200)]
Message = Annotated[str, Field(max_length=2000)]


def _clock(value: Any) -> Any:
    """Only "HH:MM" (24-hour): pydantic's own time would also take seconds, offsets and numbers."""
    if isinstance(value, str) and len(value) == 5 and value[2] == ":" and value.replace(":", "").isdigit():
        return value
    if isinstance(value, time):
        return value
    raise ValueError("must be a local time as HH:MM, e.g. 09:30")


# A local time of day in Helsinki, "HH:MM" on the wire.
ClockTime = Annotated[time, BeforeValidator(_clock), PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str)]
Venue = Annotated[str, Field(min_length=1, max_length=200)]


def helsinki_today() -> date:
    return domain.local_date(datetime.now(UTC))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DateRangeIn(Strict):
    start: date
    end: date

    @field_validator("start")
    @classmethod
    def _not_in_the_past(cls, value: date) -> date:
        if value < helsinki_today():
            raise ValueError("must not be in the past")
        return value

    @field_validator("end")
    @classmethod
    def _not_before_start(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("start")
        if start is not None and value < start:
            raise ValueError("must not be before start")
        if value > helsinki_today() + domain.BOOKING_HORIZON:
            raise ValueError("must be at most five years ahead")
        if start is not None and value - start > domain.LONGEST_PERIOD:
            raise ValueError("a period may be at most a year long")
        return value

    def to_domain(self) -> domain.DateRange:
        return domain.DateRange(self.start, self.end)


DateRanges = Annotated[list[DateRangeIn], Field(min_length=1, max_length=3)]


class Contact(Strict):
    name: Text200
    email: EmailStr
    phone: Annotated[str, Field(max_length=40, pattern=r"^\+?[0-9][0-9 ()-]{4,38}$")] | None = None


class MemberIn(Strict):
    name: Text200
    title: Annotated[str, Field(max_length=200)] | None = None
    role: Annotated[str, Field(max_length=200)] | None = None


class NeedsIn(Strict):
    interpreter_language: Annotated[str, Field(max_length=100)] | None = None
    press: bool = False
    accessibility: Annotated[str, Field(max_length=1000)] | None = None


class VisitRequestCreate(Strict):
    """A delegation's request, as the form and the JSON API take it."""

    organisation: Text200
    country: str
    contact: Contact
    language: Language
    focus_areas: Annotated[list[FocusArea], Field(min_length=1, max_length=3)]
    delegation_size: Annotated[int, Field(ge=1, le=200)]
    highest_rank: Rank
    preferred_dates: DateRanges
    purpose: Annotated[str, Field(min_length=1, max_length=2000)]
    members: Annotated[list[MemberIn], Field(max_length=200)] = []
    needs: NeedsIn = NeedsIn()

    @field_validator("country")
    @classmethod
    def _iso_3166_alpha_2(cls, value: str) -> str:
        code = value.strip().upper()
        if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
            raise ValueError("must be an ISO 3166-1 alpha-2 country code")
        return code

    @field_validator("focus_areas")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each focus area may be named once")
        return value


class Submitted(BaseModel):
    """What the delegation gets back: keep the tracking URL, it is shown only once."""

    reference: str
    status: Status
    division: str
    tracking_url: str
    flags: list[Flag]


class DateRangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    start: date
    end: date


class NeedsOut(BaseModel):
    interpreter_language: str | None = None
    press: bool = False
    accessibility: str | None = None


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    name: str | None
    title: str | None
    role: str | None


class VisitRequestPublic(BaseModel):
    """The delegation's own view."""

    model_config = ConfigDict(from_attributes=True)
    reference: str
    status: Status
    division: str
    organisation: str
    country: str
    language: Language
    focus_areas: list[str]
    highest_rank: str
    delegation_size: int
    preferred_dates: list[DateRangeOut]
    proposed_dates: list[DateRangeOut]
    visit_date: date | None
    host: str | None
    start_time: ClockTime | None
    end_time: ClockTime | None
    venue: str | None
    quote: Quote | None  # the fee quoted on acceptance, as the events carry it
    late_fee: LateFee | None
    purpose: str
    needs: NeedsOut
    created_at: datetime
    updated_at: datetime


class VisitRequestStaff(VisitRequestPublic):
    """Staff see the routing, the flags and who to contact."""

    id: str
    info_divisions: list[str]
    flags: list[Flag]
    duplicate_of: str | None
    decision_deadline: date | None
    decline_reason: str | None
    contact_name: str | None
    contact_email: str | None
    contact_phone: str | None
    members: list[MemberOut]
    erased_at: datetime | None  # when contact and member data were anonymised


class VisitRequestSummary(BaseModel):
    """A row of the staff listing."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    reference: str
    status: Status
    division: str
    info_divisions: list[str]
    focus_areas: list[str]
    organisation: str
    country: str
    highest_rank: str
    delegation_size: int
    preferred_dates: list[DateRangeOut]
    visit_date: date | None
    flags: list[Flag]
    decision_deadline: date | None
    created_at: datetime


class Page(BaseModel):
    items: list[VisitRequestSummary]
    next_cursor: str | None


class HistoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    at: datetime
    action: str
    by: str
    actor: str | None
    status: str
    division: str
    details: dict


class AcceptDecision(Strict):
    """Times are local (Europe/Helsinki); a division that charges for visits needs both."""

    decision: Literal["accept"]
    visit_date: date
    host: Text200
    start_time: ClockTime | None = None
    end_time: ClockTime | None = None
    venue: Venue | None = None


class RescheduleDecision(Strict):
    """Move an accepted visit; a field left out keeps its value, `null` clears the times or the venue."""

    decision: Literal["reschedule"]
    visit_date: date
    start_time: ClockTime | None = None
    end_time: ClockTime | None = None
    venue: Venue | None = None
    host: Text200 | None = None
    message: Message = ""


class DeclineDecision(Strict):
    decision: Literal["decline"]
    reason: DeclineReason
    message: Message = ""


class RedirectDecision(Strict):
    decision: Literal["redirect"]
    to_division: Annotated[str, Field(min_length=1, max_length=50)]
    message: Message = ""


class ProposeDecision(Strict):
    decision: Literal["propose"]
    proposed_dates: DateRanges
    message: Message = ""


Decision = Annotated[
    AcceptDecision | DeclineDecision | RedirectDecision | ProposeDecision | RescheduleDecision,
    Field(discriminator="decision"),
]


class ProposalAnswer(Strict):
    """The delegation's answer to proposed dates: one range inside a proposal, or no to all of them."""

    accept_proposed: DateRangeIn | None = None
    decline_proposed: bool = False
    message: Message = ""

    @model_validator(mode="after")
    def _exactly_one_answer(self):
        if (self.accept_proposed is None) == (not self.decline_proposed):
            raise ValueError("give either accept_proposed or decline_proposed: true")
        return self


class RoutingRuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    focus_area: str
    division: str


class RoutingRuleUpdate(Strict):
    division: Annotated[str, Field(min_length=1, max_length=50)]


Money = Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=2)]
Percent = Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)]


class FeeScheduleIn(Strict):
    """What a division charges for hosting (per visitor and hour, at least the minimum, VAT on top), the ranks it
    does not charge, and what calling a visit off costs after the free period (a share of the net, VAT on top)."""

    currency: Literal["EUR"] = "EUR"
    price_per_visitor_hour: Money
    minimum_net: Money = Decimal("0")
    vat_percent: Percent = Field(Decimal("25.5"), description="Finland's general rate is 25.5")
    exempt_ranks: Annotated[list[Rank], Field(max_length=len(domain.RANKS))] = []
    free_until_days: Annotated[int, Field(ge=0, le=365)] = 0
    late_cancellation_percent: Percent = Decimal("0")

    @field_validator("exempt_ranks")
    @classmethod
    def _each_rank_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each rank may be named once")
        return value


class FeeScheduleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    currency: str
    price_per_visitor_hour: Decimal
    minimum_net: Decimal
    vat_percent: Decimal
    exempt_ranks: list[str]
    free_until_days: int
    late_cancellation_percent: Decimal


class DivisionOut(BaseModel):
    code: str
    name: str
    lead_time_weeks: int
    decision_days: int  # decision deadline in working days
    fees: FeeScheduleOut | None = None  # None: the division charges nothing


class DivisionUpdate(Strict):
    lead_time_weeks: Annotated[int, Field(ge=0, le=52)]
    decision_days: Annotated[int, Field(ge=1, le=60)]


class InvoicingFilters(BaseModel):
    start: date = Field(alias="from", ge=date(2000, 1, 1), le=date(2999, 12, 31), description="first visit day")
    end: date = Field(alias="to", ge=date(2000, 1, 1), le=date(2999, 12, 31), description="last visit day")


class ErasureOut(BaseModel):
    """What an erasure removed (or, in a dry run, would remove): field names and counts, never values."""

    reference: str
    dry_run: bool
    erased_at: datetime | None
    fields: dict[str, int]


class ListFilters(BaseModel):
    """Query of the staff listing; a division officer's `division` is forced to their own."""

    division: str | None = None
    status: Status | None = None
    focus_area: FocusArea | None = None
    country: str | None = None
    flag: Flag | None = None
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)
