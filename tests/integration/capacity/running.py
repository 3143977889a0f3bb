"""A running capacity service on real PostgreSQL and Kafka, fed real visit.* envelopes, and fresh weeks for
its tests."""

import itertools
import json
import uuid
from contextlib import AsyncExitStack
from datetime import date, timedelta

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.capacity import models
from services.capacity.config import Settings
from services.capacity.domain import week_monday
from services.capacity.main import create_app
from shared.db import make_engine, make_sessionmaker
from shared.events import Envelope
from shared.kafka import ensure_topics, make_producer
from tests import builders
from tests.builders import one_day
from tests.support import bearer, eventually, serve, unique

_weeks = itertools.count()


def fresh_week() -> str:
    """An ISO week no other test in this run uses (2031 onwards, so always in the future)."""
    n = next(_weeks)
    return f"{2031 + n // 52}-W{n % 52 + 1:02d}"


def day_in(week: str, weekday: int = 1) -> date:
    """A day of `week`, Tuesday by default."""
    return week_monday(week) + timedelta(days=weekday)


def visit_envelope(
    type_: str,
    *,
    request_id: str,
    visit_date: date | None,
    division: str = "education",
    reference: str | None = None,
    envelope_id: str | None = None,
    **fields,
) -> Envelope:
    """A visit.* envelope about one visit day (or none), as services/visits publishes it."""
    about = {
        "request_id": request_id,
        "reference": reference or f"VD-{request_id[:8]}",
        "division": division,
        "preferred_dates": one_day(visit_date or date(2031, 1, 6)),
        "visit_date": visit_date,
        "host": "Principal" if visit_date else None,
    }
    return builders.visit_envelope(type_, envelope_id=envelope_id, **about | fields)


class Capacity:
    """The running service plus the tools to drive it: produce visit events, read capacity events."""

    def __init__(self, *, settings: Settings, app: FastAPI, client: httpx.AsyncClient, producer: AIOKafkaProducer):
        self.settings, self.app, self.client, self.producer = settings, app, client, producer
        self.engine: AsyncEngine = make_engine(settings.database_url)
        self.sessions = make_sessionmaker(self.engine)

    async def send(self, envelope: Envelope) -> Envelope:
        await self.producer.send_and_wait(
            self.settings.topic("visits.v1"), key=envelope.subject.encode(), value=envelope.model_dump_json().encode()
        )
        return envelope

    async def accept(
        self, week: str, *, request_id: str | None = None, division: str = "education", weekday: int = 1
    ) -> Envelope:
        return await self.send(
            visit_envelope(
                "visit.accepted.v1",
                request_id=request_id or str(uuid.uuid4()),
                visit_date=day_in(week, weekday),
                division=division,
            )
        )

    async def cancel(self, accepted: Envelope, *, type_: str = "visit.cancelled.v1", **fields) -> Envelope:
        data = accepted.data
        return await self.send(
            visit_envelope(
                type_,
                request_id=data["request_id"],
                division=data["division"],
                visit_date=date.fromisoformat(data["visit_date"]),
                was_accepted=True,
                **fields,
            )
        )

    def headers(self, role: str = "admin", division: str | None = None) -> dict:
        return bearer(self.settings, role, division)

    async def week(self, week: str, division: str = "education") -> dict:
        response = await self.client.get(f"/api/v1/capacity/{division}/{week}", headers=self.headers())
        assert response.status_code == 200, response.text
        return response.json()

    async def settled_week(self, week: str, division: str = "education") -> dict:
        """The week once every visit event sent so far is handled and its capacity events published."""
        await self.settle()
        return await self.week(week, division)

    async def settle(self) -> None:
        """The consumer group has committed the whole visits topic and the outbox is drained."""
        runtime = self.app.state.runtime
        await eventually(
            lambda: caught_up(runtime.loop and runtime.loop.consumer, self.producer, self.settings.topic("visits.v1"))
        )
        await self.drained()

    async def drained(self) -> None:
        """Every event staged so far has been published (acked by Kafka)."""

        async def nothing_unsent():
            async with self.sessions() as session:
                return (
                    await session.scalar(
                        select(func.count()).select_from(models.outbox).where(models.outbox.c.sent_at.is_(None))
                    )
                    == 0
                )

        await eventually(nothing_unsent)

    async def published(self, key: str, type_: str | None = None) -> list[dict]:
        """Every capacity.v1 envelope published so far under `key` (optionally of one type), in order."""
        found = [e["envelope"] for e in await self.records("capacity.v1") if e["key"] == key]
        return [e for e in found if type_ is None or e["type"] == type_]

    async def records(self, topic: str) -> list[dict]:
        """Everything on one of this run's topics ("capacity.v1", "visits.v1.dlq"), as {key, envelope}."""
        return await read_to_end(self.settings.kafka_bootstrap, self.settings.topic(topic), producer=self.producer)

    async def close(self) -> None:
        await self.engine.dispose()


async def caught_up(consumer: AIOKafkaConsumer | None, producer: AIOKafkaProducer, topic: str) -> bool:
    """`consumer`'s group has committed every offset `topic` holds now."""
    if consumer is None:  # the runtime has not started its consumer yet
        return False
    partitions = [TopicPartition(topic, p) for p in await producer.partitions_for(topic)]
    ends = await consumer.end_offsets(partitions)
    committed = [await consumer.committed(tp) or 0 for tp in partitions]
    return all(offset >= ends[tp] for offset, tp in zip(committed, partitions, strict=True))


async def read_to_end(bootstrap: str, topic: str, *, producer: AIOKafkaProducer) -> list[dict]:
    """All records of `topic` up to its current end, as {key, envelope}; no waiting for a count.

    `producer` (any started one) finds the topic's partitions.
    """
    partitions = [TopicPartition(topic, p) for p in sorted(await producer.partitions_for(topic))]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records += batch
        records.sort(key=lambda r: (r.timestamp, r.partition, r.offset))
        return [{"key": r.key.decode(), "envelope": json.loads(r.value)} for r in records]
    finally:
        await consumer.stop()


async def start_capacity(
    stack: AsyncExitStack, *, new_database, kafka_bootstrap: str, settings: Settings | None = None
) -> Capacity:
    """A capacity app with its lifespan running; a given `settings` makes a second replica of it."""
    settings = settings or Settings(
        database_url=await new_database("capacity"),
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=f"{unique()}.",
        relay_poll_seconds=0.2,
    )
    await ensure_topics(kafka_bootstrap, [settings.topic(t) for t in ("visits.v1", "capacity.v1")])
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    stack.push_async_callback(producer.stop)
    app = create_app(settings)
    client = await stack.enter_async_context(serve(app))
    capacity = Capacity(settings=settings, app=app, client=client, producer=producer)
    stack.push_async_callback(capacity.close)
    return capacity
