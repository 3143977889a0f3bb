"""The delivery log, division recipients, erasure and migrations of the notifications service."""

import asyncio
import uuid

import pytest
from sqlalchemy import select

from services.notifications.main import create_app
from services.notifications.models import Delivery
from shared.migrations import downgrade, upgrade
from tests.support import bearer, eventually, serve
from visitdesk.mailsink import mailsink


async def settled_rows(app, request_id: str, count: int) -> list[Delivery]:
    """The request's deliveries straight from the database, once `count` exist and none is pending."""

    async def check():
        async with app.state.sessions() as session:
            rows = list(await session.scalars(select(Delivery).where(Delivery.request_id == request_id)))
        return rows if len(rows) == count and all(r.status != "pending" for r in rows) else None

    return await eventually(check)


@pytest.fixture(scope="module")
async def running(new_database, make_settings, tmp_path_factory):
    """One service for the module (its start is the slow part); yields (settings, client, app, sink)."""
    async with mailsink(tmp_path_factory.mktemp("mail")) as sink:
        settings = make_settings(await new_database("notifications"), sink.port)
        app = create_app(settings)
        async with serve(app) as client:
            await asyncio.wait_for(app.state.runtime.kafka_started.wait(), 30)
            yield settings, client, app, sink


@pytest.fixture
async def accepted(running, publish, visit_event):
    """A new accepted education request of a minister, mailed; yields (settings, client, event, app)."""
    settings, client, app, _ = running
    event = visit_event("visit.accepted.v1", highest_rank="minister")
    await publish(settings, "visits.v1", event)
    await settled_rows(app, event["subject"], 3)
    return settings, client, event, app


async def test_staff_read_the_delivery_log_without_bodies_and_officers_only_for_their_division(accepted):
    settings, client, event, _ = accepted
    reference = event["data"]["reference"]
    for role in ("communications", "admin", "protocol_officer"):
        response = await client.get(
            "/api/v1/deliveries", params={"reference": reference}, headers=bearer(settings, role)
        )
        assert response.status_code == 200
        assert {r["recipient_kind"] for r in response.json()} == {"delegation", "division", "communications"}
    own = await client.get(
        "/api/v1/deliveries", params={"reference": reference}, headers=bearer(settings, "division_officer", "education")
    )
    other = await client.get(
        "/api/v1/deliveries",
        params={"reference": reference},
        headers=bearer(settings, "division_officer", "culture-and-leisure"),
    )
    assert len(own.json()) == 3 and other.json() == []
    row = own.json()[0]
    assert not {"subject", "body", "body_html", "event"} & set(row)
    assert {"address", "status", "attempts", "last_error", "created_at", "sent_at"} <= set(row)


async def test_the_delivery_log_needs_a_staff_token(accepted):
    _, client, event, _ = accepted
    response = await client.get("/api/v1/deliveries", params={"reference": event["data"]["reference"]})
    assert response.status_code == 401


async def test_erasing_a_requests_personal_data_keeps_only_the_statistics(accepted, publish):
    settings, _client, event, app = accepted
    erased = {
        "id": str(uuid.uuid4()),
        "type": "visit.personal_data_erased.v1",
        "source": "visits",
        "subject": event["subject"],
        "time": event["time"],
        "specversion": "1.0",
        "data": {"request_id": event["subject"], "reference": event["data"]["reference"]},
    }
    await publish(settings, "visits.v1", erased)

    async def erased_rows():
        async with app.state.sessions() as session:
            rows = list(await session.scalars(select(Delivery).where(Delivery.request_id == event["subject"])))
        return rows if all(r.body is None for r in rows) else None

    rows = await eventually(erased_rows)
    assert {(r.recipient_kind, r.status, r.attempts) for r in rows} == {
        ("delegation", "sent", 1),
        ("division", "sent", 1),
        ("communications", "sent", 1),
    }
    assert all(r.subject is None and r.body_html is None and r.event is None for r in rows)
    assert [r.address for r in rows if r.recipient_kind == "delegation"] == [None]
    assert "anna.lind" not in str([(r.address, r.last_error) for r in rows])


