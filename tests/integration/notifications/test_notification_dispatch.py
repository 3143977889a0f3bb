"""How the dispatcher sends: woken by commits, over shared SMTP connections, and never twice for a database blink."""

import asyncio
import time
from datetime import timedelta

import pytest
from sqlalchemy.engine import make_url

from services.notifications import service
from services.notifications.dispatcher import Dispatcher, Handover
from services.notifications.events import VisitPersonalDataErased
from services.notifications.messages import Renderer
from services.notifications.models import Delivery
from shared.db import make_engine, make_sessionmaker
from shared.events import Envelope
from tests.faults.proxy import TcpProxy
from tests.integration.notifications.running import log_of, running, settled
from tests.support import eventually, read_topic
from visitdesk.mailsink import EmlStore, mailsink


async def test_a_consumed_event_is_mailed_at_once_although_the_dispatcher_polls_only_every_30_seconds(
    database, sink, make_settings, publish, visit_event
):
    settings = make_settings(database, sink.port, dispatcher_poll_seconds=30)
    event = visit_event("visit.submitted.v1")
    async with running(settings) as (_app, client):
        await publish(settings, "visits.v1", event)

        async def sent():
            rows = await log_of(client, settings, event["data"]["reference"])
            return rows if rows and rows[0]["status"] == "sent" else None

        [row] = await eventually(sent, timeout=10)
        stop_began = time.monotonic()
    assert time.monotonic() - stop_began < 8  # stopping wakes the sleeping dispatcher; else it waits out the 10 s grace
    assert (row["status"], row["attempts"]) == ("sent", 1)
    [mail] = sink.messages()
    assert mail["Message-ID"] == f"<{row['id']}@visitdesk>"


class CuttingStore(EmlStore):
    """Cuts the service's way to PostgreSQL the moment a message arrives, then answers `reply` to it."""

    def __init__(self, directory, proxy: TcpProxy, reply: str, seconds: float = 1.5):
        super().__init__(directory)
        self.proxy, self.reply, self.seconds, self.cuts = proxy, reply, seconds, []

    async def handle_DATA(self, server, session, envelope):
        if not self.cuts:
            self.cuts.append(asyncio.create_task(self.proxy.cut(self.seconds)))
            await asyncio.sleep(0)  # the cut drops every connection before the answer goes out
            if not self.reply.startswith("250"):
                return self.reply
        return await super().handle_DATA(server, session, envelope)

    async def cut_begun(self) -> bool:
        return bool(self.cuts)


# Leases the 1.5 s cut fits in many times. Were an outcome not recorded, the row would be claimed again when
# the lease ran out: a second e-mail after 10 s, or (30 s) no outcome within the 20 s the test waits.
@pytest.mark.parametrize(
    ("reply", "lease", "outcome", "mails"),
    [
        ("250 OK", 10, ("sent", 1), 1),  # accepted: the success is recorded once the database is back
        ("451 4.3.0 try again", 30, ("sent", 2), 1),  # refused for now: the retry is recorded, then it goes
        ("550 5.7.1 rejected", 10, ("failed", 1), 0),  # refused for good: failed and dead-lettered once
    ],
)
async def test_the_database_away_right_after_the_smtp_answer_neither_resends_nor_loses_the_outcome(
    database, tmp_path, make_settings, publish, visit_event, kafka_bootstrap, reply, lease, outcome, mails
):
    real = make_url(database)
    proxy = await TcpProxy(lambda: (real.host, real.port)).start()
    through_proxy = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    event = visit_event("visit.submitted.v1")
    store = CuttingStore(tmp_path / "mail", proxy, reply)
    try:
        async with mailsink(tmp_path, handler=store) as sink:
            settings = make_settings(through_proxy, sink.port, send_lease_seconds=lease)
            async with running(settings) as (_app, client):
                await publish(settings, "visits.v1", event)
                await eventually(store.cut_begun)
                await store.cuts[0]  # the log is read through the same database path
                [row] = await settled(client, settings, event["data"]["reference"], 1)
            messages = sink.messages()
    finally:
        await asyncio.gather(*store.cuts)
        await proxy.stop()
    assert proxy.cuts == 1
    assert (row["status"], row["attempts"]) == outcome
    assert [m["Message-ID"] for m in messages] == [f"<{row['id']}@visitdesk>"] * mails
    if outcome[0] == "failed":
        assert len(await read_topic(kafka_bootstrap, settings.topic("visits.v1.dlq"), count=2, timeout=2)) == 1


