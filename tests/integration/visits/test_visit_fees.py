"""Fee schedules, quotes on acceptance, late-cancellation fees and the invoicing list, on a visits service of its
own: a schedule is a division's, and every other test in the room accepts education visits without hours."""

import csv
import io
from collections.abc import AsyncIterator

import pytest

from services.visits import models
from tests.builders import future
from tests.integration.visits.running import Visits, start_visits, token_of
from tests.support import envelopes

EDUCATION_FEES = {
    "price_per_visitor_hour": "35.75",
    "minimum_net": "150.00",
    "vat_percent": "25.5",
    "exempt_ranks": ["head_of_state", "head_of_government", "minister"],
    "free_until_days": 14,
    "late_cancellation_percent": "50",
}
NBSP = "\N{NO-BREAK SPACE}"


@pytest.fixture(scope="module")
async def charging(new_database, kafka_bootstrap) -> AsyncIterator[Visits]:
    async with start_visits(await new_database("visits"), kafka_bootstrap, submit_rate_limit=100_000) as service:
        response = await service.client.put(
            "/api/v1/divisions/education/fees", json=EDUCATION_FEES, headers=service.staff()
        )
        assert response.status_code == 200, response.text
        yield service


async def _accept(charging: Visits, *, days: int = 100, rank: str = "expert", language: str = "en", **times) -> dict:
    submitted = await charging.submit(
        highest_rank=rank, language=language, preferred_dates=[{"start": future(days), "end": future(days + 2)}]
    )
    decision = {"decision": "accept", "visit_date": future(days), "host": "Rehtori"}
    accepted = await charging.decide(
        submitted["reference"], "education", **decision, **({"start_time": "09:00", "end_time": "12:00"} | times)
    )
    assert accepted.status_code == 200, accepted.text
    return accepted.json() | {"token": token_of(submitted)}


async def test_an_admin_sets_a_divisions_fees_and_staff_read_them_with_the_division(charging):
    read = await charging.client.get("/api/v1/divisions/education/fees", headers=charging.staff("protocol_officer"))
    assert read.status_code == 200
    # Amounts come back as decimal strings to the cent, whatever was sent.
    assert read.json() == EDUCATION_FEES | {
        "currency": "EUR",
        "vat_percent": "25.50",
        "late_cancellation_percent": "50.00",
    }
    divisions = (await charging.client.get("/api/v1/divisions", headers=charging.staff("communications"))).json()
    by_code = {d["code"]: d for d in divisions}
    assert (
        by_code["education"]["fees"]["price_per_visitor_hour"] == "35.75"
        and by_code["culture-and-leisure"]["fees"] is None
    )
    nothing = await charging.client.get("/api/v1/divisions/culture-and-leisure/fees", headers=charging.staff())
    assert nothing.status_code == 404
    [audit] = await charging.rows(models.AuditEntry, models.AuditEntry.action == "fee_schedule.set")
    assert audit.details["after"]["vat_percent"] == "25.50" and audit.actor == "admin-1"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price_per_visitor_hour": "-1"}, "price_per_visitor_hour"),
        ({"vat_percent": "100.5"}, "vat_percent"),
        ({"minimum_net": "-0.01"}, "minimum_net"),
        ({"late_cancellation_percent": "101"}, "late_cancellation_percent"),
        ({"free_until_days": -1}, "free_until_days"),
        ({"exempt_ranks": ["emperor"]}, "exempt_ranks"),
        ({"currency": "USD"}, "currency"),
        ({"price_per_visitor_hour": "12.345"}, "price_per_visitor_hour"),
    ],
)
async def test_a_bad_schedule_is_refused_naming_the_field_and_changes_nothing(charging, change, field):
    refused = await charging.client.put(
        "/api/v1/divisions/culture-and-leisure/fees", json=EDUCATION_FEES | change, headers=charging.staff()
    )
    assert refused.status_code == 422, refused.text
    assert field in [error["loc"][1] for error in refused.json()["detail"]]
    assert (
        await charging.client.get("/api/v1/divisions/culture-and-leisure/fees", headers=charging.staff())
    ).status_code == 404


async def test_only_admins_set_fees(charging):
    officer = await charging.client.put(
        "/api/v1/divisions/education/fees", json=EDUCATION_FEES, headers=charging.officer("education")
    )
    assert officer.status_code == 403
    unknown = await charging.client.put(
        "/api/v1/divisions/atlantis/fees", json=EDUCATION_FEES, headers=charging.staff()
    )
    assert unknown.status_code == 404


async def test_a_charging_divisions_acceptance_needs_both_times_and_says_which(charging):
    submitted = await charging.submit()
    refused = await charging.decide(
        submitted["reference"], "education", decision="accept", visit_date=future(101), host="Rehtori"
    )
    assert refused.status_code == 422
    assert [e["loc"] for e in refused.json()["detail"]] == [["body", "start_time"], ["body", "end_time"]]
    assert (await charging.view(submitted["reference"]))["status"] == "routed"


async def test_a_group_of_twelve_for_three_hours_is_quoted_on_the_acceptance_and_its_event(charging):
    visit = await _accept(charging)
    quote = visit["quote"]
    assert quote == {
        "currency": "EUR",
        "visitors": 12,
        "hours": "3.00",
        "price_per_visitor_hour": "35.75",
        "minimum_net": "150.00",
        "net": "1287.00",
        "vat_percent": "25.50",
        "vat": "328.19",  # 328.185 rounded half up
        "gross": "1615.19",
        "terms": {"free_until_days": 14, "late_cancellation_percent": "50.00"},
    }
    accepted = envelopes(await charging.events(visit["id"], 3))[2]
    assert accepted["type"] == "visit.accepted.v1" and accepted["data"]["quote"] == quote


