"""Calendars and fees across the city: the four services on PostgreSQL and Kafka and a real SMTP server.

A visit accepted with hours and a venue appears in its division's, protocol's and Communications' iCalendar feeds
(read by two independent parsers), reaches the delegation as an .ics, moves with a reschedule (capacity's week,
protocol's plan, a higher SEQUENCE) and shows cancelled once called off. Education charges for its visits: the
quote, the late-cancellation fee and the invoicing list.
"""

import csv
import io
from datetime import date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import icalendar
import vobject

from tests.e2e.city import mail_to, next_monday, submit
from tests.support import eventually

HELSINKI = ZoneInfo("Europe/Helsinki")
NBSP = "\N{NO-BREAK SPACE}"


def iso_week(day: date) -> str:
    return f"{day.isocalendar().year}-W{day.isocalendar().week:02d}"


async def new_feed(city, kind: str, division: str | None = None) -> dict:
    """A feed made by the division's own officer, or by an admin: its id and its secret address."""
    role = "division_officer" if division else "admin"
    made = await city.clients["notifications"].post(
        "/api/v1/calendar-feeds", json={"kind": kind}, headers=city.auth(role, division)
    )
    assert made.status_code == 201, made.text
    return made.json()


async def fetch(city, url: str):
    parts = urlsplit(url)
    return await city.clients["notifications"].get(parts.path, params=parse_qs(parts.query))


async def feed(city, url: str) -> tuple[str, dict]:
    """The feed's text and its VEVENTs by UID, parsed with icalendar."""
    answer = await fetch(city, url)
    assert answer.status_code == 200, answer.text
    return answer.text, {str(e["UID"]): e for e in icalendar.Calendar.from_ical(answer.content).walk("VEVENT")}


async def holding(city, url: str, uid: str, sequence: int) -> tuple[str, dict] | None:
    text, events = await feed(city, url)
    return (text, events) if uid in events and events[uid].get("SEQUENCE") == sequence else None


def calendar_files(messages) -> list[str]:
    return [
        part.get_content()
        for m in messages
        for part in m.iter_attachments()
        if part.get_content_type() == "text/calendar"
    ]


async def get_ok(client, url: str, headers: dict):
    answer = await client.get(url, headers=headers)
    return answer.json() if answer.status_code == 200 else None


