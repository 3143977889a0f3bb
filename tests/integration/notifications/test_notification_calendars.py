"""Calendar feeds from real events on Kafka: secret addresses made and revoked through the API, the read models,
which feed holds which visit, and the delegation's .ics through the real SMTP server."""

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import icalendar
import pytest
import vobject
from sqlalchemy import select

from services.notifications.main import create_app
from services.notifications.models import CalendarFeed
from shared.db import make_engine, make_sessionmaker
from tests.support import bearer, eventually, serve
from visitdesk.mailsink import mailsink


@pytest.fixture(scope="module")
async def calendars(new_database, make_settings, tmp_path_factory):
    async with mailsink(tmp_path_factory.mktemp("mail")) as sink:
        settings = make_settings(await new_database("notifications"), sink.port, smtp_host=sink.host)
        app = create_app(settings)
        async with serve(app) as client:
            await app.state.runtime.kafka_started.wait()
            yield app, client, settings, sink


def _auth(settings, role: str, division: str | None = None) -> dict:
    return bearer(settings, role, division, sub=f"{role}-{division or 'all'}")


async def _new_feed(client, settings, kind: str, division: str | None = None, role: str = "admin") -> str:
    body = {"kind": kind} | ({"division": division} if division else {})
    made = await client.post("/api/v1/calendar-feeds", json=body, headers=_auth(settings, role, division))
    assert made.status_code == 201, made.text
    return made.json()["url"]


async def _fetch(client, url: str):
    parts = urlsplit(url)
    return await client.get(parts.path, params=parse_qs(parts.query))


async def _events_in(client, url: str) -> dict[str, icalendar.Event]:
    answer = await _fetch(client, url)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/calendar")
    return {str(e["UID"]): e for e in icalendar.Calendar.from_ical(answer.content).walk("VEVENT")}


