"""The rest of the lifecycle: the delegation answers proposed dates; the day after the visit it is completed."""

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import update

from services.visits import domain, jobs, models
from services.visits.schemas import helsinki_today
from tests.builders import future
from tests.integration.visits.running import start_visits, token_of
from tests.support import envelopes, eventually


async def _proposed(visits, *ranges: tuple[int, int]) -> tuple[dict, str]:
    """A request the education division answered with other dates; returns it and its tracking token."""
    submitted = await visits.submit()
    proposed = await visits.decide(
        submitted["reference"],
        "education",
        decision="propose",
        message="Autumn?",
        proposed_dates=[{"start": future(a), "end": future(b)} for a, b in ranges],
    )
    assert proposed.json()["status"] == "dates_proposed", proposed.text
    return submitted, token_of(submitted)


async def _respond(visits, reference: str, token: str | None, body: dict):
    params = {"token": token} if token else {}
    return await visits.client.post(f"/api/v1/requests/{reference}/respond", params=params, json=body)


async def test_taking_a_proposed_range_sends_the_request_back_to_the_division_with_those_dates(visits):
    submitted, token = await _proposed(visits, (150, 154), (180, 184))
    reference = submitted["reference"]
    taken = await _respond(visits, reference, token, {"accept_proposed": {"start": future(181), "end": future(182)}})
    assert taken.status_code == 200, taken.text
    assert "contact_email" not in taken.json()
    assert (taken.json()["status"], taken.json()["preferred_dates"], taken.json()["proposed_dates"]) == (
        "routed",
        [{"start": future(181), "end": future(182)}],
        [],
    )
    staff_view = await visits.view(reference)
    assert staff_view["decision_deadline"] == domain.add_working_days(helsinki_today(), 5).isoformat()
    events = envelopes(await visits.events(staff_view["id"], 4))
    assert [e["type"] for e in events] == [
        "visit.submitted.v1",
        "visit.routed.v1",
        "visit.dates_proposed.v1",
        "visit.routed.v1",
    ]
    assert (events[3]["data"]["routed_by"], events[3]["data"]["actor"]) == ("delegation", "delegation")
    history = (await visits.client.get(f"/api/v1/requests/{reference}/history", headers=visits.staff())).json()
    assert (history[-1]["action"], history[-1]["by"], history[-1]["details"]["accepted_dates"]) == (
        "routed",
        "delegation",
        [{"start": future(181), "end": future(182)}],
    )
    outside_now = await visits.decide(reference, "education", decision="accept", visit_date=future(150), host="H")
    assert outside_now.status_code == 422
    accepted = await visits.decide(reference, "education", decision="accept", visit_date=future(182), host="H")
    assert accepted.json()["status"] == "accepted"


async def test_turning_the_proposed_dates_down_cancels_the_request_in_the_delegations_words(visits):
    submitted, token = await _proposed(visits, (150, 154))
    declined = await _respond(
        visits, submitted["reference"], token, {"decline_proposed": True, "message": "Our parliament sits then."}
    )
    assert declined.status_code == 200 and declined.json()["status"] == "cancelled"
    request_id = (await visits.view(submitted["reference"]))["id"]
    cancelled = envelopes(await visits.events(request_id, 4))[3]
    assert cancelled["type"] == "visit.cancelled.v1"
    assert (cancelled["data"]["actor"], cancelled["data"]["message"], cancelled["data"]["was_accepted"]) == (
        "delegation",
        "Our parliament sits then.",
        False,
    )
    [request] = await visits.rows(models.VisitRequest, models.VisitRequest.id == request_id)
    assert request.ended_at is not None


