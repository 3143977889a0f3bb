"""The rules of a visit request: routing, flags, allowed transitions, deadlines, ISO weeks, times and fees."""

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays

HELSINKI = ZoneInfo("Europe/Helsinki")
FALLBACK_DIVISION = "international-affairs"
FOCUS_AREAS = ("smart-city", "climate", "innovation", "mobility", "education", "participation", "culture", "design")
RANKS = ("head_of_state", "head_of_government", "minister", "ambassador", "mayor", "senior_official", "expert", "other")
DECLINE_REASONS = ("no_capacity", "out_of_scope", "short_notice", "duplicate", "other")
FLAGS = ("short_notice", "possible_duplicate", "escalated")
DUPLICATE_WINDOW_MONTHS = 24
# How far ahead a period may reach, and how long one may be: beyond that it is a typing error (year 9999 even
# broke the week arithmetic), and every preferred week is checked against the full ones.
BOOKING_HORIZON, LONGEST_PERIOD = timedelta(days=5 * 365 + 1), timedelta(days=366)

# Which statuses each action may start from; anything else is a conflict (409).
TRANSITIONS: dict[str, frozenset[str]] = {
    "accept": frozenset({"routed", "dates_proposed"}),
    # The owning division moves an accepted visit to another day, time or venue.
    "reschedule": frozenset({"accepted"}),
    "decline": frozenset({"routed", "dates_proposed", "waitlisted", "accepted"}),
    "redirect": frozenset({"routed", "dates_proposed", "waitlisted"}),
    "propose": frozenset({"routed", "dates_proposed", "waitlisted"}),
    "cancel": frozenset({"submitted", "routed", "waitlisted", "dates_proposed", "accepted"}),
    # The delegation's answer to proposed dates: take one (back to the division) or turn them down.
    "accept_proposed": frozenset({"dates_proposed"}),
    "decline_proposed": frozenset({"dates_proposed"}),
    # Only the scheduled job completes a visit, and only once its day is over.
    "complete": frozenset({"accepted"}),
}
ACTION_STATUS = {
    "accept": "accepted",
    "reschedule": "accepted",
    "decline": "declined",
    "redirect": "routed",
    "propose": "dates_proposed",
    "cancel": "cancelled",
    "accept_proposed": "routed",
    "decline_proposed": "cancelled",
    "complete": "completed",
}
# Where the retention clock starts: the visit day, or the moment the request ended without a visit; for a request
# still waiting for a decision or an answer (OPEN), the last of its preferred and proposed days.
VISITED, ENDED_WITHOUT_VISIT = ("accepted", "completed"), ("declined", "cancelled")
OPEN = ("submitted", "routed", "waitlisted", "dates_proposed")


class InvalidTransition(Exception):
    """The action is not allowed from the request's current status."""

    def __init__(self, action: str, status: str):
        super().__init__(f"cannot {action} a request that is {status}")
        self.action, self.status = action, status


class InvalidDecision(ValueError):
    """A decision whose content breaks a rule; `field` (and `others`) name the offending body fields."""

    def __init__(self, field: str, message: str, *others: str):
        super().__init__(message)
        self.field, self.fields = field, (field, *others)


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def iso_weeks(self) -> list[str]:
        """Every ISO week the range touches, in order."""
        weeks, day = [], self.start - timedelta(days=self.start.weekday())
        while day <= self.end:
            weeks.append(iso_week(day))
            day += timedelta(weeks=1)
        return weeks


@dataclass(frozen=True)
class Division:
    code: str
    lead_time_weeks: int = 4
    decision_deadline_days: int = 5


@dataclass(frozen=True)
class Routing:
    division: str
    info_divisions: list[str]


def route(focus_areas: list[str], rules: Mapping[str, str], divisions: Iterable[str]) -> Routing:
    """The primary focus area picks the owner; the others' divisions are told for information."""
    known = set(divisions)
    owners = [rules.get(area) for area in focus_areas]
    division = owners[0] if owners and owners[0] in known else FALLBACK_DIVISION
    info: list[str] = []
    for owner in owners[1:]:
        if owner in known and owner != division and owner not in info:
            info.append(owner)
    return Routing(division=division, info_divisions=info)


def is_short_notice(preferred: list[DateRange], today: date, lead_time_weeks: int) -> bool:
    """The earliest preferred day leaves the division less than its lead time."""
    return min(r.start for r in preferred) - today < timedelta(weeks=lead_time_weeks)