def _time(days_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()


async def test_a_division_officer_makes_and_revokes_its_own_feed_only(calendars):
    _app, client, settings, _sink = calendars
    own = await client.post(
        "/api/v1/calendar-feeds", json={"kind": "division"}, headers=_auth(settings, "division_officer", "education")
    )
    assert own.status_code == 201 and own.json()["division"] == "education"
    assert urlsplit(own.json()["url"]).path == "/calendars/feed.ics"
    for body in ({"kind": "division", "division": "culture-and-leisure"}, {"kind": "protocol"}):
        refused = await client.post(
            "/api/v1/calendar-feeds", json=body, headers=_auth(settings, "division_officer", "education")
        )
        assert refused.status_code == 403
    assert (
        await client.post(
            "/api/v1/calendar-feeds", json={"kind": "communications"}, headers=_auth(settings, "communications")
        )
    ).status_code == 403
    wrong = await client.post(
        "/api/v1/calendar-feeds", json={"kind": "protocol", "division": "education"}, headers=_auth(settings, "admin")
    )
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "division"]

    listed = await client.get(
        "/api/v1/calendar-feeds", headers=_auth(settings, "division_officer", "culture-and-leisure")
    )
    assert own.json()["id"] not in [f["id"] for f in listed.json()]
    foreign = await client.delete(
        f"/api/v1/calendar-feeds/{own.json()['id']}", headers=_auth(settings, "division_officer", "culture-and-leisure")
    )
    assert foreign.status_code == 404
    assert (await _fetch(client, own.json()["url"])).status_code == 200

    revoked = await client.delete(
        f"/api/v1/calendar-feeds/{own.json()['id']}", headers=_auth(settings, "division_officer", "education")
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert (await _fetch(client, own.json()["url"])).status_code == 404
    listed = await client.get("/api/v1/calendar-feeds", headers=_auth(settings, "admin"))
    assert "url" not in listed.json()[0]


async def test_only_a_hash_of_the_feeds_secret_is_kept(calendars):
    _app, client, settings, _sink = calendars
    url = await _new_feed(client, settings, "communications")
    token = parse_qs(urlsplit(url).query)["token"][0]
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            stored = list(await session.scalars(select(CalendarFeed.token_hash)))
    finally:
        await engine.dispose()
    assert hashlib.sha256(token.encode()).hexdigest() in stored and token not in stored
    unknown = await client.get("/calendars/feed.ics", params={"token": token[:-4] + "AAAA"})
    assert unknown.status_code == 404


async def test_feeds_follow_acceptances_moves_and_cancellations_with_rising_sequence(calendars, publish, visit_event):
    _app, client, settings, _sink = calendars
    division_url = await _new_feed(client, settings, "division", "culture-and-leisure")
    other_url = await _new_feed(client, settings, "division", "urban-environment")
    request_id = str(uuid.uuid4())
    accepted = visit_event(
        "visit.accepted.v1",
        request_id,
        division="culture-and-leisure",
        start_time="10:00",
        end_time="13:00",
        venue="Oodi",
        sequence=0,
    )
    uid = f"{accepted['data']['reference']}@visitdesk"
    await publish(settings, "visits.v1", accepted)
    event = (await eventually(lambda: _having(client, division_url, uid)))[uid]
    assert event.start == datetime(2027, 3, 3, 10, 0, tzinfo=event.start.tzinfo)
    assert str(event.start.tzinfo) == "Europe/Helsinki" and event.get("SEQUENCE") == 0
    assert str(event["LOCATION"]) == "Oodi" and str(event["STATUS"]) == "CONFIRMED"
    summary = str(event["SUMMARY"])
    assert accepted["data"]["reference"] in summary and "Skolverket" in summary and "Ruotsi" in summary
    assert "12" in summary
    assert uid not in await _events_in(client, other_url)

    moved = visit_event(
        "visit.rescheduled.v1",
        request_id,
        reference=accepted["data"]["reference"],
        status="accepted",
        division="culture-and-leisure",
        visit_date="2027-03-05",
        previous_date="2027-03-03",
        message="",
        sequence=1,
    )
    await publish(settings, "visits.v1", moved)
    event = (await eventually(lambda: _having(client, division_url, uid, sequence=1)))[uid]
    assert event.start == datetime(2027, 3, 5).date()  # no hours any more: the whole day
    assert "LOCATION" not in event

    stale = accepted | {"id": str(uuid.uuid4())}  # the acceptance again, late: an older revision changes nothing
    cancelled = visit_event(
        "visit.cancelled.v1",
        request_id,
        reference=accepted["data"]["reference"],
        division="culture-and-leisure",
        visit_date="2027-03-05",
        was_accepted=True,
        sequence=2,
    )
    await publish(settings, "visits.v1", stale)
    await publish(settings, "visits.v1", cancelled)
    event = (await eventually(lambda: _having(client, division_url, uid, sequence=2)))[uid]
    assert str(event["STATUS"]) == "CANCELLED"


async def test_a_called_off_visit_leaves_the_feeds_thirty_days_after(calendars, publish, visit_event):
    _app, client, settings, _sink = calendars
    url = await _new_feed(client, settings, "division", "business-hub")
    uids = []
    for days_ago in (29, 31):  # called off this many days ago (the envelope's time)
        request_id = str(uuid.uuid4())
        accepted = visit_event("visit.accepted.v1", request_id, division="business-hub", sequence=0) | {
            "time": _time(days_ago + 1)
        }
        await publish(settings, "visits.v1", accepted)
        cancelled = visit_event(
            "visit.cancelled.v1",
            request_id,
            reference=accepted["data"]["reference"],
            division="business-hub",
            was_accepted=True,
            sequence=1,
        ) | {"time": _time(days_ago)}
        await publish(settings, "visits.v1", cancelled)
        uids.append(f"{accepted['data']['reference']}@visitdesk")
    kept_uid, gone_uid = uids
    events = await eventually(lambda: _having(client, url, kept_uid, sequence=1))
    assert str(events[kept_uid]["STATUS"]) == "CANCELLED" and gone_uid not in events


async def test_the_protocol_feed_holds_level_one_and_two_visits_and_those_in_conflict(calendars, publish, visit_event):
    _app, client, settings, _sink = calendars
    url = await _new_feed(client, settings, "protocol")
    visits = {}
    for name, level, conflicts in (("minister", 2, []), ("expert", 4, []), ("clashing", 3, ["HEL-X"])):
        request_id = str(uuid.uuid4())
        accepted = visit_event("visit.accepted.v1", request_id, division="forum-virium", sequence=0)
        await publish(settings, "visits.v1", accepted)
        reference = accepted["data"]["reference"]
        plan = {
            "id": str(uuid.uuid4()),
            "type": "protocol.plan_created.v1",
            "source": "protocol",
            "subject": request_id,
            "time": datetime.now(UTC).isoformat(),
            "specversion": "1.0",
            "data": {
                "request_id": request_id,
                "reference": reference,
                "division": "forum-virium",
                "level": level,
                "host": "Deputy Mayor",
                "visit_date": "2027-03-03",
                "items": [],
                "conflicts": conflicts,
                "status": "draft",
            },
        }
        await publish(settings, "protocol.v1", plan)
        visits[name] = f"{reference}@visitdesk"
    events = await eventually(lambda: _having(client, url, visits["minister"], visits["clashing"]))
    assert visits["expert"] not in events
    assert "Protokollataso 3" in str(events[visits["clashing"]]["DESCRIPTION"])
    assert "HEL-X" in str(events[visits["clashing"]]["DESCRIPTION"])


async def test_the_delegations_acceptance_mail_carries_the_visit_as_a_calendar_file(calendars, publish, visit_event):
    _app, _client, settings, sink = calendars
    email = f"{uuid.uuid4().hex[:8]}@example.se"
    accepted = visit_event(
        "visit.accepted.v1",
        contact_email=email,
        start_time="09:30",
        end_time="12:00",
        venue="Kallion lukio",
        sequence=0,
    )
    await publish(settings, "visits.v1", accepted)
    [mail] = await eventually(lambda: _mail_to(sink, email))
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_content_type() == "text/calendar" and attachment.get_param("method") == "PUBLISH"
    assert attachment.get_filename() == f"{accepted['data']['reference']}.ics"
    ics = attachment.get_content()
    parsed = icalendar.Calendar.from_ical(ics)
    assert str(parsed["METHOD"]) == "PUBLISH"
    [event] = parsed.walk("VEVENT")
    assert str(event["UID"]) == f"{accepted['data']['reference']}@visitdesk" and event.get("SEQUENCE") == 0
    assert event["SUMMARY"].params["LANGUAGE"] == "sv" and "Helsingfors" in str(event["SUMMARY"])
    second = vobject.readOne(ics)
    assert second.vevent.dtstart.value.utcoffset() == timedelta(hours=2)  # March: Helsinki in winter time
    assert "anna.lind" not in ics and "Anna Lind" not in ics


async def _having(client, url: str, *uids: str, sequence: int | None = None) -> dict | None:
    events = await _events_in(client, url)
    if not all(uid in events for uid in uids):
        return None
    if sequence is not None and any(events[uid].get("SEQUENCE") != sequence for uid in uids):
        return None
    return events


async def _mail_to(sink, address: str) -> list | None:
    found = [m for m in sink.messages() if address in m["X-Mailsink-Envelope-To"]]
    return found or None
