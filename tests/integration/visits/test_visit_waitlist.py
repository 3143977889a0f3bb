"""The visits side of the waitlist: full weeks from capacity.v1, waitlisting, and routing when a week reopens."""

from services.visits import models
from tests.integration.visits.running import week_dates
from tests.support import envelopes, eventually

WEEK = "2030-W10"  # no other test of the room prefers this week


async def _full_weeks(visits) -> set[str]:
    return {f"{r.division}:{r.iso_week}" for r in await visits.rows(models.FullWeek)}


async def test_a_request_for_full_weeks_waits_and_the_oldest_is_routed_when_a_week_reopens(visits):
    await visits.publish_capacity("capacity.week_full.v1", "education", WEEK)
    await eventually(lambda: _has(visits, f"education:{WEEK}"))

    first = await visits.submit(focus_areas=["education"], preferred_dates=[week_dates(WEEK)])
    second = await visits.submit(focus_areas=["education"], preferred_dates=[week_dates(WEEK, 3, 4)])
    elsewhere = await visits.submit(focus_areas=["culture"], preferred_dates=[week_dates(WEEK)])
    assert (first["status"], second["status"], elsewhere["status"]) == ("waitlisted", "waitlisted", "routed")

    first_id = (await visits.view(first["reference"]))["id"]
    waitlisted = envelopes(await visits.events(first_id, 2))
    assert [e["type"] for e in waitlisted] == ["visit.submitted.v1", "visit.waitlisted.v1"]
    assert waitlisted[1]["data"]["nearest_open_weeks"] == ["2030-W11", "2030-W12", "2030-W13"]
    assert waitlisted[1]["data"]["status"] == "waitlisted"

    await visits.publish_capacity("capacity.week_reopened.v1", "education", WEEK)
    await eventually(lambda: _status(visits, first["reference"], "routed"))
    assert (await visits.view(second["reference"]))["status"] == "waitlisted"
    assert f"education:{WEEK}" not in await _full_weeks(visits)

    routed = envelopes(await visits.events(first_id, 3))[2]
    assert routed["type"] == "visit.routed.v1" and routed["data"]["routed_by"] == "waitlist"
    assert routed["data"]["division"] == "education"
    history = (await visits.client.get(f"/api/v1/requests/{first['reference']}/history", headers=visits.staff())).json()
    assert [(h["action"], h["by"]) for h in history][-1] == ("routed", "waitlist")


async def test_a_request_with_one_open_preferred_week_is_routed(visits):
    week = "2030-W20"
    await visits.publish_capacity("capacity.week_full.v1", "education", week)
    await eventually(lambda: _has(visits, f"education:{week}"))
    submitted = await visits.submit(
        focus_areas=["education"], preferred_dates=[week_dates(week), week_dates("2030-W22")]
    )
    assert submitted["status"] == "routed"


async def test_a_waitlisted_request_can_still_be_cancelled_and_leaves_the_waitlist(visits):
    week = "2030-W30"
    await visits.publish_capacity("capacity.week_full.v1", "education", week)
    await eventually(lambda: _has(visits, f"education:{week}"))
    submitted = await visits.submit(focus_areas=["education"], preferred_dates=[week_dates(week)])
    request_id = (await visits.view(submitted["reference"]))["id"]
    assert await visits.count(models.WaitlistEntry, models.WaitlistEntry.request_id == request_id) == 1
    cancelled = await visits.client.post(
        f"/api/v1/requests/{submitted['reference']}/cancel", headers=visits.officer("education")
    )
    assert cancelled.json()["status"] == "cancelled"
    assert await visits.count(models.WaitlistEntry, models.WaitlistEntry.request_id == request_id) == 0


async def _has(visits, key: str) -> bool:
    return key in await _full_weeks(visits)


async def _status(visits, reference: str, status: str) -> bool:
    return (await visits.view(reference))["status"] == status


async def _waiting_for(visits, week: str, count: int) -> list[dict]:
    await visits.publish_capacity("capacity.week_full.v1", "education", week)
    await eventually(lambda: _has(visits, f"education:{week}"))
    waiting = [await visits.submit(focus_areas=["education"], preferred_dates=[week_dates(week)]) for _ in range(count)]
    assert [w["status"] for w in waiting] == ["waitlisted"] * count
    return waiting


async def test_a_place_the_first_in_line_does_not_take_goes_to_the_next_and_newcomers_queue_behind(visits):
    week = "2030-W34"
    first, second = await _waiting_for(visits, week, 2)
    await visits.publish_capacity("capacity.week_reopened.v1", "education", week)  # one place
    await eventually(lambda: _status(visits, first["reference"], "routed"))
    assert (await visits.view(second["reference"]))["status"] == "waitlisted"

    # A newcomer for the week waits behind the two who came first, though the week is not full.
    newcomer = await visits.submit(focus_areas=["education"], preferred_dates=[week_dates(week)])
    assert newcomer["status"] == "waitlisted"

    declined = await visits.decide(
        first["reference"], "education", decision="decline", reason="out_of_scope", message="Not ours."
    )
    assert declined.status_code == 200
    passed_on = await visits.view(second["reference"])
    assert passed_on["status"] == "routed"  # the place the first left went to the next in line
    assert (await visits.view(newcomer["reference"]))["status"] == "waitlisted"

    visit_day = week_dates(week)["start"]
    accepted = await visits.decide(
        second["reference"], "education", decision="accept", visit_date=visit_day, host="Head of unit"
    )
    assert accepted.status_code == 200  # it took the place: nobody else is offered it
    assert (await visits.view(newcomer["reference"]))["status"] == "waitlisted"


async def test_a_week_reopened_with_two_places_routes_the_two_oldest(visits):
    week = "2030-W36"
    first, second, third = await _waiting_for(visits, week, 3)
    await visits.publish_capacity("capacity.week_reopened.v1", "education", week, reserved=4, limit=6)
    await eventually(lambda: _status(visits, second["reference"], "routed"))
    assert (await visits.view(first["reference"]))["status"] == "routed"
    assert (await visits.view(third["reference"]))["status"] == "waitlisted"


async def test_a_week_without_a_limit_any_more_routes_everyone_waiting(visits):
    week = "2030-W38"
    waiting = await _waiting_for(visits, week, 3)
    await visits.publish_capacity("capacity.week_reopened.v1", "education", week, reserved=6, limit=None)
    for request in waiting:
        await eventually(lambda r=request: _status(visits, r["reference"], "routed"))
