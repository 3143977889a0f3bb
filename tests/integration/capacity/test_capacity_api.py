"""Reading and setting limits over HTTP: who may, what is valid, what a changed limit announces."""

import pytest

from tests.integration.capacity.running import fresh_week

STAFF = [("admin", None), ("communications", None), ("protocol_officer", None), ("division_officer", "education")]


@pytest.mark.parametrize(("role", "division"), STAFF)
async def test_every_staff_role_reads_an_education_week(capacity, role, division):
    week = fresh_week()
    response = await capacity.client.get(f"/api/v1/capacity/education/{week}", headers=capacity.headers(role, division))
    assert response.status_code == 200
    assert response.json() == {
        "division": "education",
        "iso_week": week,
        "limit": 6,
        "limit_source": "default",
        "reserved": 0,
        "free": 6,
        "full": False,
        "over_capacity": False,
        "requests": [],
    }


async def test_a_division_officer_cannot_see_another_divisions_week(capacity):
    response = await capacity.client.get(
        f"/api/v1/capacity/education/{fresh_week()}",
        headers=capacity.headers("division_officer", "culture-and-leisure"),
    )
    assert response.status_code == 404


async def test_reading_needs_a_token(capacity):
    assert (await capacity.client.get(f"/api/v1/capacity/education/{fresh_week()}")).status_code == 401


@pytest.mark.parametrize("path", ["/api/v1/capacity/astrology/2031-W10", "/api/v1/capacity/astrology"])
async def test_unknown_divisions_are_404(capacity, path):
    assert (await capacity.client.get(path, headers=capacity.headers())).status_code == 404


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("/api/v1/capacity/Education!/2031-W10", ["path", "division"]),
        ("/api/v1/capacity/education/2031-W53", ["path", "iso_week"]),  # 2031 has 52 ISO weeks
        ("/api/v1/capacity/education/2031-W00", ["path", "iso_week"]),
        ("/api/v1/capacity/education/2031-10", ["path", "iso_week"]),
        ("/api/v1/capacity/Education!", ["path", "division"]),
    ],
)
async def test_malformed_division_codes_and_impossible_weeks_are_422_naming_the_parameter(capacity, path, where):
    response = await capacity.client.get(path, headers=capacity.headers())
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [where]


@pytest.mark.parametrize("body", [{"limit": -1}, {"limit": 2.5}, {"limit": "6"}, {}, {"limit": 3, "extra": 1}])
async def test_a_limit_must_be_a_non_negative_whole_number_or_null(capacity, body):
    response = await capacity.client.put(
        f"/api/v1/capacity/education/{fresh_week()}", json=body, headers=capacity.headers()
    )
    assert response.status_code == 422


@pytest.mark.parametrize(("role", "division"), STAFF[1:])
async def test_only_admins_set_limits(capacity, role, division):
    week = fresh_week()
    for path in (f"/api/v1/capacity/education/{week}", "/api/v1/capacity/education"):
        response = await capacity.client.put(path, json={"limit": 1}, headers=capacity.headers(role, division))
        assert response.status_code == 403
    assert (await capacity.week(week))["limit"] == 6


async def test_setting_a_limit_of_an_unknown_division_is_404(capacity):
    for path in ("/api/v1/capacity/astrology/2031-W10", "/api/v1/capacity/astrology"):
        assert (await capacity.client.put(path, json={"limit": 1}, headers=capacity.headers())).status_code == 404


async def test_setting_a_limit_on_an_impossible_week_is_422(capacity):
    response = await capacity.client.put(
        "/api/v1/capacity/education/2031-W00", json={"limit": 1}, headers=capacity.headers()
    )
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["path", "iso_week"]]


async def test_lowering_a_limit_below_the_reservations_keeps_them_and_marks_the_week_over_capacity(capacity):
    week = fresh_week()
    accepted = [await capacity.accept(week) for _ in range(3)]
    assert (await capacity.settled_week(week))["reserved"] == 3

    response = await capacity.client.put(
        f"/api/v1/capacity/education/{week}", json={"limit": 2}, headers=capacity.headers()
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["limit"], body["limit_source"], body["reserved"], body["free"], body["over_capacity"]) == (
        2,
        "week",
        3,
        0,
        True,
    )
    assert {r["request_id"] for r in body["requests"]} == {e.subject for e in accepted}
    await capacity.drained()
    full = await capacity.published(f"education:{week}", "capacity.week_full.v1")
    assert [e["data"] for e in full] == [{"division": "education", "iso_week": week, "reserved": 3, "limit": 2}]