@pytest.mark.parametrize(
    ("lang", "shown"),
    [
        ("fi", [f"1{NBSP}287,00{NBSP}€", f"328,19{NBSP}€", f"1{NBSP}615,19{NBSP}€", f"25,5{NBSP}%"]),
        ("sv", [f"1{NBSP}287,00{NBSP}€", f"328,19{NBSP}€", f"1{NBSP}615,19{NBSP}€", f"25,5{NBSP}%"]),
        ("en", ["€1,287.00", "€328.19", "€1,615.19", "25.5%"]),
    ],
)
async def test_the_tracking_page_shows_the_fee_in_its_languages_number_format(charging, lang, shown):
    visit = await _accept(charging, venue="Kallion lukio")
    page = await charging.client.get(f"/track/{visit['reference']}", params={"token": visit["token"], "lang": lang})
    assert page.status_code == 200
    for text in shown:
        assert text in page.text, text
    assert "Kallion lukio" in page.text and "<time>09:00</time>–<time>12:00</time>" in page.text


async def test_an_exempt_rank_gets_no_fee(charging):
    visit = await _accept(charging, rank="minister")
    assert visit["quote"] is None
    page = await charging.client.get(f"/track/{visit['reference']}", params={"token": visit["token"], "lang": "en"})
    assert "€" not in page.text and "Fee for the visit" not in page.text


async def test_cancelling_in_the_free_period_costs_nothing_and_after_it_records_the_late_fee(charging):
    early = await _accept(charging, days=40)
    late = await _accept(charging, days=5)  # short notice: the free period (14 days before) is already over
    for visit in (early, late):
        cancelled = await charging.client.post(
            f"/api/v1/requests/{visit['reference']}/cancel", params={"token": visit["token"]}
        )
        assert cancelled.status_code == 200, cancelled.text
    assert (await charging.view(early["reference"]))["late_fee"] is None
    late_fee = (await charging.view(late["reference"]))["late_fee"]
    assert late_fee == {
        "currency": "EUR",
        "percent": "50.00",
        "net": "643.50",
        "vat_percent": "25.50",
        "vat": "164.09",
        "gross": "807.59",
    }
    event = envelopes(await charging.events(late["id"], 4))[3]
    assert event["type"] == "visit.cancelled.v1" and event["data"]["late_fee"] == late_fee
    page = await charging.client.get(f"/track/{late['reference']}", params={"token": late["token"], "lang": "en"})
    assert "€807.59" in page.text and "€643.50" in page.text


async def test_invoicing_lists_hosted_visits_and_late_cancellations_for_admins(charging):
    hosted = await _accept(charging, days=60, start_time="10:00", end_time="12:30")
    late = await _accept(charging, days=6)
    free = await _accept(charging, days=61)
    for visit in (late, free):
        await charging.client.post(f"/api/v1/requests/{visit['reference']}/cancel", params={"token": visit["token"]})
    period = {"from": future(6), "to": future(61)}
    answer = await charging.client.get("/api/v1/invoicing.csv", params=period, headers=charging.staff())
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = {row["reference"]: row for row in csv.DictReader(io.StringIO(answer.text))}
    assert free["reference"] not in rows
    assert rows[hosted["reference"]] | {"organisation": ""} == {
        "reference": hosted["reference"],
        "organisation": "",
        "country": "EE",
        "visit_date": future(60),
        "status": "accepted",
        "visitors": "12",
        "hours": "2.50",
        "currency": "EUR",
        "net": "1072.50",
        "vat_percent": "25.50",
        "vat": "273.49",
        "gross": "1345.99",
        "late_cancellation_fee": "",
        "late_cancellation_vat": "",
        "late_cancellation_gross": "",
    }
    row = rows[late["reference"]]
    assert (row["status"], row["net"], row["gross"]) == ("cancelled", "", "")
    assert (row["late_cancellation_fee"], row["late_cancellation_vat"], row["late_cancellation_gross"]) == (
        "643.50",
        "164.09",
        "807.59",
    )
    officer = await charging.client.get("/api/v1/invoicing.csv", params=period, headers=charging.officer("education"))
    assert officer.status_code == 403
    backwards = await charging.client.get(
        "/api/v1/invoicing.csv", params={"from": future(61), "to": future(6)}, headers=charging.staff()
    )
    assert backwards.status_code == 422 and backwards.json()["detail"][0]["loc"] == ["query", "to"]


async def test_a_moved_visit_is_quoted_for_its_new_hours_at_the_rates_it_was_accepted_at(charging):
    visit = await _accept(charging)
    await charging.client.put(
        "/api/v1/divisions/education/fees",
        json=EDUCATION_FEES | {"price_per_visitor_hour": "99"},
        headers=charging.staff(),
    )
    try:
        moved = await charging.decide(
            visit["reference"], "education", decision="reschedule", visit_date=future(101), end_time="11:00"
        )
    finally:
        await charging.client.put("/api/v1/divisions/education/fees", json=EDUCATION_FEES, headers=charging.staff())
    assert moved.status_code == 200, moved.text
    quote = moved.json()["quote"]
    assert (quote["hours"], quote["price_per_visitor_hour"], quote["net"], quote["gross"]) == (
        "2.00",
        "35.75",
        "858.00",
        "1076.79",
    )
    without_hours = await charging.decide(
        visit["reference"], "education", decision="reschedule", visit_date=future(102), start_time=None, end_time=None
    )
    assert without_hours.status_code == 422
    assert [e["loc"] for e in without_hours.json()["detail"]] == [["body", "start_time"], ["body", "end_time"]]
