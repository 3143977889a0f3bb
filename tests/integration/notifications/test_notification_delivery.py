"""Events in, e-mails and webhooks out: real Kafka, PostgreSQL, SMTP server and HTTP receiver."""

import asyncio
import json
import re
from pathlib import Path

import uvicorn
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.notifications import service
from services.notifications.dispatcher import Dispatcher
from services.notifications.main import create_app
from services.notifications.messages import Renderer
from services.notifications.models import Delivery, processed_events
from shared.db import make_engine, make_sessionmaker
from shared.events import Envelope
from tests.integration.notifications.running import running, settled
from tests.support import bearer, envelopes, eventually, read_topic, serve
from visitdesk.mailsink import EmlStore, mailsink

WEBHOOKS_MD = Path(__file__).resolve().parents[3] / "services" / "notifications" / "WEBHOOKS.md"


class RefusingStore(EmlStore):
    """Answers the first `refusals` DATA commands with a temporary failure, then stores as usual."""

    def __init__(self, directory, refusals: int):
        super().__init__(directory)
        self.refusals, self.refused = refusals, 0

    async def handle_DATA(self, server, session, envelope):
        if self.refused < self.refusals:
            self.refused += 1
            return "451 4.3.0 try again"
        return await super().handle_DATA(server, session, envelope)


class WebhookReceiver:
    """A real HTTP server (uvicorn) on a free port that records every POST it gets."""

    def __init__(self, status: int = 204):
        self.status, self.requests = status, []
        self.app = Starlette(routes=[Route("/hooks/visitdesk", self.receive, methods=["POST"])])

    async def receive(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), await request.body()))
        return Response(status_code=self.status)

    async def __aenter__(self):
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        )
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            await asyncio.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hooks/visitdesk"
        return self

    async def __aexit__(self, *exc):
        self.server.should_exit = True
        await self.task


def documented_verifier():
    """The Python recipe of WEBHOOKS.md, executed as written."""
    code = re.search(r"```python\n(.*?)```", WEBHOOKS_MD.read_text(), re.S).group(1)
    namespace: dict = {}
    exec(code, namespace)
    return namespace["verify"]


async def test_an_accepted_request_mails_the_delegation_in_its_language_and_the_division_once(
    database, sink, make_settings, publish, visit_event, kafka_bootstrap
):
    settings = make_settings(database, sink.port)
    submitted = visit_event("visit.submitted.v1", language="sv")
    event = visit_event(
        "visit.accepted.v1", request_id=submitted["subject"], language="sv", reference=submitted["data"]["reference"]
    )
    async with running(settings) as (_app, client):
        await publish(settings, "visits.v1", submitted)
        await publish(settings, "visits.v1", event)
        rows = await settled(client, settings, event["data"]["reference"], 3)
        published = envelopes(await read_topic(kafka_bootstrap, settings.topic("notifications.v1"), count=3))

    rows = [r for r in rows if r["event_type"] == "visit.accepted.v1"]
    assert sorted((r["recipient_kind"], r["status"], r["attempts"]) for r in rows) == [
        ("delegation", "sent", 1),
        ("division", "sent", 1),
    ]
    ids = {f"<{r['id']}@visitdesk>": r["recipient_kind"] for r in rows}
    mails = {ids[m["Message-ID"]]: m for m in sink.messages() if m["Message-ID"] in ids}
    delegation, division = mails["delegation"], mails["division"]
    assert (delegation["To"], division["To"]) == ("anna.lind@example.se", "education@visitdesk.invalid")
    assert delegation["Subject"] == f"Ert besök är bekräftat – {event['data']['reference']}"
    assert delegation["Content-Language"] == "sv" and division["Content-Language"] == "fi"
    # Only the submission carried the link; the acceptance e-mail still has it.
    assert submitted["data"]["tracking_url"] in delegation.get_body(("plain",)).get_content()
    assert "Vierailu on hyväksytty" in division.get_body(("plain",)).get_content()
    delivered = [e for e in published if e["data"]["event_id"] == event["id"]]
    assert sorted((e["type"], e["data"]["recipient"]) for e in delivered) == [
        ("notification.delivered.v1", "delegation"),
        ("notification.delivered.v1", "division"),
    ]
    assert {e["subject"] for e in delivered} == {event["subject"]}


