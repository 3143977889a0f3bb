"""ISO weeks and the arithmetic of one week's capacity: free, full, over capacity, crossings."""

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

WEEK_PATTERN = r"^([0-9]{4})-W([0-9]{2})$"  # the shape only: week_monday also rejects W00 and a missing W53
_WEEK = re.compile(WEEK_PATTERN)
HELSINKI = ZoneInfo("Europe/Helsinki")


class InvalidWeek(ValueError):
    """A week string that is not a real ISO week like "2027-W07"."""


def iso_week(day: date) -> str:
    """The ISO week a day falls in, as "YYYY-Www" (2027-01-01 is in 2026-W53)."""
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def current_week(now: datetime) -> str:
    """The ISO week `now` falls in, in Helsinki: late on Sunday in UTC it is already Monday here."""
    return iso_week(now.astimezone(HELSINKI).date())


def week_monday(week: str) -> date:
    """The Monday of a valid ISO week, or InvalidWeek."""
    match = _WEEK.fullmatch(week)
    if match is None:
        raise InvalidWeek(f"{week!r} is not an ISO week like 2027-W07")
    try:
        return date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError as exc:  # week 00, week 53 of a 52-week year, year 0000
        raise InvalidWeek(f"{week!r} does not exist: {exc}") from exc


def validate_week(week: str) -> str:
    """`week` itself when it names a real ISO week, else InvalidWeek."""
    week_monday(week)
    return week


@dataclass(frozen=True)
class WeekLoad:
    """Reservations against a limit; a limit of None means unlimited."""

    limit: int | None
    reserved: int

    @property
    def free(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.reserved, 0)

    @property
    def full(self) -> bool:
        return self.limit is not None and self.reserved >= self.limit

    @property
    def over_capacity(self) -> bool:
        return self.limit is not None and self.reserved > self.limit


def crossing(before: WeekLoad, after: WeekLoad) -> Literal["full", "reopened"] | None:
    """Whether a change filled the week, reopened it, or neither (announced only on crossings)."""
    if after.full and not before.full:
        return "full"
    if before.full and not after.full:
        return "reopened"
    return None