async def test_an_accepted_visit_is_in_the_citys_calendars_moves_with_a_reschedule_and_shows_cancelled(city):
    monday = next_monday(22)
    first_day, moved_day = monday + timedelta(days=1), monday + timedelta(days=8)  # the week after
    division_feed = await new_feed(city, "division", "culture-and-leisure")
    division_url = division_feed["url"]
    other_url = (await new_feed(city, "division", "urban-environment"))["url"]
    protocol_url = (await new_feed(city, "protocol"))["url"]
    communications_url = (await new_feed(city, "communications"))["url"]
    email = f"calendar-{monday.isoformat()}@example.org"
    submitted = await submit(
        city,
        language="fi",
        focus="culture",
        rank="minister",
        email=email,
        preferred_dates=[{"start": monday.isoformat(), "end": (monday + timedelta(days=9)).isoformat()}],
    )
    reference, uid = submitted["reference"], f"{submitted['reference']}@visitdesk"
    officer = city.auth("division_officer", "culture-and-leisure")
    accepted = await city.visits.post(
        f"/api/v1/requests/{reference}/decision",
        json={
            "decision": "accept",
            "visit_date": first_day.isoformat(),
            "host": "Kulttuurijohtaja",
            "start_time": "10:00",
            "end_time": "13:00",
            "venue": "Oodi",
        },
        headers=officer,
    )
    assert accepted.status_code == 200, accepted.text

    text, events = await eventually(lambda: holding(city, division_url, uid, 0), timeout=30)
    event = events[uid]
    assert event.start == datetime(first_day.year, first_day.month, first_day.day, 10, tzinfo=event.start.tzinfo)
    assert event.end.hour == 13 and str(event.start.tzinfo) == "Europe/Helsinki"
    assert "BEGIN:VTIMEZONE" in text and "TZID:Europe/Helsinki" in text
    summary = str(event["SUMMARY"])
    assert reference in summary and "Ruotsi" in summary and "8 henkilöä" in summary  # staff language: Finnish
    assert str(event["LOCATION"]) == "Oodi" and str(event["STATUS"]) == "CONFIRMED"
    independent = vobject.readOne(text)
    [read] = [v for v in independent.vevent_list if v.uid.value == uid]
    expected = datetime(first_day.year, first_day.month, first_day.day, 10, tzinfo=HELSINKI)
    assert read.dtstart.value == expected and read.dtstart.value.utcoffset() == expected.utcoffset()
    assert read.sequence.value == "0" and read.location.value == "Oodi"
    for personal in ("Sven", "Svensson", email, "example.org"):
        assert personal not in text
    assert uid not in (await feed(city, other_url))[1]
    await eventually(lambda: holding(city, protocol_url, uid, 0), timeout=30)  # a minister: protocol level 2
    await eventually(lambda: holding(city, communications_url, uid, 0), timeout=30)

    [ics] = await eventually(lambda: _calendars_to(city, email, 1), timeout=30)
    attached = icalendar.Calendar.from_ical(ics)
    assert str(attached["METHOD"]) == "PUBLISH"
    [mine] = attached.walk("VEVENT")
    assert (str(mine["UID"]), mine.get("SEQUENCE")) == (uid, 0)
    assert "Helsingin kaupunkiin" in str(mine["SUMMARY"])  # the delegation's language
    assert vobject.readOne(ics).vevent.dtstart.value == expected

    moved = await city.visits.post(
        f"/api/v1/requests/{reference}/decision",
        json={"decision": "reschedule", "visit_date": moved_day.isoformat(), "message": "Oodi on suljettu."},
        headers=officer,
    )
    assert moved.status_code == 200, moved.text
    _text, events = await eventually(lambda: holding(city, division_url, uid, 1), timeout=30)
    assert events[uid].start.date() == moved_day and events[uid].start.hour == 10
    capacity, admin = city.clients["capacity"], city.auth("admin")

    async def held(day: date) -> bool:
        week = await get_ok(capacity, f"/api/v1/capacity/culture-and-leisure/{iso_week(day)}", admin)
        return reference in [r["reference"] for r in week["requests"]]

    async def reservation_moved() -> bool:
        return await held(moved_day) and not await held(first_day)

    await eventually(reservation_moved, timeout=30)
    plan = await eventually(lambda: _plan_on(city, reference, moved_day), timeout=30)
    assert (plan["start_time"], plan["venue"]) == ("10:00", "Oodi")
    second = await eventually(lambda: _calendars_to(city, email, 2), timeout=30)
    [again] = icalendar.Calendar.from_ical(second[-1]).walk("VEVENT")
    assert (str(again["UID"]), again.get("SEQUENCE")) == (uid, 1)
    assert "Oodi on suljettu." in mail_to(city, email)[-1].get_body(("plain",)).get_content()

    cancelled = await city.visits.post(
        f"/api/v1/requests/{reference}/cancel", params={"token": submitted["tracking_url"].split("token=")[1]}
    )
    assert cancelled.status_code == 200
    _text, events = await eventually(lambda: holding(city, division_url, uid, 2), timeout=30)
    assert str(events[uid]["STATUS"]) == "CANCELLED"

    revoked = await city.clients["notifications"].delete(
        f"/api/v1/calendar-feeds/{division_feed['id']}", headers=officer
    )
    assert revoked.status_code == 200
    assert (await fetch(city, division_url)).status_code == 404


async def _calendars_to(city, address: str, count: int) -> list[str] | None:
    files = calendar_files(mail_to(city, address))
    return files if len(files) >= count else None


async def _plan_on(city, reference: str, day: date) -> dict | None:
    plan = await get_ok(city.clients["protocol"], f"/api/v1/plans/{reference}", city.auth("protocol_officer"))
    return plan if plan and plan["visit_date"] == day.isoformat() else None


# --- fees ----------------------------------------------------------------------------------------------

EDUCATION_FEES = {
    "price_per_visitor_hour": "35.75",
    "minimum_net": "0",
    "vat_percent": "25.5",
    "exempt_ranks": ["head_of_state", "head_of_government", "minister"],
    "free_until_days": 14,
    "late_cancellation_percent": "50",
}
# 12 visitors for 3 hours: net 1287.00, VAT 25.5 % 328.185 (half up: 328.19), gross 1615.19.
SHOWN = {
    "fi": [f"1{NBSP}287,00{NBSP}€", f"328,19{NBSP}€", f"1{NBSP}615,19{NBSP}€", f"25,5{NBSP}%"],
    "sv": [f"1{NBSP}287,00{NBSP}€", f"328,19{NBSP}€", f"1{NBSP}615,19{NBSP}€", f"25,5{NBSP}%"],
    "en": ["€1,287.00", "€328.19", "€1,615.19", "25.5%"],
}
LATE = {
    "fi": f"myöhäisestä perumisesta laskutetaan 807,59{NBSP}€",
    "en": "a late-cancellation fee of €807.59",
}


