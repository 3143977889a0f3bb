"""Submitting a request through the JSON API: routing, flags, validation and the events it publishes."""

import pytest

from services.visits import models
from tests.builders import future, request_body
from tests.integration.visits.running import token_of
from tests.support import envelopes

ROUTING = {
    "smart-city": "forum-virium",
    "climate": "urban-environment",
    "innovation": "economic-development",
    "mobility": "urban-environment",
    "education": "education",
    "participation": "city-executive-office",
    "culture": "culture-and-leisure",
    "design": "city-executive-office",
}


@pytest.mark.parametrize("focus_area,division", ROUTING.items())
async def test_every_focus_area_routes_to_its_division(visits, focus_area, division):
    submitted = await visits.submit(focus_areas=[focus_area])
    assert submitted["status"] == "routed"
    assert submitted["division"] == division
    assert (await visits.view(submitted["reference"]))["division"] == division


async def test_a_submission_answers_with_reference_tracking_link_and_flags(visits):
    submitted = await visits.submit()
    assert set(submitted) == {"reference", "status", "division", "tracking_url", "flags"}
    assert submitted["reference"].startswith("HEL-20") and len(submitted["reference"]) == len("HEL-2026-000123")
    base = visits.settings.public_base_url
    assert submitted["tracking_url"].startswith(f"{base}/track/{submitted['reference']}?token=")
    assert submitted["flags"] == []


async def test_the_tracking_token_is_stored_only_as_its_hash(visits):
    submitted = await visits.submit()
    [row] = await visits.rows(models.VisitRequest, models.VisitRequest.reference == submitted["reference"])
    assert len(row.tracking_token_hash) == 64 and token_of(submitted) not in row.tracking_token_hash


async def test_other_focus_areas_are_shown_to_their_divisions_for_information(visits):
    submitted = await visits.submit(focus_areas=["education", "culture", "mobility"])
    view = await visits.view(submitted["reference"])
    assert view["division"] == "education"
    assert view["info_divisions"] == ["culture-and-leisure", "urban-environment"]
    culture = await visits.client.get(
        f"/api/v1/requests/{submitted['reference']}", headers=visits.officer("culture-and-leisure")
    )
    assert culture.status_code == 200


async def test_a_request_inside_the_divisions_lead_time_is_flagged_short_notice(visits):
    soon = [{"start": future(35), "end": future(36)}]  # five weeks: enough for culture, not for education
    assert (await visits.submit(focus_areas=["education"], preferred_dates=soon))["flags"] == ["short_notice"]
    assert (await visits.submit(focus_areas=["culture"], preferred_dates=soon))["flags"] == []


async def test_the_same_organisation_on_the_same_topic_is_flagged_as_a_possible_duplicate(visits):
    first = await visits.submit(organisation="Riga City Council", focus_areas=["mobility"])
    other_topic = await visits.submit(organisation="Riga City Council", focus_areas=["culture"])
    again = await visits.submit(organisation="  RIGA city   council ", focus_areas=["mobility", "climate"])
    assert "possible_duplicate" not in first["flags"] and "possible_duplicate" not in other_topic["flags"]
    assert "possible_duplicate" in again["flags"]
    assert (await visits.view(again["reference"]))["duplicate_of"] == first["reference"]


def _set(path: str, value):
    def change(body: dict) -> None:
        *parents, last = path.split(".")
        target = body
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        target[last] = value

    return change


