"""GET /api/v1/stats and its CSV: requests counted per country, focus area, outcome, division and month."""

from datetime import datetime, time, timedelta

from sqlalchemy import update

from services.visits import models
from services.visits.domain import HELSINKI
from services.visits.schemas import helsinki_today
from tests.builders import future


async def _three_outcomes(live, country: str) -> None:
    accepted, declined = await live.submit(country=country), await live.submit(country=country)
    await live.submit(country=country, focus_areas=["culture", "education"])
    await live.decide(accepted["reference"], "education", decision="accept", visit_date=future(101), host="Director")
    await live.decide(declined["reference"], "education", decision="decline", reason="no_capacity", message="Full.")


async def test_stats_count_requests_per_country_primary_focus_area_and_outcome(live):
    await _three_outcomes(live, "LU")
    response = await live.client.get(
        "/api/v1/stats",
        params={"group_by": "country,focus_area,outcome", "country": "LU"},
        headers=live.auth("communications"),
    )
    assert response.status_code == 200, response.text
    stats = response.json()
    assert stats["rows"] == [
        {"country": "LU", "focus_area": "culture", "outcome": "waiting", "count": 1},
        {"country": "LU", "focus_area": "education", "outcome": "accepted", "count": 1},
        {"country": "LU", "focus_area": "education", "outcome": "declined", "count": 1},
    ]
    assert stats["total"] == 3 and stats["group_by"] == ["country", "focus_area", "outcome"]
    assert stats["to"] == helsinki_today().isoformat()
    assert stats["from"] == (helsinki_today() - timedelta(days=365)).isoformat()


async def test_the_csv_export_has_the_same_rows(live):
    await _three_outcomes(live, "MT")
    params = {"group_by": "focus_area,outcome", "country": "MT"}
    response = await live.client.get("/api/v1/stats.csv", params=params, headers=live.auth("admin"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="visit-requests-')
    assert response.text == (
        "focus_area,outcome,count\r\nculture,waiting,1\r\neducation,accepted,1\r\neducation,declined,1\r\n"
    )


async def test_stats_group_by_month_and_keep_to_the_period(live):
    await live.submit(country="AD")
    month = helsinki_today().strftime("%Y-%m")
    auth = live.auth("communications")
    this_month = await live.client.get("/api/v1/stats", params={"group_by": "month", "country": "AD"}, headers=auth)
    assert this_month.json()["rows"] == [{"month": month, "count": 1}]
    yesterday = (helsinki_today() - timedelta(days=1)).isoformat()
    before = await live.client.get(
        "/api/v1/stats",
        params={"group_by": "country", "country": "AD", "from": yesterday, "to": yesterday},
        headers=auth,
    )
    assert before.json()["rows"] == [] and before.json()["total"] == 0


async def test_a_division_officer_counts_only_their_own_division(live):
    await _three_outcomes(live, "VA")
    response = await live.client.get(
        "/api/v1/stats",
        params={"group_by": "division", "country": "VA", "division": "culture-and-leisure"},
        headers=live.auth("division_officer", "education"),
    )
    assert response.json()["rows"] == [{"division": "education", "count": 2}]


async def test_the_focus_area_filter_of_stats_is_the_primary_one(live):
    await _three_outcomes(live, "SC")  # one of the three names education only as its second focus area
    response = await live.client.get(
        "/api/v1/stats",
        params={"group_by": "focus_area", "country": "SC", "focus_area": "education"},
        headers=live.auth("communications"),
    )
    assert response.json()["rows"] == [{"focus_area": "education", "count": 2}]


async def test_unknown_groups_and_backwards_periods_are_refused(live):
    auth = live.auth("communications")
    for params in (
        {"group_by": "country,planet"},
        {"group_by": ""},
        {"group_by": " , "},
        {"from": "2026-05-01", "to": "2026-04-01"},
        {"from": "2000-01-01", "to": "2026-01-01"},
        {"from": "yesterday"},
        {"from": "0001-01-01", "to": "0001-01-02"},
        {"to": "9999-12-31"},
    ):
        for path in ("/api/v1/stats", "/api/v1/stats.csv"):
            response = await live.client.get(path, params=params, headers=auth)
            assert response.status_code == 422, (path, params, response.text)
    planet = await live.client.get("/api/v1/stats", params={"group_by": "country,planet"}, headers=auth)
    assert planet.json()["detail"][0]["loc"] == ["query", "group_by"] and "planet" in planet.json()["detail"][0]["msg"]


async def test_a_request_made_at_midnight_counts_for_the_day_it_starts_only(live):
    submitted = await live.submit(country="TO")
    midnight = datetime.combine(helsinki_today(), time(0), HELSINKI)
    async with live.app.state.sessions() as session:
        await session.execute(
            update(models.VisitRequest)
            .where(models.VisitRequest.reference == submitted["reference"])
            .values(created_at=midnight)
        )
        await session.commit()
    auth, totals = live.auth("communications"), {}
    for day in (helsinki_today() - timedelta(days=1), helsinki_today()):
        response = await live.client.get(
            "/api/v1/stats",
            params={"group_by": "country", "country": "TO", "from": day.isoformat(), "to": day.isoformat()},
            headers=auth,
        )
        totals[day.isoformat()] = response.json()["total"]
    assert totals == {(helsinki_today() - timedelta(days=1)).isoformat(): 0, helsinki_today().isoformat(): 1}
