"""Capacity is a pure function of visits.v1: replaying the topic into a fresh database rebuilds it."""

import asyncio

from sqlalchemy import select

from services.capacity import models
from services.capacity.consumer import handlers
from services.capacity.models import Reservation
from shared.consumer import ConsumerLoop
from shared.db import make_engine, make_sessionmaker
from shared.kafka import make_consumer
from tests.integration.capacity.running import caught_up, fresh_week
from tests.support import eventually, unique


async def _holders(sessions) -> set[tuple[str, str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Reservation.request_id, Reservation.division, Reservation.iso_week).where(
                Reservation.released_at.is_(None)
            )
        )
        return {tuple(row) for row in rows}


async def test_replaying_the_whole_visits_topic_into_a_fresh_database_gives_the_same_counts(capacity, new_database):
    full, moved_to = fresh_week(), fresh_week()
    accepted = [await capacity.accept(full) for _ in range(7)]
    await capacity.send(accepted[0])  # redelivered
    await capacity.accept(moved_to, request_id=accepted[1].subject)  # re-dated into another week
    await capacity.cancel(accepted[2])
    await capacity.cancel(accepted[3], type_="visit.declined.v1", reason="other", message="closed")
    await capacity.accept(moved_to, division="urban-environment")
    await capacity.settle()
    before = await _holders(capacity.sessions)
    assert sum(1 for _, division, week in before if (division, week) == ("education", full)) == 4

    settings = capacity.settings.model_copy(update={"database_url": await new_database("capacity")})
    engine = make_engine(settings.database_url)
    topic = settings.topic("visits.v1")
    consumer = make_consumer(settings.kafka_bootstrap, unique("replay-"), [topic])
    await consumer.start()
    replay = ConsumerLoop(
        service="capacity",
        consumer=consumer,
        producer=capacity.producer,
        sessions=make_sessionmaker(engine),
        processed=models.processed_events,
        handlers=handlers(settings),
        backoff_seconds=0.01,
    )
    task = asyncio.create_task(replay.run())
    try:
        await eventually(lambda: caught_up(consumer, capacity.producer, topic), timeout=60)
        assert await _holders(replay.sessions) == before
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await consumer.stop()
        await engine.dispose()
