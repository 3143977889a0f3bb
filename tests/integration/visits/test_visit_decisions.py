"""Division decisions, redirects, cancellations, access rules and the staff listing."""

import base64

import pytest

from services.visits import models
from tests.builders import future
from tests.integration.visits.running import token_of
from tests.support import envelopes, unique


async def test_redirect_keeps_the_reference_and_the_tracking_link_works_after(visits):
    submitted = await visits.submit(focus_areas=["education"])
    reference, token = submitted["reference"], token_of(submitted)
    moved = await visits.decide(
        reference,
        "education",
        decision="redirect",
        to_division="urban-environment",
        message="Climate schools are run by the urban environment division.",
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["reference"], moved.json()["status"], moved.json()["division"]) == (
        reference,
        "routed",
        "urban-environment",
    )
    own_view = await visits.client.get(f"/api/v1/requests/{reference}", params={"token": token})
    assert own_view.status_code == 200
    assert own_view.json()["division"] == "urban-environment" and "contact_email" not in own_view.json()
    history = (await visits.client.get(f"/api/v1/requests/{reference}/history", headers=visits.staff())).json()
    assert [(h["action"], h["by"], h["actor"]) for h in history] == [
        ("submitted", "delegation", None),
        ("routed", "rule", None),
        ("redirected", "person", "officer-education"),
        ("routed", "person", "officer-education"),
    ]
    assert history[2]["details"]["from_division"] == "education"
    assert (await visits.decide(reference, "education", decision="decline", reason="other")).status_code == 404
    accepted = await visits.decide(
        reference, "urban-environment", decision="accept", visit_date=future(102), host="Head of urban environment"
    )
    assert accepted.json()["status"] == "accepted"


async def test_the_redirecting_divisions_note_is_shown_to_staff_and_not_to_the_delegation(visits):
    submitted = await visits.submit(focus_areas=["education"])
    reference, token = submitted["reference"], token_of(submitted)
    note = unique("Between us: their last visit went badly ")
    moved = await visits.decide(
        reference, "education", decision="redirect", to_division="culture-and-leisure", message=note
    )
    assert moved.status_code == 200, moved.text
    staff = (await visits.client.get(f"/api/v1/requests/{reference}/history", headers=visits.staff())).json()
    own = (await visits.client.get(f"/api/v1/requests/{reference}/history", params={"token": token})).json()
    assert [h["action"] for h in own] == [h["action"] for h in staff] == ["submitted", "routed", "redirected", "routed"]
    assert staff[2]["details"]["message"] == note
    assert own[2]["details"] == {"from_division": "education", "to_division": "culture-and-leisure"}
    assert {h["actor"] for h in own} == {None}
    page = await visits.client.get(f"/track/{reference}", params={"token": token, "lang": "en"})
    assert page.status_code == 200 and note not in page.text and "Between us" not in page.text


async def test_a_redirect_publishes_redirected_then_routed(visits):
    submitted = await visits.submit(focus_areas=["design"])
    request_id = (await visits.view(submitted["reference"]))["id"]
    await visits.decide(
        submitted["reference"],
        "city-executive-office",
        decision="redirect",
        to_division="business-hub",
        message="Investment visit.",
    )
    types = [e["type"] for e in envelopes(await visits.events(request_id, 4))]
    assert types == ["visit.submitted.v1", "visit.routed.v1", "visit.redirected.v1", "visit.routed.v1"]
    redirected, routed = envelopes(await visits.events(request_id, 4))[2:]
    assert redirected["data"]["from_division"] == "city-executive-office"
    assert routed["data"]["division"] == "business-hub" and routed["data"]["routed_by"] == "person"


async def test_a_redirect_to_an_unknown_or_the_same_division_is_refused(visits):
    reference = (await visits.submit(focus_areas=["culture"]))["reference"]
    for target in ("ministry-of-magic", "culture-and-leisure"):
        response = await visits.decide(reference, "culture-and-leisure", decision="redirect", to_division=target)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "to_division"]