async def test_admins_set_a_divisions_recipients_and_the_secret_is_never_shown(running):
    settings, client, _, _ = running
    admin = bearer(settings, "admin")
    url = "/api/v1/recipients/divisions/business-hub"
    body = {
        "email": "visits@businesshub.example",
        "webhook_url": "https://hooks.example/bh",
        "webhook_secret": "0123456789abcdef",
    }
    assert (await client.put(url, json=body, headers=bearer(settings, "communications"))).status_code == 403
    response = await client.put(url, json=body, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["webhook_secret_set"] is True and "0123456789abcdef" not in response.text
    kept = await client.put(
        url, json={"email": "new@businesshub.example", "webhook_url": body["webhook_url"]}, headers=admin
    )
    assert kept.json()["webhook_secret_set"] is True and kept.json()["updated_by"] == "dev-admin"
    listing = await client.get("/api/v1/recipients/divisions", headers=admin)
    assert {"education", "international-affairs", "business-hub"} <= {r["division"] for r in listing.json()}
    assert (await client.get("/api/v1/recipients/divisions/education", headers=admin)).json()[
        "email"
    ] == "education@visitdesk.invalid"


async def test_a_division_without_an_address_gets_its_failed_emails_once_an_admin_sets_one(
    running, publish, visit_event
):
    """A division added in visits but not yet here: its e-mails fail visibly in the log, and go out once an admin
    sets its address; one whose request was erased meanwhile has nothing left to send and stays failed."""
    settings, client, app, sink = running
    division = f"pilot-{uuid.uuid4().hex[:8]}"
    routed, erased = (visit_event("visit.routed.v1", division=division) for _ in range(2))
    for event in (routed, erased):
        await publish(settings, "visits.v1", event)
    for event in (routed, erased):
        row = await _division_row(app, event["subject"], "failed")
        assert row.address is None and "no e-mail address configured" in row.last_error
    await publish(
        settings,
        "visits.v1",
        {
            "id": str(uuid.uuid4()),
            "type": "visit.personal_data_erased.v1",
            "source": "visits",
            "subject": erased["subject"],
            "time": erased["time"],
            "specversion": "1.0",
            "data": {"request_id": erased["subject"], "reference": erased["data"]["reference"]},
        },
    )
    await _division_row(app, erased["subject"], "failed", body=None)
    address = f"{division}@city.example"
    response = await client.put(
        f"/api/v1/recipients/divisions/{division}", json={"email": address}, headers=bearer(settings, "admin")
    )
    assert response.status_code == 200, response.text
    sent = await _division_row(app, routed["subject"], "sent")
    assert sent.address == address and sent.last_error is None
    assert [m["X-Visitdesk-Reference"] for m in sink.messages() if m["To"] == address] == [routed["data"]["reference"]]
    assert (await _division_row(app, erased["subject"], "failed", body=None)).address is None


async def _division_row(app, request_id: str, status: str, **only) -> Delivery | None:
    """The request's delivery to its division once it has `status` (and the `only` values)."""

    async def check():
        async with app.state.sessions() as session:
            row = await session.scalar(
                select(Delivery).where(Delivery.request_id == request_id, Delivery.recipient_kind == "division")
            )
        return row if row and row.status == status and all(getattr(row, k) == v for k, v in only.items()) else None

    return await eventually(check)


async def test_a_webhook_without_a_secret_or_a_bad_address_is_refused(running):
    settings, client, _, _ = running
    admin = bearer(settings, "admin")
    no_secret = await client.put(
        "/api/v1/recipients/divisions/new-division",
        headers=admin,
        json={"email": "a@b.example", "webhook_url": "https://hooks.example/x"},
    )
    bad_email = await client.put("/api/v1/recipients/divisions/education", headers=admin, json={"email": "nope"})
    bad_code = await client.put("/api/v1/recipients/divisions/Bad%20Code", headers=admin, json={"email": "a@b.example"})
    missing = await client.get("/api/v1/recipients/divisions/no-such-division", headers=admin)
    assert (no_secret.status_code, bad_email.status_code, bad_code.status_code, missing.status_code) == (
        422,
        422,
        422,
        404,
    )


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_migrations_go_up_and_down_on_both_databases(backend, new_database, tmp_path):
    url = (
        await new_database("notifications", migrate=False)
        if backend == "postgresql"
        else f"sqlite:///{tmp_path / 'notifications.db'}"
    )
    for step in (upgrade, downgrade, upgrade):
        await asyncio.to_thread(step, "notifications", url)


async def test_the_service_delivers_on_sqlite_as_in_make_dev(tmp_path, sink, make_settings, publish, visit_event):
    url = f"sqlite:///{tmp_path / 'notifications.db'}"
    await asyncio.to_thread(upgrade, "notifications", url)
    settings = make_settings(url, sink.port)
    event = visit_event("visit.waitlisted.v1", nearest_open_weeks=["2027-W12"], language="en")
    app = create_app(settings)
    async with serve(app):
        await asyncio.wait_for(app.state.runtime.kafka_started.wait(), 30)
        await publish(settings, "visits.v1", event)
        rows = await settled_rows(app, event["subject"], 2)
    assert {(r.recipient_kind, r.status) for r in rows} == {("delegation", "sent"), ("communications", "sent")}
    assert (
        "week 12 of 2027"
        in next(m for m in sink.messages() if m["To"] == "anna.lind@example.se").get_body(("plain",)).get_content()
    )
