"""The protocol API: checklist work by the protocol office, plan_ready, visibility, calendar, gift register."""

from tests.integration.protocol.running import fresh_day


def _types(events: list[dict]) -> list[str]:
    return [e["type"].removeprefix("protocol.") for e in events]


async def test_completing_the_required_items_publishes_plan_ready_once(protocol):
    visit = await protocol.accept(visit_date=fresh_day(), highest_rank="senior_official")
    assert (await protocol.set_item(visit, "host", "in_progress")).json()["status"] == "draft"
    assert (await protocol.set_item(visit, "host", "done")).json()["status"] == "draft"
    response = await protocol.set_item(visit, "venue", "done", note="City Hall, Aleksanterinkatu 20")
    assert response.status_code == 200 and response.json()["status"] == "ready"
    await protocol.set_item(visit, "gift", "done")  # optional; the plan was ready already
    await protocol.set_item(visit, "venue", "done", note="Room 2")
    await protocol.set_item(visit, "press", "not_needed")
    await protocol.set_item(visit, "venue", "in_progress")  # reopened: back to draft, announced as an update
    events = await protocol.published(visit, count=3)
    assert _types(events) == ["plan_created.v1", "plan_ready.v1", "plan_updated.v1"]
    assert events[1]["data"]["reference"] == visit.reference and events[1]["data"]["level"] == 3
    assert events[2]["data"]["status"] == "draft"


async def test_a_reopened_plan_completed_again_is_announced_ready_again(protocol):
    visit = await protocol.accept(visit_date=fresh_day(), highest_rank="other")
    for key in ("host", "venue"):
        await protocol.set_item(visit, key, "done")
    await protocol.set_item(visit, "venue", "open")
    assert (await protocol.set_item(visit, "venue", "done")).json()["status"] == "ready"
    events = await protocol.published(visit, count=4)
    assert _types(events) == ["plan_created.v1", "plan_ready.v1", "plan_updated.v1", "plan_ready.v1"]


async def test_only_protocol_officers_and_admins_may_change_items(protocol):
    visit = await protocol.accept(visit_date=fresh_day(), division="education")
    url = f"/api/v1/plans/{visit.reference}/items/host"
    for role, division in (("communications", None), ("division_officer", "education")):
        response = await protocol.client.patch(url, json={"state": "done"}, headers=protocol.auth(role, division))
        assert response.status_code == 403, role
    assert (await protocol.client.patch(url, json={"state": "done"})).status_code == 401
    assert (await protocol.plan(visit))["items"][0]["state"] == "open"
    assert (await protocol.set_item(visit, "host", "in_progress", role="admin")).status_code == 200
    response = await protocol.set_item(visit, "host", "done", role="protocol_officer")
    assert response.status_code == 200
    host = response.json()["items"][0]
    assert (host["state"], host["updated_by"]) == ("done", "protocol_officer-1")


async def test_an_unknown_item_is_404_and_a_bad_state_is_422(protocol):
    visit = await protocol.accept(visit_date=fresh_day(), highest_rank="expert")
    assert (await protocol.set_item(visit, "fireworks", "done")).status_code == 404
    assert (await protocol.set_item(visit, "flags", "done")).status_code == 404  # not on a level-4 plan
    assert (await protocol.set_item(visit, "host", "finished")).status_code == 422
    response = await protocol.set_item(visit, "host", "not_needed")
    assert response.status_code == 422
    assert [(e["loc"], "required" in e["msg"]) for e in response.json()["detail"]] == [(["body", "state"], True)]
    missing = await protocol.client.patch(
        "/api/v1/plans/HEL-NOPE/items/host", json={"state": "done"}, headers=protocol.auth()
    )
    assert missing.status_code == 404


async def test_division_officers_see_only_their_own_divisions_plans(protocol):
    day = fresh_day()
    ours = await protocol.accept(visit_date=day, division="education")
    theirs = await protocol.accept(visit_date=day, division="culture-and-leisure")
    officer = protocol.auth("division_officer", "education")
    assert (await protocol.client.get(f"/api/v1/plans/{ours.reference}", headers=officer)).status_code == 200
    assert (await protocol.client.get(f"/api/v1/plans/{theirs.reference}", headers=officer)).status_code == 404
    calendar = await protocol.client.get("/api/v1/plans", params={"date_from": day, "date_to": day}, headers=officer)
    assert [p["reference"] for p in calendar.json()] == [ours.reference]
    comms = await protocol.client.get(f"/api/v1/plans/{theirs.reference}", headers=protocol.auth("communications"))
    assert comms.status_code == 200
    assert (await protocol.client.get(f"/api/v1/plans/{ours.reference}")).status_code == 401


async def test_the_calendar_lists_plans_by_date_and_level(protocol):
    first, second = fresh_day(), fresh_day()
    head = await protocol.accept(visit_date=first, highest_rank="head_of_state")
    expert = await protocol.accept(visit_date=first, highest_rank="expert")
    later = await protocol.accept(visit_date=second, highest_rank="ambassador")
    staff = protocol.auth("communications")

    async def listed(**params) -> list[str]:
        response = await protocol.client.get("/api/v1/plans", params=params, headers=staff)
        assert response.status_code == 200, response.text
        return [p["reference"] for p in response.json()]

    same_day = sorted([head.reference, expert.reference])
    assert await listed(date_from=first, date_to=second) == [*same_day, later.reference]
    assert await listed(date_from=first, date_to=second, level=1) == [head.reference]
    assert await listed(date_from=second, date_to=second) == [later.reference]
    assert (await protocol.client.get("/api/v1/plans", params={"level": 7}, headers=staff)).status_code == 422


async def test_the_gift_register_lists_gifts_by_period(protocol):
    early, late = fresh_day(), fresh_day()
    first = await protocol.accept(visit_date=early, highest_rank="minister")
    second = await protocol.accept(visit_date=late, highest_rank="ambassador")
    given = {
        "direction": "given",
        "description": "Moomin porcelain",
        "value_band": "under_50",
        "giver": "Deputy Mayor",
        "recipient": "Minister of Education",
    }
    received = {
        "direction": "received",
        "description": "Silk scroll",
        "value_band": "200_1000",
        "giver": "Ambassador",
        "recipient": "Deputy Mayor",
        "date": str(late),
    }
    for visit, gift in ((first, given), (second, received)):
        response = await protocol.client.post(
            f"/api/v1/plans/{visit.reference}/gifts", json=gift, headers=protocol.auth()
        )
        assert response.status_code == 201, response.text
    assert response.json()["recorded_by"] == "protocol_officer-1"

    async def register(**params) -> list[tuple[str, str]]:
        response = await protocol.client.get("/api/v1/gifts", params=params, headers=protocol.auth("admin"))
        return [(g["reference"], g["description"]) for g in response.json()]

    assert await register(**{"from": early, "to": late}) == [
        (first.reference, "Moomin porcelain"),
        (second.reference, "Silk scroll"),
    ]
    assert await register(**{"from": late, "to": late}) == [(second.reference, "Silk scroll")]
    for bad in (dict(given, value_band="priceless"), dict(given, date="1999-12-31")):
        assert (
            await protocol.client.post(f"/api/v1/plans/{first.reference}/gifts", json=bad, headers=protocol.auth())
        ).status_code == 422
    for role in ("communications", "division_officer"):
        headers = protocol.auth(role, "education" if role == "division_officer" else None)
        assert (await protocol.client.get("/api/v1/gifts", headers=headers)).status_code == 403
        assert (
            await protocol.client.post(f"/api/v1/plans/{first.reference}/gifts", json=given, headers=headers)
        ).status_code == 403
