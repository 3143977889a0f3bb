"""A tiny probe service for the plumbing tests: an outbox, a processed-events table and an effects table."""

from typing import ClassVar

from sqlalchemy import Column, Integer, String, Table, func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from shared.consumer import ConsumerLoop, processed_events_table
from shared.db import make_engine, new_metadata
from shared.events import Envelope, Event
from shared.kafka import ensure_topics, make_consumer, make_producer
from shared.outbox import OutboxRelay, outbox_table
from tests.support import unique

metadata = new_metadata()
outbox = outbox_table(metadata)
processed = processed_events_table(metadata)
effects = Table(
    "effects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event_id", String(36)),
    Column("note", String(100)),
)


class ProbeHappened(Event):
    type: ClassVar[str] = "probe.happened.v1"
    topic: ClassVar[str] = "probe.v1"
    note: str


async def record_effect(session, envelope: Envelope) -> None:
    """The probe handler: one row per handled event; a 'boom' note always fails."""
    note = envelope.parse(ProbeHappened).note
    if note == "boom":
        raise RuntimeError("probe handler refused")
    await session.execute(effects.insert().values(event_id=envelope.id, note=note))


class Probe:
    """An engine, topic, relay and consumer loop wired like a real service, on real infrastructure."""

    def __init__(self, bootstrap: str, database_url: str):
        self.bootstrap, self.topic = bootstrap, f"{unique()}.probe.v1"
        self.engine = make_engine(database_url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.producer = make_producer(bootstrap)
        self.group = unique("g")

    async def start(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        await ensure_topics(self.bootstrap, [self.topic])
        await self.producer.start()

    def relay(self) -> OutboxRelay:
        return OutboxRelay(
            engine=self.engine, outbox=outbox, producer=self.producer, service=unique("svc"), poll_seconds=30
        )

    def loop(
        self, consumer=None, max_attempts: int = 2, concurrency: int = 1, events_per_transaction: int = 20
    ) -> ConsumerLoop:
        """Configured like a service's (runs of up to 20 events per transaction), with quick retries."""
        consumer = consumer or make_consumer(self.bootstrap, self.group, [self.topic])
        return ConsumerLoop(
            service="probe",
            consumer=consumer,
            producer=self.producer,
            sessions=self.sessions,
            processed=processed,
            handlers={ProbeHappened.type: record_effect},
            max_attempts=max_attempts,
            backoff_seconds=0.01,
            concurrency=concurrency,
            events_per_transaction=events_per_transaction,
        )

    async def effect_notes(self) -> list[str]:
        async with self.sessions() as session:
            return list(await session.scalars(select(effects.c.note).order_by(effects.c.id)))

    async def effect_count(self) -> int:
        async with self.sessions() as session:
            return await session.scalar(select(func.count()).select_from(effects))

    async def stop(self) -> None:
        await self.producer.stop()
        await self.engine.dispose()