INVALID = {  # case -> (change, the field the 422 must name)
    "organisation": (_set("organisation", ""), "organisation"),
    "country": (_set("country", "XX"), "country"),
    "contact.email": (_set("contact.email", "not-an-address"), "contact.email"),
    "contact.name": (_set("contact.name", ""), "contact.name"),
    "language": (_set("language", "de"), "language"),
    "focus_areas.unknown": (_set("focus_areas", ["space"]), "focus_areas"),
    "focus_areas.too_many": (_set("focus_areas", ["education", "climate", "design", "culture"]), "focus_areas"),
    "focus_areas.repeated": (_set("focus_areas", ["education", "education"]), "focus_areas"),
    "delegation_size": (_set("delegation_size", 201), "delegation_size"),
    "highest_rank": (_set("highest_rank", "emperor"), "highest_rank"),
    "preferred_dates.none": (_set("preferred_dates", []), "preferred_dates"),
    "preferred_dates.past": (
        _set("preferred_dates", [{"start": "2020-01-06", "end": "2020-01-07"}]),
        "preferred_dates.0.start",
    ),
    "preferred_dates.reversed": (
        _set("preferred_dates", [{"start": future(50), "end": future(40)}]),
        "preferred_dates.0.end",
    ),
    # The last week of year 9999 broke the week arithmetic (a 500); decades of weeks held the loop.
    "preferred_dates.year_9999": (
        _set("preferred_dates", [{"start": future(50), "end": "9999-12-31"}]),
        "preferred_dates.0.end",
    ),
    "preferred_dates.decades": (
        _set("preferred_dates", [{"start": future(50), "end": future(50 + 3650)}]),
        "preferred_dates.0.end",
    ),
    "purpose": (_set("purpose", "x" * 2001), "purpose"),
    "members": (_set("members", [{"title": "Mayor"}]), "members.0.name"),
    "needs": (_set("needs", {"interpreter_language": "x" * 101}), "needs.interpreter_language"),
}


async def _stored(visits) -> list[int]:
    return [
        await visits.count(models.VisitRequest),
        await visits.count(models.AuditEntry),
        await visits.count(models.outbox),
    ]


@pytest.mark.parametrize("case", INVALID)
async def test_each_invalid_field_gives_422_naming_the_field_and_stores_nothing(visits, case):
    change, field = INVALID[case]
    body = request_body()
    change(body)
    before = await _stored(visits)
    response = await visits.client.post("/api/v1/requests", json=body)
    assert response.status_code == 422
    named = [".".join(str(p) for p in error["loc"][1:]) for error in response.json()["detail"]]
    assert any(n == field or n.startswith(field + ".") for n in named), named
    assert await _stored(visits) == before


async def test_events_for_one_request_arrive_in_order_with_the_design_envelope(visits):
    submitted = await visits.submit(language="sv", needs={"press": True})
    request_id = (await visits.view(submitted["reference"]))["id"]
    accepted = await visits.decide(
        submitted["reference"], "education", decision="accept", visit_date=future(101), host="Deputy Mayor"
    )
    assert accepted.status_code == 200, accepted.text
    records = await visits.events(request_id, 3)
    received = envelopes(records)
    assert [e["type"] for e in received] == ["visit.submitted.v1", "visit.routed.v1", "visit.accepted.v1"]
    for envelope, record in zip(received, records, strict=True):
        assert set(envelope) == {"id", "type", "source", "time", "subject", "specversion", "data"}
        assert (envelope["source"], envelope["subject"], envelope["specversion"]) == ("visits", request_id, "1.0")
        assert envelope["data"]["request_id"] == request_id and envelope["data"]["reference"] == submitted["reference"]
        assert dict(record.headers)["traceparent"].startswith(b"00-")
    submitted_data, routed, accepted_data = (e["data"] for e in received)
    assert submitted_data["status"] == "submitted" and submitted_data["actor"] == "delegation"
    assert submitted_data["tracking_url"] == submitted["tracking_url"]
    assert routed["status"] == "routed" and routed["routed_by"] == "rule" and routed["actor"] == "rule"
    assert accepted_data["status"] == "accepted" and accepted_data["visit_date"] == future(101)
    assert accepted_data["host"] == "Deputy Mayor" and accepted_data["actor"] == "officer-education"
    assert accepted_data["language"] == "sv" and accepted_data["needs"]["press"] is True


async def test_every_change_writes_an_audit_row_without_personal_data(visits):
    submitted = await visits.submit(contact={"name": "Tiina Secret", "email": "tiina@example.org"})
    request_id = (await visits.view(submitted["reference"]))["id"]
    await visits.decide(
        submitted["reference"],
        "education",
        decision="decline",
        reason="no_capacity",
        message="Sorry Tiina Secret, we are full.",
    )
    audit = await visits.rows(models.AuditEntry, models.AuditEntry.request_id == request_id)
    assert [(a.action, a.actor, a.outcome) for a in sorted(audit, key=lambda a: a.id)] == [
        ("request.submitted", "delegation", "allowed"),
        ("request.routed", "rule", "allowed"),
        ("request.declined", "officer-education", "allowed"),
    ]
    assert "Tiina" not in str([a.details for a in audit])