class TwoPerConnection(EmlStore):
    """Like many real servers: closes a connection when a third message begins; refuses one mailbox."""

    def __init__(self, directory):
        super().__init__(directory)
        self.accepted: dict[object, int] = {}  # per connection (aiosmtpd keeps one session per connection)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.accepted.get(session, 0) == 2:
            server.transport.close()
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.accepted[session] = self.accepted.get(session, 0) + 1
        return await super().handle_DATA(server, session, envelope)


async def test_a_batch_shares_one_smtp_connection_reopened_when_the_server_drops_it_and_one_refusal_fails_alone(
    database, tmp_path, make_settings, visit_event
):
    store = TwoPerConnection(tmp_path / "mail")
    events = [
        Envelope.model_validate(visit_event("visit.submitted.v1", contact_email=f"guest{i}@example.se"))
        for i in range(5)
    ]
    events.append(Envelope.model_validate(visit_event("visit.submitted.v1", contact_email="nobody@example.se")))
    async with mailsink(tmp_path, handler=store) as sink:
        settings = make_settings(database, sink.port, smtp_connections=1)
        async with running(settings) as (app, client):
            async with app.state.sessions() as session, session.begin():  # one commit: one batch
                planned = [
                    d
                    for e in events
                    for d in await service.plan_deliveries(
                        session=session, envelope=e, settings=settings, renderer=Renderer(), handover=app.state.handover
                    )
                ]
            rows = [r for e in events for r in await settled(client, settings, e.data["reference"], 1)]
        messages = sink.messages()
    outcome = {r["address"]: (r["status"], r["attempts"]) for r in rows}
    assert outcome == {f"guest{i}@example.se": ("sent", 1) for i in range(5)} | {"nobody@example.se": ("failed", 1)}
    assert sorted(m["Message-ID"] for m in messages) == sorted(
        f"<{d.id}@visitdesk>" for d in planned if d.address != "nobody@example.se"
    )
    assert list(store.accepted.values()) == [2, 2, 1]  # three connections for five e-mails, none sent twice


def _submissions(visit_event, count: int) -> list[Envelope]:
    """`count` submissions, each from its own delegation (guest0@…, guest1@…)."""
    return [
        Envelope.model_validate(visit_event("visit.submitted.v1", contact_email=f"guest{i}@example.se"))
        for i in range(count)
    ]


async def _plan(app, settings, envelope: Envelope) -> None:
    """Plan the event's deliveries in a commit of their own, as the consumer loop would."""
    async with app.state.sessions() as session, session.begin():
        await service.plan_deliveries(
            session=session, envelope=envelope, settings=settings, renderer=Renderer(), handover=app.state.handover
        )


class HoldingStore(EmlStore):
    """Keeps the first message's DATA unanswered until released, like a slow server; stores the rest at once."""

    def __init__(self, directory):
        super().__init__(directory)
        self.holding, self.release = asyncio.Event(), asyncio.Event()

    async def handle_DATA(self, server, session, envelope):
        if not self.holding.is_set():
            self.holding.set()
            await self.release.wait()
        return await super().handle_DATA(server, session, envelope)

    async def held(self) -> bool:
        return self.holding.is_set()


@pytest.mark.parametrize(("dispatchers", "overtakes"), [(2, True), (1, False)])
async def test_with_two_dispatch_loops_an_email_does_not_wait_behind_one_a_slow_server_holds(
    database, tmp_path, make_settings, visit_event, dispatchers, overtakes
):
    store = HoldingStore(tmp_path / "mail")
    first, second = _submissions(visit_event, 2)
    async with mailsink(tmp_path, handler=store) as sink:
        settings = make_settings(database, sink.port, dispatchers=dispatchers)
        async with running(settings) as (app, client):
            for envelope in (first, second):  # two commits: the second is planned while the first is being sent
                await _plan(app, settings, envelope)
                await eventually(store.held)

            async def second_mailed():
                return [m for m in sink.messages() if m["To"] == "guest1@example.se"] or None

            try:
                if overtakes:  # the other loop claims and sends it while the first loop waits on the server
                    await eventually(second_mailed, timeout=10)
                else:  # one loop: the second waits its turn (the held DATA is the only thing that can end)
                    with pytest.raises(AssertionError):
                        await eventually(second_mailed, timeout=3)
            finally:
                store.release.set()
            rows = [r for e in (first, second) for r in await settled(client, settings, e.data["reference"], 1)]
        messages = sink.messages()
    assert [(r["status"], r["attempts"]) for r in rows] == [("sent", 1), ("sent", 1)]
    assert sorted(m["To"] for m in messages) == ["guest0@example.se", "guest1@example.se"]