def organisation_key(name: str) -> str:
    """Case, width and spacing do not make a different organisation."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def duplicate_window_start(now: datetime) -> datetime:
    """The earliest creation time that still counts as a duplicate (24 months back)."""
    years = DUPLICATE_WINDOW_MONTHS // 12
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


def check_transition(action: str, status: str) -> str:
    """The status after `action`, or InvalidTransition."""
    if status not in TRANSITIONS[action]:
        raise InvalidTransition(action, status)
    return ACTION_STATUS[action]


@cache
def _finnish_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("FI", years=year)


def load_holidays(today: date) -> None:
    """Build this and next year's calendars now: the first build loads `holidays`' country data (1-3 s)."""
    for year in (today.year, today.year + 1):
        _finnish_holidays(year)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _finnish_holidays(day.year)


def add_working_days(start: date, days: int) -> date:
    """The day `days` working days after `start` (weekends and Finnish public holidays skipped)."""
    day = start
    while days > 0:
        day += timedelta(days=1)
        days -= is_working_day(day)
    return day


def local_date(moment: datetime) -> date:
    """The calendar date in Helsinki, where deadlines and years are counted."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(HELSINKI).date()


def is_overdue(deadline: date, now: datetime) -> bool:
    """A deadline day counts in full; the request is overdue from the next day on."""
    return local_date(now) > deadline


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def preferred_weeks(preferred: list[DateRange]) -> list[str]:
    weeks: list[str] = []
    for r in preferred:
        weeks += [w for w in r.iso_weeks() if w not in weeks]
    return weeks


def all_weeks_full(preferred: list[DateRange], full: set[str]) -> bool:
    """Waitlist only when no preferred week has room."""
    return all(week in full for week in preferred_weeks(preferred))


def nearest_open_weeks(preferred: list[DateRange], full: set[str], count: int = 3) -> list[str]:
    """The `count` nearest ISO weeks from the first preferred date on that are not full."""
    day = min(r.start for r in preferred)
    weeks: list[str] = []
    while len(weeks) < count:
        if iso_week(day) not in full:
            weeks.append(iso_week(day))
        day += timedelta(weeks=1)
    return weeks


def within_any(day: date, ranges: Iterable[DateRange]) -> bool:
    return any(r.contains(day) for r in ranges)


def within_one(picked: DateRange, ranges: Iterable[DateRange]) -> bool:
    """The whole of `picked` lies inside one of `ranges` (the delegation may narrow a proposal down)."""
    return any(r.contains(picked.start) and r.contains(picked.end) for r in ranges)


def visit_is_over(visit_date: date, now: datetime) -> bool:
    """A visit counts as done from the day after its date, Helsinki time."""
    return local_date(now) > visit_date


def retention_cutoffs(now: datetime, days: int) -> tuple[date, datetime]:
    """Personal data is kept `days` after the visit day, or after a request ended without a visit.

    Returns (visit days before this are due, requests ended at or before this moment are due).
    """
    return local_date(now) - timedelta(days=days), now - timedelta(days=days)


def last_day(preferred: list[DateRange], proposed: list[DateRange]) -> date:
    """The last day the request could still have been visited on."""
    return max(r.end for r in [*preferred, *proposed])


def reference(year: int, number: int) -> str:
    return f"HEL-{year}-{number:06d}"


def can_view(role: str, division: str | None, owner: str, info_divisions: list[str]) -> bool:
    """Division officers see their own division's requests and those shown to them for information."""
    return role != "division_officer" or division == owner or division in info_divisions


def can_act(role: str, division: str | None, owner: str) -> bool:
    """Only the owning division's officers, and admins, decide or cancel for the city."""
    return role == "admin" or (role == "division_officer" and division == owner)


# ---------------------------------------------------------------- the visit's hours and its fee

CENT = Decimal("0.01")
QUOTE_AMOUNTS = ("hours", "price_per_visitor_hour", "minimum_net", "net", "vat_percent", "vat", "gross")
LATE_FEE_AMOUNTS = ("percent", "net", "vat_percent", "vat", "gross")


def check_times(start: time | None, end: time | None) -> None:
    """Both or neither, and the visit ends after it starts, the same day."""
    if start is None and end is not None:
        raise InvalidDecision("start_time", "give start_time with end_time")
    if end is None and start is not None:
        raise InvalidDecision("end_time", "give end_time with start_time")
    if start is not None and end is not None and end <= start:
        raise InvalidDecision("end_time", "must be after start_time")


def visit_hours(start: time, end: time) -> Decimal:
    """Hours from start to end, to the hundredth: the hours the fee is counted on."""
    minutes = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
    return cents(Decimal(minutes) / 60)