async def test_division_officer_cannot_see_or_decide_another_divisions_request(visits):
    submitted = await visits.submit(focus_areas=["education"])
    reference = submitted["reference"]
    before = await visits.view(reference)
    outbox_before = await visits.count(models.outbox, models.outbox.c.key == before["id"])
    outsider = visits.officer("culture-and-leisure", sub="culture-officer-7")
    seen = await visits.client.get(f"/api/v1/requests/{reference}", headers=outsider)
    decided = await visits.client.post(
        f"/api/v1/requests/{reference}/decision",
        headers=outsider,
        json={"decision": "accept", "visit_date": future(101), "host": "Me"},
    )
    history = await visits.client.get(f"/api/v1/requests/{reference}/history", headers=outsider)
    assert (seen.status_code, decided.status_code, history.status_code) == (404, 404, 404)
    assert seen.json() == decided.json() == {"detail": "request not found"}
    assert await visits.view(reference) == before
    assert await visits.count(models.outbox, models.outbox.c.key == before["id"]) == outbox_before
    denied = await visits.rows(
        models.AuditEntry, models.AuditEntry.request_id == before["id"], models.AuditEntry.outcome == "denied"
    )
    assert sorted((d.actor, d.role, d.action, d.details["attempted"]) for d in denied) == [
        ("culture-officer-7", "division_officer", "access.denied", "decide.accept"),
        ("culture-officer-7", "division_officer", "access.denied", "history"),
        ("culture-officer-7", "division_officer", "access.denied", "view"),
    ]


async def test_a_wrong_tracking_token_finds_nothing_and_is_audited(visits):
    submitted = await visits.submit()
    reference = submitted["reference"]
    wrong = await visits.client.get(f"/api/v1/requests/{reference}", params={"token": "guess"})
    missing = await visits.client.get(f"/api/v1/requests/{reference}")
    assert (wrong.status_code, missing.status_code) == (404, 404)
    request_id = (await visits.view(reference))["id"]
    denied = await visits.rows(
        models.AuditEntry, models.AuditEntry.request_id == request_id, models.AuditEntry.outcome == "denied"
    )
    assert sorted(d.details["why"] for d in denied) == ["bad_token", "no_credentials"]


async def test_only_deciding_roles_may_decide(visits):
    reference = (await visits.submit())["reference"]
    response = await visits.client.post(
        f"/api/v1/requests/{reference}/decision",
        headers=visits.staff("communications"),
        json={"decision": "decline", "reason": "other"},
    )
    assert response.status_code == 403
    anonymous = await visits.client.post(
        f"/api/v1/requests/{reference}/decision", json={"decision": "decline", "reason": "other"}
    )
    assert anonymous.status_code == 401
    admin = await visits.client.post(
        f"/api/v1/requests/{reference}/decision",
        headers=visits.staff("admin"),
        json={"decision": "decline", "reason": "out_of_scope", "message": "No."},
    )
    assert admin.json()["status"] == "declined" and admin.json()["decline_reason"] == "out_of_scope"


async def test_invalid_transitions_are_conflicts(visits):
    reference = (await visits.submit())["reference"]
    declined = await visits.decide(reference, "education", decision="decline", reason="no_capacity")
    assert declined.status_code == 200
    again = await visits.decide(reference, "education", decision="accept", visit_date=future(101), host="Someone")
    assert again.status_code == 409
    propose = await visits.decide(
        reference, "education", decision="propose", proposed_dates=[{"start": future(120), "end": future(121)}]
    )
    assert propose.status_code == 409
    assert (await visits.view(reference))["status"] == "declined"


async def test_a_visit_date_must_fall_within_a_preferred_or_proposed_range(visits):
    reference = (await visits.submit())["reference"]
    outside = await visits.decide(reference, "education", decision="accept", visit_date=future(130), host="Host")
    assert outside.status_code == 422 and outside.json()["detail"][0]["loc"] == ["body", "visit_date"]
    proposed = await visits.decide(
        reference,
        "education",
        decision="propose",
        message="Spring is full.",
        proposed_dates=[{"start": future(128), "end": future(132)}],
    )
    assert proposed.json()["status"] == "dates_proposed"
    assert proposed.json()["proposed_dates"] == [{"start": future(128), "end": future(132)}]
    accepted = await visits.decide(reference, "education", decision="accept", visit_date=future(130), host="Host")
    assert accepted.status_code == 200 and accepted.json()["visit_date"] == future(130)


async def test_declining_an_accepted_visit_says_it_was_accepted(visits):
    reference = (await visits.submit())["reference"]
    await visits.decide(reference, "education", decision="accept", visit_date=future(100), host="Host")
    await visits.decide(reference, "education", decision="decline", reason="other", message="Strike.")
    request_id = (await visits.view(reference))["id"]
    declined = envelopes(await visits.events(request_id, 4))[3]
    assert declined["type"] == "visit.declined.v1" and declined["data"]["was_accepted"] is True
    assert declined["data"]["reason"] == "other" and declined["data"]["message"] == "Strike."


