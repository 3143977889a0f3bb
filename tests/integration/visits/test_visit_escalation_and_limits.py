"""The escalation job and the public rate limit, each on a visits service of its own settings."""

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from services.visits import jobs, models
from tests.builders import future, request_body
from tests.integration.visits.running import start_visits, token_of
from tests.support import envelopes, eventually


async def test_an_overdue_request_is_escalated_once(new_database, kafka_bootstrap):
    async with start_visits(await new_database("visits"), kafka_bootstrap) as visits:
        submitted = await visits.submit()
        view = await visits.view(submitted["reference"])
        deadline = datetime.fromisoformat(view["decision_deadline"]).replace(tzinfo=UTC)
        async with visits.app.state.sessions() as session:
            on_the_day = await jobs.escalate_overdue(
                session=session, settings=visits.settings, now=deadline + timedelta(hours=12)
            )
            after = await jobs.escalate_overdue(
                session=session, settings=visits.settings, now=deadline + timedelta(days=2)
            )
            later = await jobs.escalate_overdue(
                session=session, settings=visits.settings, now=deadline + timedelta(days=3)
            )
        assert (on_the_day, after, later) == (0, 1, 0)
        assert (await visits.view(submitted["reference"]))["flags"] == ["escalated"]
        received = envelopes(await visits.events(view["id"], 3))
        assert [e["type"] for e in received] == ["visit.submitted.v1", "visit.routed.v1", "visit.escalated.v1"]
        assert received[2]["data"]["deadline"] == view["decision_deadline"]
        assert received[2]["data"]["actor"] == "system" and received[2]["data"]["flags"] == ["escalated"]
        assert await visits.count(models.outbox, models.outbox.c.type == "visit.escalated.v1") == 1
        listed = await visits.client.get("/api/v1/requests", params={"flag": "escalated"}, headers=visits.staff())
        assert [r["reference"] for r in listed.json()["items"]] == [submitted["reference"]]
        history = f"/api/v1/requests/{submitted['reference']}/history"
        staff = (await visits.client.get(history, headers=visits.staff())).json()
        own = (await visits.client.get(history, params={"token": token_of(submitted)})).json()
        assert [h["action"] for h in staff] == ["submitted", "routed", "escalated"]
        assert [h["action"] for h in own] == [
            "submitted",
            "routed",
        ]  # internal: the delegation's page leaves it out too


async def test_the_background_job_escalates_requests_past_their_deadline(new_database, kafka_bootstrap):
    async with start_visits(await new_database("visits"), kafka_bootstrap, escalation_interval_seconds=0.2) as visits:
        late, on_time = await visits.submit(), await visits.submit()
        async with visits.app.state.sessions() as session:
            await session.execute(
                update(models.VisitRequest)
                .where(models.VisitRequest.reference == late["reference"])
                .values(decision_deadline=datetime.now(UTC).date() - timedelta(days=2))
            )
            await session.commit()
        await eventually(lambda: _flags(visits, late["reference"]))
        assert await visits.count(models.outbox, models.outbox.c.type == "visit.escalated.v1") == 1
        assert (await visits.view(on_time["reference"]))["flags"] == []


async def test_public_submissions_are_rate_limited_per_client_address(new_database, kafka_bootstrap):
    async with start_visits(await new_database("visits"), kafka_bootstrap, submit_rate_limit=3) as visits:
        form = await visits.client.get("/apply", params={"lang": "en"})
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        assert (await visits.client.post("/api/v1/requests", json=request_body())).status_code == 201
        assert (await visits.client.post("/api/v1/requests", json={"organisation": ""})).status_code == 422
        assert (await visits.client.post("/apply", data={"csrf_token": csrf, "lang": "en"})).status_code == 422
        refused = await visits.client.post("/api/v1/requests", json=request_body())
        assert refused.status_code == 429 and 0 < int(refused.headers["retry-after"]) <= 600
        page = await visits.client.post("/apply", data={"csrf_token": csrf, "lang": "en"})
        assert page.status_code == 429 and "Too many requests" in page.text and "retry-after" in page.headers
        assert await visits.count(models.VisitRequest) == 1


async def _flags(visits, reference: str) -> list[str]:
    return (await visits.view(reference))["flags"]


async def test_proposing_other_dates_answers_an_escalated_request(new_database, kafka_bootstrap):
    async with start_visits(await new_database("visits"), kafka_bootstrap) as visits:
        submitted = await visits.submit()
        view = await visits.view(submitted["reference"])
        deadline = datetime.fromisoformat(view["decision_deadline"]).replace(tzinfo=UTC)
        async with visits.app.state.sessions() as session:
            assert (
                await jobs.escalate_overdue(session=session, settings=visits.settings, now=deadline + timedelta(days=2))
                == 1
            )
        proposed = await visits.decide(
            submitted["reference"],
            "education",
            decision="propose",
            message="Autumn?",
            proposed_dates=[{"start": future(150), "end": future(152)}],
        )
        assert proposed.status_code == 200 and proposed.json()["flags"] == []  # now it waits on the delegation
        assert proposed.json()["decision_deadline"] is None  # no decision is due until the delegation answers
        queue = (await visits.client.get("/api/v1/queue", headers=visits.staff("communications"))).json()
        assert queue["overdue"]["items"] == [] and queue["counts"]["overdue"] == 0


async def test_a_redirect_takes_the_old_divisions_proposal_with_it(visits):
    submitted = await visits.submit(focus_areas=["culture"])
    reference = submitted["reference"]
    await visits.decide(
        reference,
        "culture-and-leisure",
        decision="propose",
        message="Spring is full.",
        proposed_dates=[{"start": future(150), "end": future(152)}],
    )
    redirected = await visits.decide(
        reference, "culture-and-leisure", decision="redirect", to_division="education", message="Schools are theirs."
    )
    assert redirected.status_code == 200 and redirected.json()["proposed_dates"] == []
    # The new division decides on the preferred dates: the delegation never agreed to the old proposal.
    inside_old_proposal = await visits.decide(
        reference, "education", decision="accept", visit_date=future(151), host="Head of unit"
    )
    assert inside_old_proposal.status_code == 422
    assert (await visits.view(reference))["status"] == "routed"