def cents(amount: Decimal) -> Decimal:
    """Rounded to the cent, half up (as Finnish invoices are)."""
    return amount.quantize(CENT, ROUND_HALF_UP)


@dataclass(frozen=True)
class FeeSchedule:
    """What a division charges for hosting: per visitor and hour, at least `minimum_net`, VAT on top; and what
    calling a visit off costs: nothing until `free_until_days` before it, then a share of the net, VAT on top."""

    currency: str
    price_per_visitor_hour: Decimal
    minimum_net: Decimal
    vat_percent: Decimal
    free_until_days: int
    late_cancellation_percent: Decimal
    exempt_ranks: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Quote:
    """The fee of one visit, with the rates and terms it was quoted at (they hold for the visit if it moves)."""

    currency: str
    visitors: int
    hours: Decimal
    price_per_visitor_hour: Decimal
    minimum_net: Decimal
    net: Decimal
    vat_percent: Decimal
    vat: Decimal
    gross: Decimal
    free_until_days: int
    late_cancellation_percent: Decimal

    def as_json(self) -> dict[str, Any]:
        """Decimal strings, the terms grouped, as events carry it."""
        return (
            {"currency": self.currency, "visitors": self.visitors}
            | {name: str(getattr(self, name)) for name in QUOTE_AMOUNTS}
            | {
                "terms": {
                    "free_until_days": self.free_until_days,
                    "late_cancellation_percent": str(self.late_cancellation_percent),
                }
            }
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Quote":
        terms = data["terms"]
        return cls(
            currency=data["currency"],
            visitors=int(data["visitors"]),
            free_until_days=int(terms["free_until_days"]),
            late_cancellation_percent=Decimal(terms["late_cancellation_percent"]),
            **{name: Decimal(data[name]) for name in QUOTE_AMOUNTS},
        )

    def free_until(self, visit_date: date) -> date:
        """The last day the visit can be called off without a fee."""
        return visit_date - timedelta(days=self.free_until_days)


@dataclass(frozen=True)
class LateFee:
    """What calling a visit off after its free period costs."""

    currency: str
    percent: Decimal
    net: Decimal
    vat_percent: Decimal
    vat: Decimal
    gross: Decimal

    def as_json(self) -> dict[str, Any]:
        return {"currency": self.currency} | {name: str(getattr(self, name)) for name in LATE_FEE_AMOUNTS}


def quote(schedule: FeeSchedule | None, *, rank: str, visitors: int, start: time, end: time) -> Quote | None:
    """The fee for hosting a visit; None when the division charges nothing or the guests' rank is exempt."""
    if schedule is None or rank in schedule.exempt_ranks:
        return None
    return _priced(
        schedule.currency,
        visitors,
        visit_hours(start, end),
        schedule.price_per_visitor_hour,
        schedule.minimum_net,
        schedule.vat_percent,
        schedule.free_until_days,
        schedule.late_cancellation_percent,
    )


def requote(previous: Quote, *, start: time, end: time) -> Quote:
    """A moved visit's fee: its new hours at the rates and terms it was first quoted at."""
    return _priced(
        previous.currency,
        previous.visitors,
        visit_hours(start, end),
        previous.price_per_visitor_hour,
        previous.minimum_net,
        previous.vat_percent,
        previous.free_until_days,
        previous.late_cancellation_percent,
    )


def _priced(
    currency: str,
    visitors: int,
    hours: Decimal,
    price: Decimal,
    minimum: Decimal,
    vat_percent: Decimal,
    free_until_days: int,
    late_percent: Decimal,
) -> Quote:
    net = cents(max(price * visitors * hours, minimum))
    vat = cents(net * vat_percent / 100)
    return Quote(
        currency, visitors, hours, price, minimum, net, vat_percent, vat, net + vat, free_until_days, late_percent
    )


def late_fee(visit_quote: Quote | None, *, visit_date: date, today: date) -> LateFee | None:
    """What calling the visit off on `today` costs: nothing within the free period (or for a visit without a fee),
    then the terms' share of the net with VAT at the quote's rate."""
    if visit_quote is None or today <= visit_quote.free_until(visit_date):
        return None
    net = cents(visit_quote.net * visit_quote.late_cancellation_percent / 100)
    if not net:
        return None
    vat = cents(net * visit_quote.vat_percent / 100)
    return LateFee(
        visit_quote.currency, visit_quote.late_cancellation_percent, net, visit_quote.vat_percent, vat, net + vat
    )