async def test_raising_a_limit_of_a_full_week_reopens_it_and_lowering_it_again_fills_it(capacity):
    week = fresh_week()
    for _ in range(6):
        await capacity.accept(week)
    assert (await capacity.settled_week(week))["reserved"] == 6

    raised = await capacity.client.put(
        f"/api/v1/capacity/education/{week}", json={"limit": 8}, headers=capacity.headers()
    )
    assert (raised.json()["free"], raised.json()["full"]) == (2, False)
    lowered = await capacity.client.put(
        f"/api/v1/capacity/education/{week}", json={"limit": 6}, headers=capacity.headers()
    )
    assert lowered.json()["full"] is True
    await capacity.client.put(f"/api/v1/capacity/education/{week}", json={"limit": 5}, headers=capacity.headers())

    await capacity.drained()
    events = await capacity.published(f"education:{week}")
    assert [(e["type"], e["data"]["limit"]) for e in events] == [
        ("capacity.week_full.v1", 6),
        ("capacity.week_reopened.v1", 8),
        ("capacity.week_full.v1", 6),
    ]


async def test_a_null_week_limit_makes_the_week_unlimited_and_deleting_it_restores_the_default(capacity):
    week = fresh_week()
    unlimited = await capacity.client.put(
        f"/api/v1/capacity/education/{week}", json={"limit": None}, headers=capacity.headers()
    )
    assert (unlimited.json()["limit"], unlimited.json()["free"], unlimited.json()["limit_source"]) == (
        None,
        None,
        "week",
    )

    restored = await capacity.client.delete(f"/api/v1/capacity/education/{week}", headers=capacity.headers())

    assert (restored.json()["limit"], restored.json()["limit_source"]) == (6, "default")


async def test_a_week_limit_of_zero_fills_an_empty_week(capacity):
    week = fresh_week()
    response = await capacity.client.put(
        f"/api/v1/capacity/education/{week}", json={"limit": 0}, headers=capacity.headers()
    )
    assert (response.json()["full"], response.json()["over_capacity"]) == (True, False)
    await capacity.drained()
    assert len(await capacity.published(f"education:{week}", "capacity.week_full.v1")) == 1


async def test_a_default_limit_of_zero_is_refused_naming_the_limit_and_changes_nothing(capacity):
    # Every week would be full, but weeks nobody reserved in are never announced: visits would keep routing there.
    response = await capacity.client.put("/api/v1/capacity/education", json={"limit": 0}, headers=capacity.headers())
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "limit"]
    kept = await capacity.client.get("/api/v1/capacity/education", headers=capacity.headers())
    assert kept.json() == {"division": "education", "limit": 6}


async def test_the_seeded_default_limits_are_six_for_education_and_unlimited_elsewhere(capacity):
    education = await capacity.client.get("/api/v1/capacity/education", headers=capacity.headers())
    forum = await capacity.client.get("/api/v1/capacity/forum-virium", headers=capacity.headers())
    assert education.json() == {"division": "education", "limit": 6}
    assert forum.json() == {"division": "forum-virium", "limit": None}
    denied = await capacity.client.get("/api/v1/capacity/education", headers=capacity.headers("communications"))
    assert denied.status_code == 403


async def test_a_new_default_limit_applies_to_weeks_without_their_own_and_announces_what_it_fills(capacity):
    booked, own, empty = fresh_week(), fresh_week(), fresh_week()
    for _ in range(2):
        await capacity.accept(booked, division="business-hub")
    assert (await capacity.settled_week(booked, "business-hub"))["reserved"] == 2
    await capacity.client.put(f"/api/v1/capacity/business-hub/{own}", json={"limit": 5}, headers=capacity.headers())

    try:
        response = await capacity.client.put(
            "/api/v1/capacity/business-hub", json={"limit": 2}, headers=capacity.headers()
        )
        assert response.json() == {"division": "business-hub", "limit": 2}
        assert (await capacity.week(booked, "business-hub"))["full"] is True
        assert (await capacity.week(own, "business-hub"))["limit"] == 5
        assert (await capacity.week(empty, "business-hub"))["limit"] == 2
        await capacity.drained()
        assert len(await capacity.published(f"business-hub:{booked}", "capacity.week_full.v1")) == 1
    finally:
        await capacity.client.put("/api/v1/capacity/business-hub", json={"limit": None}, headers=capacity.headers())
    await capacity.drained()
    assert len(await capacity.published(f"business-hub:{booked}", "capacity.week_reopened.v1")) == 1
