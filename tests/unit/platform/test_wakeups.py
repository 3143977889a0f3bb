"""Wake-ups on commit, with real SQLAlchemy sessions on an in-memory SQLite database."""

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from shared.wakeups import WakeChannel, sleep_until


@pytest.fixture
async def sessions():
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    yield async_sessionmaker(engine)
    await engine.dispose()


async def _transaction(sessions, *marked: WakeChannel, commit: bool = True) -> None:
    async with sessions() as session:
        await session.execute(text("SELECT 1"))
        for channel in marked:
            channel.wake_on_commit(session)
        await (session.commit() if commit else session.rollback())


async def test_a_commit_wakes_the_waiters_of_the_channels_it_marked_and_no_others(sessions):
    planned, staged = WakeChannel(), WakeChannel()
    with planned.subscribed(asyncio.Event()) as on_planned, staged.subscribed(asyncio.Event()) as on_staged:
        await _transaction(sessions, planned)
        assert on_planned.is_set() and not on_staged.is_set()


async def test_a_rollback_wakes_nobody_and_leaves_nothing_for_the_next_commit(sessions):
    channel = WakeChannel()
    with channel.subscribed(asyncio.Event()) as wakeup:
        async with sessions() as session:
            await session.execute(text("SELECT 1"))
            channel.wake_on_commit(session)
            await session.rollback()
            await session.execute(text("SELECT 1"))  # the same session's next transaction marks nothing
            await session.commit()
        assert not wakeup.is_set()


async def test_a_transaction_marks_once_and_a_waiter_that_left_is_not_woken(sessions):
    channel = WakeChannel()
    left = asyncio.Event()
    with channel.subscribed(left):
        pass
    with channel.subscribed(asyncio.Event()) as staying:
        async with sessions() as session:
            assert channel.wake_on_commit(session) is True
            assert channel.wake_on_commit(session) is False
            await session.commit()
        assert staying.is_set() and not left.is_set()


async def test_a_commit_hands_over_its_items_in_order_and_a_rollback_none(sessions):
    channel = WakeChannel()
    async with sessions() as session:
        await session.execute(text("SELECT 1"))
        channel.wake_on_commit(session, ["dropped"])
        await session.rollback()
        await session.execute(text("SELECT 1"))
        channel.wake_on_commit(session, ["a"])
        channel.wake_on_commit(session, ["b", "c"])
        assert not channel.handed  # nothing before the commit
        await session.commit()
    assert list(channel.handed) == ["a", "b", "c"]


async def test_items_wake_one_idle_waiter_and_none_that_is_busy_while_a_plain_commit_wakes_all(sessions):
    channel = WakeChannel()
    with (
        channel.subscribed(asyncio.Event()) as busy,
        channel.subscribed(asyncio.Event()) as first,
        channel.subscribed(asyncio.Event()) as second,
    ):
        sleepers = [asyncio.create_task(channel.sleep(e, timeout=60)) for e in (first, second)]
        await asyncio.sleep(0)  # both asleep, i.e. idle
        await _handing(sessions, channel, ["x"])
        assert (busy.is_set(), first.is_set(), second.is_set()) == (False, True, False)
        await _handing(sessions, channel, ["y"])  # the first is taken: the next idle one
        assert second.is_set()
        await asyncio.wait_for(asyncio.gather(*sleepers), timeout=5)
        first.clear()
        second.clear()
        await _handing(sessions, channel, ["z"])  # nobody idle: they look at `handed` before they sleep
        assert not any(e.is_set() for e in (busy, first, second))
        assert list(channel.handed) == ["x", "y", "z"]
        await asyncio.wait_for(channel.sleep(busy, timeout=60), timeout=5)  # items waiting: no sleep at all
        await _transaction(sessions, channel)
        assert all(e.is_set() for e in (busy, first, second))


async def _handing(sessions, channel: WakeChannel, items: list) -> None:
    async with sessions() as session:
        await session.execute(text("SELECT 1"))
        channel.wake_on_commit(session, items)
        await session.commit()


async def test_sleep_until_returns_on_the_first_event_set_or_at_its_timeout():
    wakeup, stopping = asyncio.Event(), asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, stopping.set)
    await asyncio.wait_for(sleep_until(wakeup, stopping, timeout=60), timeout=5)
    assert stopping.is_set() and not wakeup.is_set()
    await asyncio.wait_for(sleep_until(wakeup, timeout=0.01), timeout=5)  # nothing set: the timeout ends it
