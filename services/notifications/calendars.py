"""Visits as iCalendar (RFC 5545, built with `icalendar`): the feeds staff subscribe to and the .ics that the
delegation's e-mails carry. A visit is one VEVENT with the same UID everywhere, so a calendar that holds it
replaces its copy when a later SEQUENCE comes."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar
from icalendar import Event as VEvent
from jinja2.environment import TemplateModule

from services.notifications.events import VisitEvent

HELSINKI = ZoneInfo("Europe/Helsinki")
PRODID = "-//City of Helsinki//visitdesk//EN"
REFRESH = timedelta(hours=1)  # how often a subscribed calendar should ask again


@dataclass(frozen=True)
class Entry:
    """One visit as a calendar shows it: when and where, its revision, and the words that describe it."""

    reference: str
    visit_date: date
    start_time: time | None  # local Helsinki time; without both times the visit takes the whole day
    end_time: time | None
    venue: str | None
    sequence: int
    cancelled: bool
    changed_at: datetime
    summary: str
    description: str | None = None


def uid(reference: str) -> str:
    """The visit's UID in every calendar: the feeds' and the delegation's."""
    return f"{reference}@visitdesk"


def vevent(entry: Entry, language: str) -> VEvent:
    """The visit as a VEVENT: local times with TZID Europe/Helsinki, or a whole day when it has no times."""
    if entry.start_time is not None and entry.end_time is not None:
        start: date = datetime.combine(entry.visit_date, entry.start_time, HELSINKI)
        end: date = datetime.combine(entry.visit_date, entry.end_time, HELSINKI)
    else:
        start, end = entry.visit_date, entry.visit_date + timedelta(days=1)
    changed = entry.changed_at.astimezone(UTC)
    event = VEvent.new(
        uid=uid(entry.reference),
        summary=entry.summary,
        description=entry.description,
        start=start,
        end=end,
        location=entry.venue,
        sequence=entry.sequence,
        status="CANCELLED" if entry.cancelled else "CONFIRMED",
        stamp=changed,
        last_modified=changed,
    )
    event["SUMMARY"].params["LANGUAGE"] = language
    return event


def calendar(entries: Iterable[Entry], *, name: str, language: str, calendar_uid: str) -> bytes:
    """An iCalendar document (METHOD:PUBLISH) of `entries`, with the VTIMEZONE their times need."""
    listed = list(entries)
    document = Calendar.new(prodid=PRODID, method="PUBLISH", name=name, uid=calendar_uid, refresh_interval=REFRESH)
    for entry in listed:
        document.add_component(vevent(entry, language))
    if listed:
        years = [entry.visit_date.year for entry in listed]
        document.add_missing_timezones(first_date=date(min(years), 1, 1), last_date=date(max(years) + 2, 1, 1))
    return document.to_ical()


def for_the_delegation(event: VisitEvent, words: TemplateModule, *, changed_at: datetime) -> str:
    """The visit of a visit.* event as the delegation's .ics, in its language: the same UID and SEQUENCE as in the
    city's feeds, cancelled once the visit is off."""
    entry = Entry(
        reference=event.reference,
        visit_date=event.visit_date,
        start_time=event.start_time,
        end_time=event.end_time,
        venue=event.venue,
        sequence=event.sequence,
        cancelled=event.status in ("cancelled", "declined"),
        changed_at=changed_at,
        summary=str(words.delegation_summary(event.reference)),
        description=str(words.delegation_description(event.division, event.host)),
    )
    name = str(words.delegation_summary(event.reference))
    return calendar([entry], name=name, language=event.language, calendar_uid=uid(event.reference)).decode()