class SessionLog(EmlStore):
    """Remembers which connection carried each message, and which connections said QUIT."""

    def __init__(self, directory):
        super().__init__(directory)
        self.carried: list[object] = []  # aiosmtpd keeps one session per connection
        self.quit: list[object] = []
        self.servers: dict[object, object] = {}

    async def handle_DATA(self, server, session, envelope):
        self.carried.append(session)
        self.servers[session] = server
        return await super().handle_DATA(server, session, envelope)

    async def handle_QUIT(self, server, session, envelope):
        self.quit.append(session)
        return "221 Bye"

    def drop_connections(self) -> None:
        for server in self.servers.values():
            server.transport.close()

    async def all_quit(self) -> bool:
        return bool(self.carried) and set(self.carried) <= set(self.quit)


async def _plan_and_send(app, client, settings, envelope) -> dict:
    await _plan(app, settings, envelope)
    [row] = await settled(client, settings, envelope.data["reference"], 1)
    return row


async def test_consecutive_batches_share_one_open_smtp_connection_which_quits_once_idle(
    database, tmp_path, make_settings, visit_event
):
    store = SessionLog(tmp_path / "mail")
    first, second = _submissions(visit_event, 2)
    async with mailsink(tmp_path, handler=store) as sink:
        settings = make_settings(database, sink.port, dispatchers=1, smtp_idle_seconds=1)
        async with running(settings) as (app, client):
            rows = [await _plan_and_send(app, client, settings, e) for e in (first, second)]  # two batches
            assert len(store.carried) == 2 and store.carried[0] is store.carried[1]  # no second connect and EHLO
            assert not store.quit  # still open: the next e-mail goes straight out
            await eventually(store.all_quit, timeout=10)  # idle for 1 s: closed politely
    assert [(r["status"], r["attempts"]) for r in rows] == [("sent", 1), ("sent", 1)]


async def test_an_open_connection_the_server_dropped_meanwhile_is_replaced_and_nothing_is_sent_twice(
    database, tmp_path, make_settings, visit_event
):
    store = SessionLog(tmp_path / "mail")
    first, second = _submissions(visit_event, 2)
    async with mailsink(tmp_path, handler=store) as sink:
        settings = make_settings(database, sink.port, dispatchers=1, smtp_idle_seconds=60)
        async with running(settings) as (app, client):
            rows = [await _plan_and_send(app, client, settings, first)]
            store.drop_connections()  # as servers do with idle connections
            rows.append(await _plan_and_send(app, client, settings, second))
        messages = sink.messages()
    assert [(r["status"], r["attempts"]) for r in rows] == [("sent", 1), ("sent", 1)]
    assert sorted(m["Message-ID"] for m in messages) == sorted(f"<{r['id']}@visitdesk>" for r in rows)
    assert len(set(store.carried)) == 2


@pytest.fixture
async def sessions(database):
    engine = make_engine(database)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def _plan_here(sessions, settings, envelope: Envelope, handover: Handover | None) -> Delivery:
    async with sessions() as session, session.begin():
        [planned] = await service.plan_deliveries(
            session=session, envelope=envelope, settings=settings, renderer=Renderer(), handover=handover
        )
    return planned


async def _row(sessions, delivery: Delivery) -> Delivery:
    async with sessions() as session:
        return await session.get(Delivery, delivery.id)


async def _handed_over(sessions, settings, visit_event) -> tuple[Handover, Delivery]:
    """One delegation's receipt, planned here with a handover of its own."""
    handover = Handover(settings)
    [envelope] = _submissions(visit_event, 1)
    return handover, await _plan_here(sessions, settings, envelope, handover)


async def _dispatch(sessions, settings, handover: Handover | None = None) -> int:
    """One batch by a dispatcher of this process (with `handover`) or of another replica (without)."""
    dispatcher = Dispatcher(sessions=sessions, settings=settings, runtime=None, http=None, handover=handover)
    try:
        return await dispatcher.dispatch_due()
    finally:
        await dispatcher._close_lanes()


async def test_a_delivery_planned_here_is_leased_with_its_planning_and_sent_from_the_handover_without_a_claim(
    database, sink, sessions, make_settings, visit_event
):
    settings = make_settings(database, sink.port)
    handover, planned = await _handed_over(sessions, settings, visit_event)
    leased = await _row(sessions, planned)
    assert (leased.status, leased.attempts) == ("pending", 1)  # as if claimed: another replica keeps away
    # ...for a minute, not the 300 s send lease: if this process dies now, that is how long the e-mail waits.
    assert timedelta(seconds=59) < leased.next_attempt_at - leased.created_at < timedelta(seconds=61)
    assert await _dispatch(sessions, settings) == 0  # another replica
    assert await _dispatch(sessions, settings, handover) == 1
    sent = await _row(sessions, planned)
    assert (sent.status, sent.attempts) == ("sent", 1)  # no claim in between: a claim would have counted 2
    assert [m["Message-ID"] for m in sink.messages()] == [f"<{planned.id}@visitdesk>"]


