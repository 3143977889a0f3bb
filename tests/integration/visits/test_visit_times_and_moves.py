"""An accepted visit's hours and venue, and moving it: the API, the stored request, its history and its events."""

from services.visits import models
from tests.builders import future
from tests.integration.visits.running import token_of
from tests.support import envelopes


async def _accepted(visits, **decision) -> dict:
    submitted = await visits.submit(preferred_dates=[{"start": future(100), "end": future(110)}])
    body = {"decision": "accept", "visit_date": future(101), "host": "Head of unit"} | decision
    accepted = await visits.decide(submitted["reference"], "education", **body)
    assert accepted.status_code == 200, accepted.text
    return accepted.json()


async def test_an_acceptance_with_hours_and_a_venue_keeps_them_and_its_event_carries_them(visits):
    visit = await _accepted(visits, start_time="10:00", end_time="13:30", venue="Kallion lukio")
    assert (visit["start_time"], visit["end_time"], visit["venue"]) == ("10:00", "13:30", "Kallion lukio")
    assert visit["quote"] is None  # education charges nothing in this service
    accepted = envelopes(await visits.events(visit["id"], 3))[2]
    assert accepted["type"] == "visit.accepted.v1"
    data = accepted["data"]
    assert (data["start_time"], data["end_time"], data["venue"], data["sequence"]) == (
        "10:00",
        "13:30",
        "Kallion lukio",
        0,
    )
    own = (await visits.client.get(f"/api/v1/requests/{visit['reference']}", params={"token": "x"})).status_code
    assert own == 404  # the delegation's view needs its own token (checked with one in the tracking tests)


async def test_an_acceptance_without_hours_is_a_whole_day(visits):
    visit = await _accepted(visits)
    assert (visit["start_time"], visit["end_time"], visit["venue"]) == (None, None, None)


async def test_hours_that_end_before_they_start_or_come_alone_are_refused_naming_the_field(visits):
    submitted = await visits.submit()
    reference = submitted["reference"]
    base = {"decision": "accept", "visit_date": future(101), "host": "H"}
    for times, field in (
        ({"start_time": "13:00", "end_time": "10:00"}, "end_time"),
        ({"start_time": "13:00"}, "end_time"),
        ({"end_time": "13:00"}, "start_time"),
        ({"start_time": "25:00", "end_time": "26:00"}, "start_time"),
        ({"start_time": "10:00:00", "end_time": "12:00"}, "start_time"),
    ):
        refused = await visits.decide(reference, "education", **base, **times)
        assert refused.status_code == 422, refused.text
        assert field in [error["loc"][-1] for error in refused.json()["detail"]], (times, refused.text)
    assert (await visits.view(reference))["status"] == "routed"


async def test_the_owning_division_moves_an_accepted_visit_with_its_own_event_and_a_new_revision(visits):
    visit = await _accepted(visits, start_time="10:00", end_time="12:00", venue="Kallion lukio")
    reference = visit["reference"]
    moved = await visits.decide(
        reference,
        "education",
        decision="reschedule",
        visit_date=future(104),
        start_time="13:00",
        end_time="15:00",
        message="The school has an exam that morning.",
    )
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert (body["status"], body["visit_date"], body["start_time"], body["end_time"]) == (
        "accepted",
        future(104),
        "13:00",
        "15:00",
    )
    assert body["venue"] == "Kallion lukio" and body["host"] == "Head of unit"  # left out: kept
    rescheduled = envelopes(await visits.events(visit["id"], 4))[3]
    assert rescheduled["type"] == "visit.rescheduled.v1"
    data = rescheduled["data"]
    assert (data["previous_date"], data["visit_date"], data["sequence"]) == (future(101), future(104), 1)
    assert data["message"] == "The school has an exam that morning." and data["status"] == "accepted"
    history = (await visits.client.get(f"/api/v1/requests/{reference}/history", headers=visits.staff())).json()
    assert history[-1]["action"] == "rescheduled" and history[-1]["details"]["previous_date"] == future(101)
    [audit] = await visits.rows(
        models.AuditEntry, models.AuditEntry.reference == reference, models.AuditEntry.action == "request.rescheduled"
    )
    assert audit.details["visit_date"] == future(104) and "message" not in audit.details

    cleared = await visits.decide(reference, "education", decision="reschedule", visit_date=future(104), venue=None)
    assert cleared.status_code == 200 and cleared.json()["venue"] is None
    assert envelopes(await visits.events(visit["id"], 5))[4]["data"]["sequence"] == 2


async def test_a_move_is_refused_outside_the_agreed_dates_or_when_nothing_changes_and_changes_nothing(visits):
    visit = await _accepted(visits, start_time="10:00", end_time="12:00")
    reference = visit["reference"]
    outside = await visits.decide(reference, "education", decision="reschedule", visit_date=future(130))
    assert outside.status_code == 422 and outside.json()["detail"][0]["loc"] == ["body", "visit_date"]
    same = await visits.decide(reference, "education", decision="reschedule", visit_date=future(101))
    assert same.status_code == 422 and same.json()["detail"][0]["loc"] == ["body", "visit_date"]
    half = await visits.decide(reference, "education", decision="reschedule", visit_date=future(102), end_time=None)
    assert half.status_code == 422 and half.json()["detail"][0]["loc"] == ["body", "end_time"]
    elsewhere = await visits.decide(reference, "culture-and-leisure", decision="reschedule", visit_date=future(102))
    assert elsewhere.status_code == 404
    after = await visits.view(reference)
    assert (after["visit_date"], after["start_time"]) == (future(101), "10:00")
    assert len(await visits.rows(models.HistoryEntry, models.HistoryEntry.request_id == visit["id"])) == 3


async def test_only_an_accepted_visit_can_be_moved(visits):
    submitted = await visits.submit()
    refused = await visits.decide(submitted["reference"], "education", decision="reschedule", visit_date=future(101))
    assert refused.status_code == 409


async def test_calling_off_an_accepted_visit_raises_its_revision_for_the_calendars(visits):
    submitted = await visits.submit(preferred_dates=[{"start": future(100), "end": future(110)}])
    accepted = await visits.decide(
        submitted["reference"], "education", decision="accept", visit_date=future(101), host="H"
    )
    request_id = accepted.json()["id"]
    cancelled = await visits.client.post(
        f"/api/v1/requests/{submitted['reference']}/cancel", params={"token": token_of(submitted)}
    )
    assert cancelled.status_code == 200
    event = envelopes(await visits.events(request_id, 4))[3]
    assert event["type"] == "visit.cancelled.v1" and event["data"]["sequence"] == 1
    assert event["data"]["late_fee"] is None and event["data"]["was_accepted"] is True