async def test_a_delegation_with_an_international_address_is_mailed_over_smtputf8(
    database, sink, make_settings, publish, visit_event
):
    settings = make_settings(database, sink.port)
    event = visit_event("visit.submitted.v1", language="sv", contact_email="åsa.öberg@exempel.se")
    async with running(settings) as (_app, client):
        await publish(settings, "visits.v1", event)
        [row] = await settled(client, settings, event["data"]["reference"], 1)
    [mail] = sink.messages()
    assert (row["status"], row["attempts"]) == ("sent", 1)
    assert mail["To"] == "åsa.öberg@exempel.se"
    assert mail["Subject"] == f"Vi har tagit emot er besöksförfrågan – {event['data']['reference']}"


async def test_the_same_event_produced_twice_sends_nothing_new(database, sink, make_settings, publish, visit_event):
    settings = make_settings(database, sink.port)
    event = visit_event("visit.accepted.v1")
    # Same key, so the same partition: once the marker is handled, the duplicate before it was too.
    marker = visit_event("visit.routed.v1", request_id=event["subject"], routed_by="person")
    async with running(settings) as (app, client):
        await publish(settings, "visits.v1", event)
        await settled(client, settings, event["data"]["reference"], 2)
        await publish(settings, "visits.v1", event)
        await publish(settings, "visits.v1", marker)

        async def marker_handled():
            async with app.state.sessions() as session:
                return await session.scalar(
                    select(processed_events.c.event_id).where(processed_events.c.event_id == marker["id"])
                )

        await eventually(marker_handled)
        rows = await settled(client, settings, event["data"]["reference"], 2)
    assert [r["attempts"] for r in rows] == [1, 1]
    assert len(sink.messages()) == 2


async def test_an_smtp_server_that_refuses_twice_then_accepts_yields_one_delivery_after_three_attempts(
    database, tmp_path, make_settings, publish, visit_event
):
    event = visit_event("visit.submitted.v1", language="fi")
    async with mailsink(tmp_path, handler=RefusingStore(tmp_path / "mail", refusals=2)) as sink:
        settings = make_settings(database, sink.port, max_attempts=5)
        async with running(settings) as (_app, client):
            await publish(settings, "visits.v1", event)
            [row] = await settled(client, settings, event["data"]["reference"], 1)
        [mail] = sink.messages()
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 3, None)
    assert mail["Message-ID"] == f"<{row['id']}@visitdesk>"
    assert mail["Subject"] == f"Vierailupyyntönne on vastaanotettu – {event['data']['reference']}"


async def test_an_smtp_server_that_always_refuses_ends_in_the_dlq_and_a_failed_log_row(
    database, tmp_path, make_settings, publish, visit_event, kafka_bootstrap
):
    event = visit_event("visit.submitted.v1")
    async with mailsink(tmp_path, handler=RefusingStore(tmp_path / "mail", refusals=10**6)) as sink:
        settings = make_settings(database, sink.port)
        async with running(settings) as (_app, client):
            await publish(settings, "visits.v1", event)
            [row] = await settled(client, settings, event["data"]["reference"], 1)
            failed = envelopes(await read_topic(kafka_bootstrap, settings.topic("notifications.v1"), count=1))
        assert sink.messages() == []
    assert (row["status"], row["attempts"]) == ("failed", 3)
    assert row["last_error"] == "gave up after 3 attempts: SMTP 451 4.3.0 try again"
    [record] = await read_topic(kafka_bootstrap, settings.topic("visits.v1.dlq"), count=1)
    headers = dict(record.headers)
    assert headers["dlq.origin.topic"] == settings.topic("visits.v1").encode()
    assert headers["dlq.error"] == row["last_error"].encode()
    dead = json.loads(record.value)
    assert (dead["delivery_id"], dead["recipient"], dead["event"]["id"]) == (row["id"], "delegation", event["id"])
    assert [(e["type"], e["data"]["error"]) for e in failed] == [("notification.failed.v1", row["last_error"])]


