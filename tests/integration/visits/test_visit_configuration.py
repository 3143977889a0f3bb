"""Admins edit routing rules and division settings; new requests follow them, every change is audited."""

from services.visits import domain, models
from services.visits.schemas import helsinki_today


async def _put_rule(visits, focus_area: str, division: str, role: str = "admin"):
    return await visits.client.put(
        f"/api/v1/routing-rules/{focus_area}", json={"division": division}, headers=visits.staff(role)
    )


async def _put_division(visits, code: str, lead_time_weeks: int, decision_days: int, role: str = "admin"):
    return await visits.client.put(
        f"/api/v1/divisions/{code}",
        headers=visits.staff(role),
        json={"lead_time_weeks": lead_time_weeks, "decision_days": decision_days},
    )


async def test_staff_see_the_routing_rules_in_focus_area_order(visits):
    response = await visits.client.get("/api/v1/routing-rules", headers=visits.staff("communications"))
    assert response.status_code == 200
    assert [r["focus_area"] for r in response.json()] == list(domain.FOCUS_AREAS)
    assert (await visits.client.get("/api/v1/routing-rules")).status_code == 401


async def test_a_changed_rule_routes_new_requests_and_leaves_routed_ones_where_they_are(visits):
    before = await visits.submit(focus_areas=["design"])
    try:
        changed = await _put_rule(visits, "design", "business-hub")
        assert changed.status_code == 200 and changed.json() == {"focus_area": "design", "division": "business-hub"}
        after = await visits.submit(focus_areas=["design"])
        assert after["division"] == "business-hub"
        assert (await visits.view(before["reference"]))["division"] == "city-executive-office"
        [audit] = await visits.rows(
            models.AuditEntry,
            models.AuditEntry.action == "routing_rule.changed",
            models.AuditEntry.details["focus_area"].as_string() == "design",
            models.AuditEntry.details["to_division"].as_string() == "business-hub",
        )
        assert (audit.actor, audit.role, audit.outcome) == ("admin-1", "admin", "allowed")
        assert audit.details == {
            "focus_area": "design",
            "from_division": "city-executive-office",
            "to_division": "business-hub",
        }
    finally:
        assert (await _put_rule(visits, "design", "city-executive-office")).status_code == 200
    assert (await visits.submit(focus_areas=["design"]))["division"] == "city-executive-office"


async def test_a_rule_cannot_point_at_an_unknown_division_or_name_an_unknown_focus_area(visits):
    audits = await visits.count(models.AuditEntry)
    unknown_division = await _put_rule(visits, "culture", "ministry-of-magic")
    assert unknown_division.status_code == 422
    assert unknown_division.json()["detail"][0]["loc"] == ["body", "division"]
    assert (await _put_rule(visits, "astrology", "culture-and-leisure")).status_code == 404
    officer = await visits.client.put(
        "/api/v1/routing-rules/culture", json={"division": "education"}, headers=visits.officer("culture-and-leisure")
    )
    assert officer.status_code == 403
    assert await visits.count(models.AuditEntry) == audits
    assert (await visits.submit(focus_areas=["culture"]))["division"] == "culture-and-leisure"


async def test_a_divisions_lead_time_and_deadline_apply_to_requests_routed_after_the_change(visits):
    listed = await visits.client.get("/api/v1/divisions", headers=visits.staff("protocol_officer"))
    hub = next(d for d in listed.json() if d["code"] == "business-hub")
    assert hub == {
        "code": "business-hub",
        "name": "Helsinki Business Hub",
        "lead_time_weeks": 4,
        "decision_days": 5,
        "fees": None,
    }
    try:
        assert (await _put_rule(visits, "innovation", "business-hub")).status_code == 200
        changed = await _put_division(visits, "business-hub", 20, 2)
        assert changed.status_code == 200 and changed.json() | {"name": ""} == {
            "code": "business-hub",
            "name": "",
            "lead_time_weeks": 20,
            "decision_days": 2,
            "fees": None,
        }
        submitted = await visits.submit(focus_areas=["innovation"])  # 100 days ahead: inside 20 weeks
        assert (submitted["division"], submitted["flags"]) == ("business-hub", ["short_notice"])
        deadline = (await visits.view(submitted["reference"]))["decision_deadline"]
        assert deadline == domain.add_working_days(helsinki_today(), 2).isoformat()
        [audit] = await visits.rows(
            models.AuditEntry,
            models.AuditEntry.action == "division.changed",
            models.AuditEntry.details["division"].as_string() == "business-hub",
        )
        assert audit.details["after"] == {"lead_time_weeks": 20, "decision_days": 2}
    finally:
        assert (await _put_division(visits, "business-hub", 4, 5)).status_code == 200
        assert (await _put_rule(visits, "innovation", "economic-development")).status_code == 200
    assert (await visits.submit(focus_areas=["innovation"]))["division"] == "economic-development"


async def test_only_admins_change_divisions_and_unknown_ones_are_not_found(visits):
    assert (await _put_division(visits, "atlantis", 4, 5)).status_code == 404
    assert (await _put_division(visits, "education", 2, 5, role="communications")).status_code == 403
    assert (await _put_division(visits, "education", 2, 0)).status_code == 422
    education = await visits.rows(models.DivisionRow, models.DivisionRow.code == "education")
    assert (education[0].lead_time_weeks, education[0].decision_deadline_days) == (8, 5)