async def _education_visit(city, *, language: str, days: int, rank: str = "expert") -> dict:
    start = date.today() + timedelta(days=days)
    email = f"fees-{language}-{days}-{rank}@example.org"
    submitted = await submit(
        city,
        language=language,
        rank=rank,
        email=email,
        delegation_size=12,
        preferred_dates=[{"start": start.isoformat(), "end": (start + timedelta(days=2)).isoformat()}],
    )
    accepted = await city.visits.post(
        f"/api/v1/requests/{submitted['reference']}/decision",
        json={
            "decision": "accept",
            "visit_date": start.isoformat(),
            "host": "Rehtori",
            "start_time": "09:00",
            "end_time": "12:00",
        },
        headers=city.auth("division_officer", "education"),
    )
    assert accepted.status_code == 200, accepted.text
    return submitted | {"email": email, "visit": accepted.json(), "page": urlsplit(submitted["tracking_url"])}


async def test_education_quotes_its_fee_in_each_language_charges_late_cancellations_and_lists_them_for_finance(city):
    admin = city.auth("admin")
    bad = await city.visits.put(
        "/api/v1/divisions/education/fees", json=EDUCATION_FEES | {"vat_percent": "120"}, headers=admin
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "vat_percent"]
    assert (
        await city.visits.put("/api/v1/divisions/education/fees", json=EDUCATION_FEES, headers=admin)
    ).status_code == 200

    visits = {lang: await _education_visit(city, language=lang, days=100) for lang in ("fi", "sv", "en")}
    for lang, visit in visits.items():
        assert visit["visit"]["quote"]["gross"] == "1615.19"
        [mail] = await eventually(lambda v=visit: _accepted_mail(city, v), timeout=30)
        body = mail.get_body(("plain",)).get_content()
        page = await city.visits.get(visit["page"].path, params=parse_qs(visit["page"].query) | {"lang": lang})
        for amount in SHOWN[lang]:
            assert amount in body, (lang, amount)
            assert amount in page.text, (lang, amount)
        assert calendar_files([mail])  # the fee does not replace the calendar file

    exempt = await _education_visit(city, language="en", days=101, rank="minister")
    assert exempt["visit"]["quote"] is None
    [mail] = await eventually(lambda: _accepted_mail(city, exempt), timeout=30)
    assert "€" not in mail.get_body(("plain",)).get_content() and "VAT" not in mail.get_body(("plain",)).get_content()

    late = await _education_visit(city, language="fi", days=5)
    free = await _education_visit(city, language="en", days=40)
    for visit in (late, free):
        cancelled = await city.visits.post(
            f"/api/v1/requests/{visit['reference']}/cancel", params=parse_qs(visit["page"].query)
        )
        assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["late_fee"] is None
    late_mail = await eventually(lambda: _mail_about(city, late, "peruttu"), timeout=30)
    assert LATE["fi"] in late_mail.get_body(("plain",)).get_content()
    free_mail = await eventually(lambda: _mail_about(city, free, "cancelled"), timeout=30)
    assert "free of charge" in free_mail.get_body(("plain",)).get_content()
    assert LATE["en"] not in free_mail.get_body(("plain",)).get_content()

    period = {"from": date.today().isoformat(), "to": (date.today() + timedelta(days=120)).isoformat()}
    answer = await city.visits.get("/api/v1/invoicing.csv", params=period, headers=admin)
    rows = {r["reference"]: r for r in csv.DictReader(io.StringIO(answer.text))}
    assert (
        rows[visits["en"]["reference"]]["gross"] == "1615.19"
        and rows[late["reference"]]["late_cancellation_gross"] == "807.59"
    )
    assert free["reference"] not in rows and exempt["reference"] not in rows


async def _accepted_mail(city, visit: dict):
    found = [m for m in mail_to(city, visit["email"]) if visit["reference"] in m["Subject"] and calendar_files([m])]
    return found or None


async def _mail_about(city, visit: dict, word: str):
    found = [m for m in mail_to(city, visit["email"]) if word in m["Subject"]]
    return found[-1] if found else None
