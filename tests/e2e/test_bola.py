"""Another division's officer, on every id-bearing route of every service: nothing found, nothing changed."""

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from services.visits.models import AuditEntry
from tests.e2e.city import accept, next_monday, submit
from tests.support import bearer, eventually, read_topic, unique

OTHER_DIVISION = "urban-environment"
MISSING = "HEL-1999-999999"


@dataclass
class Accepted:
    id: str
    reference: str
    week: str
    item: str
    events: int  # records keyed by the request on visits.v1 before any attempt


@dataclass
class Route:
    service: str
    method: str
    path: str
    body: dict | None = None
    attempted: str | None = None  # the visits audit row's "attempted", for routes that look the request up

    def __str__(self) -> str:
        decision = (self.body or {}).get("decision", "")
        return f"{self.service} {self.method} {self.path} {decision}".strip()


GIFT = {
    "direction": "given",
    "description": "A book",
    "value_band": "under_50",
    "giver": "The city",
    "recipient": "The delegation",
}
NOT_FOUND = [
    Route("visits", "GET", "/api/v1/requests/{ref}", attempted="view"),
    Route("visits", "GET", "/api/v1/requests/{ref}/history", attempted="history"),
    Route(
        "visits",
        "POST",
        "/api/v1/requests/{ref}/decision",
        {"decision": "accept", "visit_date": "{date}", "host": "Head of unit"},
        attempted="decide.accept",
    ),
    Route(
        "visits",
        "POST",
        "/api/v1/requests/{ref}/decision",
        {"decision": "decline", "reason": "other"},
        attempted="decide.decline",
    ),
    Route("visits", "POST", "/api/v1/requests/{ref}/cancel", attempted="cancel"),
    Route("protocol", "GET", "/api/v1/plans/{ref}"),
    Route("capacity", "GET", "/api/v1/capacity/education/{week}"),
]
FORBIDDEN_BY_ROLE = [
    Route("visits", "DELETE", "/api/v1/requests/{ref}/personal-data?dry_run=true"),
    Route("protocol", "PATCH", "/api/v1/plans/{ref}/items/{item}", {"state": "done"}),
    Route("protocol", "POST", "/api/v1/plans/{ref}/gifts", GIFT),
    Route("capacity", "PUT", "/api/v1/capacity/education/{week}", {"limit": 0}),
    Route("capacity", "DELETE", "/api/v1/capacity/education/{week}"),
    Route("capacity", "GET", "/api/v1/capacity/education"),
    Route("notifications", "GET", "/api/v1/recipients/divisions/education"),
]


def visit_date() -> date:
    return next_monday(20) + timedelta(days=2)


@pytest.fixture(scope="module")
async def accepted(city) -> Accepted:
    """An accepted education request with its plan, reservation and deliveries all in place."""
    submitted = await submit(city, focus="education")
    assert submitted["division"] == "education"
    await accept(city, submitted, visit_date())
    reference, admin = submitted["reference"], city.auth("admin")
    iso = visit_date().isocalendar()
    week = f"{iso.year}-W{iso.week:02d}"
    plan = await eventually(lambda: _json(city, "protocol", f"/api/v1/plans/{reference}", admin), timeout=30)
    await eventually(lambda: _holds(city, f"/api/v1/capacity/education/{week}", reference), timeout=30)
    await eventually(
        lambda: _json(city, "notifications", f"/api/v1/deliveries?reference={reference}", city.auth("communications")),
        timeout=30,
    )
    request = (await city.visits.get(f"/api/v1/requests/{reference}", headers=admin)).json()
    events = await _events(city, request["id"], count=10_000, timeout=3)
    return Accepted(request["id"], reference, week, plan["items"][0]["key"], events)


