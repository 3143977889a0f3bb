"""GET /api/v1/queue: counts, overdue, waiting, upcoming and waitlisted requests, by role."""

from datetime import date, datetime, time, timedelta

from sqlalchemy import update

from services.visits import domain, models
from services.visits.domain import HELSINKI
from services.visits.schemas import helsinki_today
from tests.builders import future
from tests.support import eventually


async def test_the_queue_shows_each_open_request_in_its_table_with_counts(live):
    waiting = await live.submit(country="IS")
    overdue = await live.submit(country="IS", focus_areas=["education", "culture"])
    prominent = await live.submit(
        country="IS",
        highest_rank="head_of_state",
        needs={"press": True},
        preferred_dates=[{"start": future(10), "end": future(12)}],
    )
    await live.decide(prominent["reference"], "education", decision="accept", visit_date=future(11), host="Mayor")
    await live.escalate(overdue["reference"])
    waitlisted = await _waitlisted(live, country="IS")

    queue = await live.queue(country="IS")

    assert _references(queue["overdue"]) == [overdue["reference"]]
    assert _references(queue["waiting"]) == [waiting["reference"]]
    assert _references(queue["upcoming"]) == [prominent["reference"]]
    assert _references(queue["waitlisted"]) == [waitlisted["reference"]]
    assert queue["counts"] == {
        "total": 4,
        "overdue": 1,
        "by_status": {"routed": 2, "accepted": 1, "waitlisted": 1},
        "by_division": {"education": 4},
        "by_focus_area": {"education": 4},
    }
    row = queue["waiting"]["items"][0]
    assert row["age_days"] == 0 and date.fromisoformat(row["decision_deadline"]) > helsinki_today()
    assert row["section"] == "waiting" and row["rank_level"] == 4 and row["press"] is False
    late = queue["overdue"]["items"][0]
    assert late["flags"] == ["escalated"] and late["section"] == "overdue"
    assert late["focus_areas"] == ["education", "culture"]
    upcoming = queue["upcoming"]["items"][0]
    assert (upcoming["rank_level"], upcoming["press"], upcoming["visit_date"]) == (1, True, future(11))
    assert queue["position"]  # where the stream would pick up


async def test_the_queue_carries_no_personal_data(live):
    await live.submit(
        country="FO",
        contact={"name": "Sigrid Hansen", "email": "sigrid@example.fo"},
        members=[{"name": "Jógvan Joensen"}],
    )
    text = (await live.client.get("/api/v1/queue", params={"country": "FO"}, headers=live.auth("communications"))).text
    assert "FO" in text
    for personal in ("Sigrid", "sigrid@example.fo", "Jógvan", "Delegation ", "contact"):
        assert personal not in text


async def test_tables_are_limited_and_say_when_there_is_more(live):
    for _ in range(3):
        await live.submit(country="LI")
    queue = await live.queue(country="LI", limit=2)
    assert len(queue["waiting"]["items"]) == 2 and queue["waiting"]["more"] is True
    assert queue["counts"]["total"] == 3  # counts are never cut


async def test_filters_narrow_the_queue_by_status_focus_area_and_division(live):
    education = await live.submit(country="MC")
    culture = await live.submit(country="MC", focus_areas=["culture"])
    by_focus = await live.queue(country="MC", focus_area="culture")
    assert _references(by_focus["waiting"]) == [culture["reference"]]
    by_division = await live.queue(country="mc", division="education")
    assert _references(by_division["waiting"]) == [education["reference"]]
    assert (await live.queue(country="MC", status="accepted"))["counts"]["total"] == 0
    assert (
        await live.client.get("/api/v1/queue", params={"status": "lost"}, headers=live.auth("communications"))
    ).status_code == 422


async def test_a_division_officer_sees_only_their_own_divisions_queue(live):
    education = await live.submit(country="SM")
    await live.submit(country="SM", focus_areas=["culture"])
    own = await live.queue("division_officer", "education", country="SM", division="culture-and-leisure")
    assert _references(own["waiting"]) == [education["reference"]]
    assert own["counts"]["by_division"] == {"education": 1}
    admin = await live.queue("admin", country="SM")
    assert admin["counts"]["total"] == 2


async def test_the_queue_refuses_callers_without_a_token_or_the_right_role(live):
    for path in ("/api/v1/queue", "/api/v1/queue/stream", "/api/v1/stats", "/api/v1/stats.csv"):
        assert (await live.client.get(path)).status_code == 401, path
        assert (await live.client.get(path, headers={"Authorization": "Bearer not-a-token"})).status_code == 401
        refused = await live.client.get(path, headers=live.auth("protocol_officer"))
        assert refused.status_code == 403, path


async def _waitlisted(live, country: str) -> dict:
    """A request whose only preferred week the capacity service has said is full."""
    today = helsinki_today()
    monday = today - timedelta(days=today.weekday()) + timedelta(weeks=30)
    await live.publish_week_full("education", domain.iso_week(monday))

    async def week_known() -> bool:
        async with live.app.state.sessions() as session:
            return await session.get(models.FullWeek, ("education", domain.iso_week(monday))) is not None

    await eventually(week_known)
    submitted = await live.submit(
        country=country,
        preferred_dates=[
            {"start": (monday + timedelta(days=1)).isoformat(), "end": (monday + timedelta(days=2)).isoformat()}
        ],
    )
    assert submitted["status"] == "waitlisted"
    return submitted


def _references(table: dict) -> list[str]:
    return [item["reference"] for item in table["items"]]


async def test_a_requests_age_counts_helsinki_days(live):
    submitted = await live.submit(country="WS")
    a_minute_before_midnight = datetime.combine(helsinki_today(), time(0), HELSINKI) - timedelta(minutes=1)
    async with live.app.state.sessions() as session:
        await session.execute(
            update(models.VisitRequest)
            .where(models.VisitRequest.reference == submitted["reference"])
            .values(created_at=a_minute_before_midnight)
        )
        await session.commit()
    [row] = (await live.queue(country="WS"))["waiting"]["items"]
    assert row["age_days"] == 1  # received yesterday, as the dashboard says


async def test_an_upcoming_visit_shows_its_hours_and_venue_and_follows_a_move(live):
    submitted = await live.submit(country="FM", preferred_dates=[{"start": future(10), "end": future(14)}])
    reference = submitted["reference"]
    await live.decide(
        reference,
        "education",
        decision="accept",
        visit_date=future(11),
        host="Rehtori",
        start_time="09:15",
        end_time="11:45",
        venue="Kallion lukio",
    )
    [row] = (await live.queue(country="FM"))["upcoming"]["items"]
    assert (row["visit_date"], row["start_time"], row["end_time"], row["venue"]) == (
        future(11),
        "09:15",
        "11:45",
        "Kallion lukio",
    )
    await live.decide(
        reference, "education", decision="reschedule", visit_date=future(13), start_time="13:00", end_time="14:00"
    )
    [row] = (await live.queue(country="FM"))["upcoming"]["items"]
    assert (row["visit_date"], row["start_time"], row["end_time"], row["venue"]) == (
        future(13),
        "13:00",
        "14:00",
        "Kallion lukio",
    )