async def test_an_answer_must_fit_a_proposal_come_with_the_token_and_only_while_dates_are_proposed(visits):
    submitted, token = await _proposed(visits, (150, 154))
    reference = submitted["reference"]
    outside = await _respond(visits, reference, token, {"accept_proposed": {"start": future(153), "end": future(156)}})
    assert outside.status_code == 422 and outside.json()["detail"][0]["loc"] == ["body", "accept_proposed"]
    both = await _respond(
        visits,
        reference,
        token,
        {"accept_proposed": {"start": future(150), "end": future(151)}, "decline_proposed": True},
    )
    assert both.status_code == 422
    wrong = await _respond(visits, reference, "guess", {"decline_proposed": True})
    staff_only = await visits.client.post(
        f"/api/v1/requests/{reference}/respond", headers=visits.staff(), json={"decline_proposed": True}
    )
    assert (wrong.status_code, staff_only.status_code) == (404, 404)
    view = await visits.view(reference)
    assert view["status"] == "dates_proposed"
    denied = await visits.rows(
        models.AuditEntry, models.AuditEntry.request_id == view["id"], models.AuditEntry.outcome == "denied"
    )
    assert sorted(d.details["why"] for d in denied) == ["bad_token", "no_credentials"]
    routed = await visits.submit()
    not_proposed = await _respond(visits, routed["reference"], token_of(routed), {"decline_proposed": True})
    assert not_proposed.status_code == 409


async def test_an_accepted_visit_is_completed_the_day_after_and_never_before(new_database, kafka_bootstrap):
    async with start_visits(await new_database("visits"), kafka_bootstrap, completion_interval_seconds=0.2) as visits:
        reference = (await visits.submit())["reference"]
        accepted = await visits.decide(reference, "education", decision="accept", visit_date=future(101), host="H")
        request_id = accepted.json()["id"]
        early = await visits.decide(reference, "education", decision="complete")
        assert early.status_code == 422  # staff have no way to complete a visit
        visit_day = datetime.combine(helsinki_today() + timedelta(days=101), time(12), tzinfo=domain.HELSINKI)
        async with visits.app.state.sessions() as session:
            on_the_day = await jobs.complete_past_visits(session=session, settings=visits.settings, now=visit_day)
            assert (await visits.view(reference))["status"] == "accepted"
            next_day = await jobs.complete_past_visits(
                session=session, settings=visits.settings, now=visit_day + timedelta(days=1)
            )
            again = await jobs.complete_past_visits(
                session=session, settings=visits.settings, now=visit_day + timedelta(days=2)
            )
        assert (on_the_day, next_day, again) == (0, 1, 0)
        assert (await visits.view(reference))["status"] == "completed"
        completed = envelopes(await visits.events(request_id, 4))[3]
        assert completed["type"] == "visit.completed.v1"
        assert (completed["data"]["status"], completed["data"]["actor"]) == ("completed", "system")
        for late in (
            {"decision": "decline", "reason": "other"},
            {"decision": "redirect", "to_division": "culture-and-leisure"},
        ):
            assert (await visits.decide(reference, "education", **late)).status_code == 409
        cancel = await visits.client.post(f"/api/v1/requests/{reference}/cancel", headers=visits.officer("education"))
        assert cancel.status_code == 409

        yesterday = await visits.submit()
        await visits.decide(yesterday["reference"], "education", decision="accept", visit_date=future(100), host="H")
        async with visits.app.state.sessions() as session:
            await session.execute(
                update(models.VisitRequest)
                .where(models.VisitRequest.reference == yesterday["reference"])
                .values(visit_date=helsinki_today() - timedelta(days=1))
            )
            await session.commit()
        await eventually(lambda: _status_is(visits, yesterday["reference"], "completed"))
        assert await visits.count(models.outbox, models.outbox.c.type == "visit.completed.v1") == 2
        [row] = await visits.rows(models.VisitRequest, models.VisitRequest.reference == yesterday["reference"])
        assert datetime.now(UTC) - row.ended_at < timedelta(minutes=1)


async def _status_is(visits, reference: str, status: str) -> bool:
    return (await visits.view(reference))["status"] == status