@pytest.mark.parametrize("route", NOT_FOUND + FORBIDDEN_BY_ROLE, ids=str)
async def test_another_divisions_officer_finds_nothing_and_changes_nothing(city, accepted, route):
    officer_sub = unique("officer-")
    headers = bearer(city.settings["visits"], "division_officer", OTHER_DIVISION, sub=officer_sub)
    before = await _snapshot(city, accepted.reference)

    response = await _call(city, route, accepted, headers)

    assert response.status_code == (404 if route in NOT_FOUND else 403), response.text
    if route in NOT_FOUND:  # the same answer as for a reference that does not exist at all
        missing = await _call(city, route, accepted, headers, reference=MISSING)
        assert (missing.status_code, missing.text.replace(MISSING, "?")) == (
            response.status_code,
            response.text.replace(accepted.reference, "?"),
        )
    assert await _snapshot(city, accepted.reference) == before
    assert await _events(city, accepted.id, count=accepted.events + 1, timeout=1.5) == accepted.events
    if route.attempted:
        denied = await _denied(city, officer_sub)
        assert [(d.request_id, d.role, d.details["attempted"]) for d in denied] == [
            (accepted.id, "division_officer", route.attempted)
        ]


async def test_another_divisions_officer_gets_no_delivery_of_the_request(city, accepted):
    headers = bearer(city.settings["visits"], "division_officer", OTHER_DIVISION)
    response = await city.clients["notifications"].get(
        f"/api/v1/deliveries?reference={accepted.reference}", headers=headers
    )
    assert response.status_code in (200, 404), response.text
    assert (response.json() if response.status_code == 200 else []) == []
    assert await _events(city, accepted.id, count=accepted.events + 1, timeout=1.5) == accepted.events


async def test_another_divisions_lists_never_show_the_request(city, accepted):
    headers = bearer(city.settings["visits"], "division_officer", OTHER_DIVISION)
    lists = {
        "visits": "/api/v1/requests",
        "protocol": "/api/v1/plans?date_from=2000-01-01",
        "notifications": "/api/v1/deliveries?limit=500",
    }
    for service, path in lists.items():
        response = await city.clients[service].get(path, headers=headers)
        assert response.status_code == 200, (service, response.text)
        assert accepted.reference not in response.text, service


async def _call(city, route: Route, accepted: Accepted, headers: dict, reference: str | None = None):
    values = {
        "ref": reference or accepted.reference,
        "week": accepted.week,
        "item": accepted.item,
        "date": visit_date().isoformat(),
    }
    body = {k: v.format(**values) if isinstance(v, str) else v for k, v in (route.body or {}).items()}
    return await city.clients[route.service].request(
        route.method, route.path.format(**values), json=body if route.body is not None else None, headers=headers
    )


async def _snapshot(city, reference: str) -> tuple:
    """What the owning division sees: the request's status and its whole history."""
    headers = city.auth("admin")
    request = (await city.visits.get(f"/api/v1/requests/{reference}", headers=headers)).json()
    history = (await city.visits.get(f"/api/v1/requests/{reference}/history", headers=headers)).json()
    return request["status"], request["updated_at"] if "updated_at" in request else None, history


async def _events(city, request_id: str, *, count: int, timeout: float) -> int:
    records = await read_topic(
        city.settings["visits"].kafka_bootstrap, city.topic("visits.v1"), count=count, timeout=timeout, key=request_id
    )
    return len(records)


async def _denied(city, actor: str) -> list[AuditEntry]:
    async with city.apps["visits"].state.sessions() as session:
        return list(
            await session.scalars(select(AuditEntry).where(AuditEntry.actor == actor, AuditEntry.outcome == "denied"))
        )


async def _json(city, service: str, path: str, headers: dict):
    response = await city.clients[service].get(path, headers=headers)
    return response.json() if response.status_code == 200 else None


async def _holds(city, path: str, reference: str) -> bool:
    week = await _json(city, "capacity", path, city.auth("admin"))
    return week is not None and reference in [r["reference"] for r in week["requests"]]