async def test_a_rolled_back_planning_hands_nothing_over_and_a_redelivery_hands_over_only_new_rows(
    database, sink, sessions, make_settings, visit_event
):
    settings = make_settings(database, sink.port)
    handover = Handover(settings)
    [envelope] = _submissions(visit_event, 1)
    async with sessions() as session:
        await service.plan_deliveries(
            session=session, envelope=envelope, settings=settings, renderer=Renderer(), handover=handover
        )
        await session.rollback()
    assert not handover.channel.handed
    await _plan_here(sessions, settings, envelope, handover)
    async with sessions() as session, session.begin():  # the same event again, past the processed-events table
        assert [
            d.address
            for d in await service.plan_deliveries(
                session=session, envelope=envelope, settings=settings, renderer=Renderer(), handover=handover
            )
        ]
    assert len(handover.channel.handed) == 1  # a second one would be an e-mail without a row, sent twice


async def test_a_full_handover_leaves_new_deliveries_unleased_for_any_dispatcher_to_claim(
    database, sink, sessions, make_settings, visit_event
):
    settings = make_settings(database, sink.port, dispatcher_batch_size=1, dispatchers=1)
    handover = Handover(settings)  # room for one
    first, second = _submissions(visit_event, 2)
    handed, unleased = [await _plan_here(sessions, settings, e, handover) for e in (first, second)]
    assert [(await _row(sessions, d)).attempts for d in (handed, unleased)] == [1, 0]
    assert await _dispatch(sessions, settings) == 1  # another replica
    assert (await _row(sessions, unleased)).status == "sent"


async def test_at_shutdown_leases_of_handed_over_deliveries_not_sent_are_given_back(
    database, sink, sessions, make_settings, visit_event
):
    settings = make_settings(database, sink.port)
    handover, planned = await _handed_over(sessions, settings, visit_event)
    assert await handover.give_back(sessions) == 1
    assert not handover.channel.handed
    assert await _dispatch(sessions, settings) == 1  # another replica: claimable at once, not after the lease
    sent = await _row(sessions, planned)
    assert (sent.status, sent.attempts) == ("sent", 1)


async def test_a_handed_over_delivery_that_waited_too_long_is_claimed_afresh_and_an_erasure_meanwhile_holds(
    database, sink, sessions, make_settings, visit_event
):
    settings = make_settings(database, sink.port, send_lease_seconds=0.6)  # fresh for 0.3 s
    handover = Handover(settings)
    kept, erased = _submissions(visit_event, 2)
    planned = [await _plan_here(sessions, settings, e, handover) for e in (kept, erased)]
    async with sessions() as session, session.begin():
        await service.erase_personal_data(
            session=session,
            envelope=Envelope.wrap(
                VisitPersonalDataErased(request_id=erased.data["request_id"], reference=erased.data["reference"]),
                source="visits",
                subject=erased.data["request_id"],
            ),
        )
    await asyncio.sleep(0.4)  # as if both had waited behind slow sends
    assert await _dispatch(sessions, settings, handover) == 1  # given back, then claimed, which reads rows anew
    rows = [await _row(sessions, d) for d in planned]
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1), ("cancelled", 1)]  # 1: leased, never sent
    assert [m["To"] for m in sink.messages()] == ["guest0@example.se"]


async def test_the_service_leases_what_its_consumer_plans_while_its_dispatch_loop_is_busy(
    database, tmp_path, make_settings, publish, visit_event
):
    store = HoldingStore(tmp_path / "mail")
    first, second = (visit_event("visit.submitted.v1", contact_email=f"guest{i}@example.se") for i in range(2))
    async with mailsink(tmp_path, handler=store) as sink:
        settings = make_settings(database, sink.port, dispatchers=1)
        async with running(settings) as (_app, client):
            await publish(settings, "visits.v1", first)
            await eventually(store.held)
            await publish(settings, "visits.v1", second)  # planned by the consumer while the one loop waits

            async def planned():
                return await log_of(client, settings, second["data"]["reference"]) or None

            try:
                [waiting] = await eventually(planned)
                assert (waiting["status"], waiting["attempts"]) == ("pending", 1)  # leased to this process
            finally:
                store.release.set()
            rows = [r for e in (first, second) for r in await settled(client, settings, e["data"]["reference"], 1)]
        messages = sink.messages()
    assert [(r["status"], r["attempts"]) for r in rows] == [("sent", 1), ("sent", 1)]
    assert sorted(m["To"] for m in messages) == ["guest0@example.se", "guest1@example.se"]
