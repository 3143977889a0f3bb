"""Accepts racing for the last slot take it one after the other, in one process or across replicas."""

import asyncio
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import pytest
from aiokafka.partitioner import DefaultPartitioner

from services.capacity import service
from services.capacity.events import VisitAccepted
from tests.integration.capacity.running import day_in, fresh_week, start_capacity, visit_envelope
from tests.support import eventually


@pytest.fixture(scope="module")
async def direct(new_database, kafka_bootstrap):
    """A capacity service of its own: these tests reserve without visit events, so the shared one stays
    a pure function of its visits topic (the replay test relies on that)."""
    async with AsyncExitStack() as stack:
        yield await start_capacity(stack, new_database=new_database, kafka_bootstrap=kafka_bootstrap)


async def _reserve(capacity, week: str) -> str:
    visit = VisitAccepted(
        request_id=str(uuid.uuid4()), reference="VD-RACE", division="education", visit_date=day_in(week)
    )
    async with capacity.sessions() as session, session.begin():
        await service.reserve_week(session=session, settings=capacity.settings, visit=visit, at=datetime.now(UTC))
    return visit.request_id


async def _reserved_counts(capacity, request_ids) -> list[int]:
    return sorted(
        [e["data"]["reserved"] for r in request_ids for e in await capacity.published(r, "capacity.reserved.v1")]
    )


async def test_two_reservations_racing_for_the_last_slot_reach_the_limit_once(direct):
    for _ in range(3):  # the race is real each time; repeating makes a lucky interleaving unlikely to hide a bug
        week = fresh_week()
        for _ in range(5):
            await _reserve(direct, week)

        racers = await asyncio.gather(_reserve(direct, week), _reserve(direct, week))

        await direct.drained()
        assert await _reserved_counts(direct, racers) == [6, 7]
        assert len(await direct.published(f"education:{week}", "capacity.week_full.v1")) == 1
        assert (await direct.week(week))["over_capacity"] is True


async def test_six_first_reservations_of_a_new_week_at_once_count_one_to_six(direct):
    week = fresh_week()  # no capacity_weeks row yet: all six create it on demand at the same time

    racers = await asyncio.gather(*(_reserve(direct, week) for _ in range(6)))

    await direct.drained()
    assert await _reserved_counts(direct, racers) == [1, 2, 3, 4, 5, 6]
    full = await direct.published(f"education:{week}", "capacity.week_full.v1")
    assert [e["data"]["reserved"] for e in full] == [6]


def _request_id_on(partitions: set[int]) -> str:
    """A request id whose Kafka key lands on one of `partitions` of the three-partition visits topic."""
    partitioner = DefaultPartitioner()
    while True:
        request_id = str(uuid.uuid4())
        if partitioner(request_id.encode(), [0, 1, 2], [0, 1, 2]) in partitions:
            return request_id


async def test_two_replicas_in_one_consumer_group_let_one_of_two_racing_accepts_fill_the_week(
    new_database, kafka_bootstrap
):
    async with AsyncExitStack() as stack:
        first = await start_capacity(stack, new_database=new_database, kafka_bootstrap=kafka_bootstrap)
        second = await start_capacity(
            stack, new_database=new_database, kafka_bootstrap=kafka_bootstrap, settings=first.settings
        )

        async def split_between_replicas():
            loops = [replica.app.state.runtime.loop for replica in (first, second)]
            owned = [{tp.partition for tp in loop.consumer.assignment()} if loop else set() for loop in loops]
            return owned if all(owned) and not owned[0] & owned[1] else None

        owned = await eventually(split_between_replicas)  # a settled group: no rebalance mid-test
        week = fresh_week()
        for _ in range(5):
            await first.accept(week)
        assert (await first.settled_week(week))["reserved"] == 5

        racers = [_request_id_on(partitions) for partitions in owned]
        await asyncio.gather(
            *(first.send(visit_envelope("visit.accepted.v1", request_id=r, visit_date=day_in(week))) for r in racers)
        )

        body = await first.settled_week(week)
        assert body["reserved"] == 7
        assert body["over_capacity"] is True
        assert await _reserved_counts(first, racers) == [6, 7]
        assert len(await first.published(f"education:{week}", "capacity.week_full.v1")) == 1