async def test_the_delegation_cancels_with_its_token_and_the_event_says_if_it_was_accepted(visits):
    submitted = await visits.submit()
    reference, token = submitted["reference"], token_of(submitted)
    await visits.decide(reference, "education", decision="accept", visit_date=future(100), host="Host")
    wrong = await visits.client.post(f"/api/v1/requests/{reference}/cancel", params={"token": "nope"})
    assert wrong.status_code == 404
    cancelled = await visits.client.post(f"/api/v1/requests/{reference}/cancel", params={"token": token})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = await visits.client.post(f"/api/v1/requests/{reference}/cancel", params={"token": token})
    assert again.status_code == 409
    request_id = (await visits.view(reference))["id"]
    event = envelopes(await visits.events(request_id, 4))[3]
    assert event["type"] == "visit.cancelled.v1" and event["data"]["was_accepted"] is True
    assert event["data"]["actor"] == "delegation"


async def test_staff_of_the_owning_division_may_cancel_others_may_not(visits):
    reference = (await visits.submit(focus_areas=["climate"]))["reference"]
    url = f"/api/v1/requests/{reference}/cancel"
    assert (await visits.client.post(url, headers=visits.staff("communications"))).status_code == 403
    assert (await visits.client.post(url, headers=visits.officer("education"))).status_code == 404
    cancelled = await visits.client.post(url, headers=visits.officer("urban-environment"))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


async def test_the_delegation_sees_its_history_without_staff_names(visits):
    submitted = await visits.submit()
    await visits.decide(
        submitted["reference"],
        "education",
        decision="propose",
        proposed_dates=[{"start": future(140), "end": future(141)}],
        message="Later?",
    )
    history = await visits.client.get(
        f"/api/v1/requests/{submitted['reference']}/history", params={"token": token_of(submitted)}
    )
    assert [(h["action"], h["by"], h["actor"]) for h in history.json()] == [
        ("submitted", "delegation", None),
        ("routed", "rule", None),
        ("dates_proposed", "person", None),
    ]


async def _all_pages(visits, headers: dict, limit: int, **filters) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        params = {"limit": limit, **filters} | ({"cursor": cursor} if cursor else {})
        response = await visits.client.get("/api/v1/requests", params=params, headers=headers)
        assert response.status_code == 200, response.text
        pages.append(response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return pages


async def test_keyset_pagination_returns_every_row_once_newest_first(visits):
    mine = [(await visits.submit(country="IS"))["reference"] for _ in range(7)]
    pages = await _all_pages(visits, visits.staff("communications"), 3, country="is")
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [r["reference"] for p in pages for r in p] == list(reversed(mine))
    everything = [r["id"] for p in await _all_pages(visits, visits.staff(), 5) for r in p]
    assert len(everything) == len(set(everything)) == await visits.count(models.VisitRequest)


@pytest.mark.parametrize("raw", [b"nope", b'["0001-01-01T00:00:00+05:00", "x"]', b'["9999-12-31T23:00:00-05:00", "x"]'])
async def test_a_forged_cursor_is_refused(visits, raw):
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    response = await visits.client.get("/api/v1/requests", params={"cursor": cursor}, headers=visits.staff())
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "cursor"]


async def test_listing_filters_and_division_officers_see_only_their_division(visits):
    short = await visits.submit(
        country="LU",
        focus_areas=["participation", "culture"],
        preferred_dates=[{"start": future(10), "end": future(11)}],
    )
    other = await visits.submit(country="LU", focus_areas=["culture"])
    staff = visits.staff("communications")

    async def refs(headers=staff, **params) -> list[str]:
        response = await visits.client.get("/api/v1/requests", params={"country": "LU", **params}, headers=headers)
        return [r["reference"] for r in response.json()["items"]]

    assert await refs() == [other["reference"], short["reference"]]
    assert await refs(flag="short_notice") == [short["reference"]]
    assert await refs(focus_area="culture") == [other["reference"], short["reference"]]
    assert await refs(focus_area="participation") == [short["reference"]]
    assert await refs(division="culture-and-leisure") == [other["reference"]]
    assert await refs(status="declined") == []
    forced = await refs(headers=visits.officer("culture-and-leisure"), division="city-executive-office")
    assert forced == [other["reference"]]
    bad = await visits.client.get("/api/v1/requests", params={"flag": "vip"}, headers=staff)
    assert bad.status_code == 422
    assert (await visits.client.get("/api/v1/requests")).status_code == 401