async def test_a_division_webhook_is_signed_so_the_receiver_can_verify_it_with_the_documented_recipe(
    database, sink, make_settings, publish, visit_event
):
    settings = make_settings(database, sink.port)
    secret = "whsec-education-0123456789"
    event = visit_event("visit.routed.v1", routed_by="rule")
    async with WebhookReceiver() as receiver, running(settings) as (_app, client):
        response = await client.put(
            "/api/v1/recipients/divisions/education",
            headers=bearer(settings, "admin"),
            json={"email": "kv@hel.example", "webhook_url": receiver.url, "webhook_secret": secret},
        )
        assert response.status_code == 200, response.text
        await publish(settings, "visits.v1", event)
        rows = await settled(client, settings, event["data"]["reference"], 2)
    [(headers, body)] = receiver.requests
    verify = documented_verifier()
    assert verify(secret, headers["x-visitdesk-signature"], body)
    assert not verify(secret, headers["x-visitdesk-signature"], body.replace(b"education", b"educatiom"))
    assert not verify("another-secret-of-16+", headers["x-visitdesk-signature"], body)
    webhook = next(r for r in rows if r["channel"] == "webhook")
    assert headers["idempotency-key"] == webhook["id"] and webhook["status"] == "sent"
    assert webhook["address"] == f"http://127.0.0.1:{receiver.url.split(':')[2].split('/')[0]}/…"
    payload = json.loads(body)
    assert (payload["event_type"], payload["reference"], payload["division"]) == (
        "visit.routed.v1",
        event["data"]["reference"],
        "education",
    )
    [mail] = sink.messages()
    assert mail["To"] == "kv@hel.example"


async def test_a_redelivery_that_slips_past_the_processed_events_table_adds_no_delivery(
    database, sink, make_settings, visit_event
):
    settings = make_settings(database, sink.port)
    envelope = Envelope.model_validate(visit_event("visit.escalated.v1", deadline="2027-01-15"))
    app = create_app(settings)
    async with serve(app):
        for _ in range(2):
            async with app.state.sessions() as session, session.begin():
                await service.plan_deliveries(
                    session=session, envelope=envelope, settings=settings, renderer=Renderer()
                )
        async with app.state.sessions() as session:
            count = await session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.event_id == envelope.id)
            )
    assert count == 3  # division, communications, international affairs: once each


async def test_a_tracking_link_whose_transaction_rolled_back_is_remembered_by_the_next_event_carrying_it(
    database, sink, make_settings, visit_event
):
    settings = make_settings(database, sink.port)
    submitted = Envelope.model_validate(visit_event("visit.submitted.v1"))
    request = {"request_id": submitted.subject, "reference": submitted.data["reference"]}
    link = submitted.data["tracking_url"]
    # The submission's two events carry the same link; it is written once per transaction.
    routed = Envelope.model_validate(visit_event("visit.routed.v1", **request, tracking_url=link))
    accepted = Envelope.model_validate(visit_event("visit.accepted.v1", **request))  # carries none
    engine = make_engine(database)
    sessions, renderer = make_sessionmaker(engine), Renderer()
    try:
        async with sessions() as session:
            for envelope in (submitted, routed):
                transaction = await session.begin()
                await service.plan_deliveries(session=session, envelope=envelope, settings=settings, renderer=renderer)
                await (transaction.rollback() if envelope is submitted else transaction.commit())
            async with session.begin():
                planned = await service.plan_deliveries(
                    session=session, envelope=accepted, settings=settings, renderer=renderer
                )
    finally:
        await engine.dispose()
    [delegation] = [d for d in planned if d.recipient_kind == "delegation"]
    assert link in delegation.body


async def test_a_webhook_that_answers_gone_fails_at_once_while_the_email_still_goes(
    database, sink, make_settings, publish, visit_event
):
    settings = make_settings(database, sink.port)
    event = visit_event("visit.cancelled.v1", was_accepted=False)
    async with WebhookReceiver(status=410) as receiver, running(settings) as (_app, client):
        await client.put(
            "/api/v1/recipients/divisions/education",
            headers=bearer(settings, "admin"),
            json={
                "email": "kv@hel.example",
                "webhook_url": receiver.url,
                "webhook_secret": "whsec-education-0123456789",
            },
        )
        await publish(settings, "visits.v1", event)
        rows = await settled(client, settings, event["data"]["reference"], 3)
    outcome = {(r["recipient_kind"], r["channel"]): (r["status"], r["attempts"], r["last_error"]) for r in rows}
    assert outcome == {
        ("delegation", "email"): ("sent", 1, None),
        ("division", "email"): ("sent", 1, None),
        ("division", "webhook"): ("failed", 1, "webhook answered HTTP 410"),
    }
    assert len(receiver.requests) == 1


async def test_a_delivery_whose_sender_died_after_claiming_it_is_resent_after_the_lease_with_the_same_message_id(
    database, sink, make_settings, visit_event
):
    settings = make_settings(database, sink.port, send_lease_seconds=0.3)
    engine = make_engine(database)
    sessions = make_sessionmaker(engine)
    envelope = Envelope.model_validate(visit_event("visit.submitted.v1"))
    async with sessions() as session, session.begin():
        await service.plan_deliveries(session=session, envelope=envelope, settings=settings, renderer=Renderer())
    dead, alive = (Dispatcher(sessions=sessions, settings=settings, runtime=None, http=None) for _ in range(2))
    [claimed] = await dead._claim()  # ...and then its process is killed, mid-send
    assert await alive.dispatch_due() == 0  # the lease keeps a second sender away
    await eventually(alive.dispatch_due)
    async with sessions() as session:
        row = await session.get(Delivery, claimed.id)
    await engine.dispose()
    assert (row.status, row.attempts) == ("sent", 2)
    [mail] = sink.messages()
    assert mail["Message-ID"] == f"<{claimed.id}@visitdesk>"  # what a resend after a real send would repeat


class UnknownMailbox(EmlStore):
    """Says no such mailbox for every recipient, the way a real server does, naming the address."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"


async def test_a_mailbox_that_does_not_exist_fails_at_once_without_its_address_in_the_error(
    database, tmp_path, make_settings, publish, visit_event
):
    event = visit_event("visit.submitted.v1")
    async with mailsink(tmp_path, handler=UnknownMailbox(tmp_path / "mail")) as sink:
        settings = make_settings(database, sink.port, max_attempts=5)
        async with running(settings) as (_app, client):
            await publish(settings, "visits.v1", event)
            [row] = await settled(client, settings, event["data"]["reference"], 1)
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert row["last_error"] == "SMTP 550 5.1.1 <<address>>: Recipient address rejected: User unknown"


async def test_a_delivery_whose_sender_died_while_giving_up_is_failed_without_another_send(
    database, sink, make_settings, visit_event, kafka_bootstrap
):
    settings = make_settings(database, sink.port)
    envelope = Envelope.model_validate(visit_event("visit.submitted.v1"))
    async with running(settings) as (app, client):
        async with app.state.sessions() as session, session.begin():
            [planned] = await service.plan_deliveries(
                session=session, envelope=envelope, settings=settings, renderer=Renderer()
            )
            # As left by a process killed after its last attempt, before it recorded the failure.
            row = await session.get(Delivery, planned.id)
            row.attempts, row.last_error = settings.max_attempts, "SMTP 451 4.3.0 try again"
        [row] = await settled(client, settings, envelope.data["reference"], 1)
    assert (row["status"], row["attempts"]) == ("failed", settings.max_attempts + 1)
    assert row["last_error"] == "gave up after 3 attempts: SMTP 451 4.3.0 try again"
    assert sink.messages() == []
    assert len(await read_topic(kafka_bootstrap, settings.topic("visits.v1.dlq"), count=1)) == 1
