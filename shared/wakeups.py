"""Wake-ups on commit: a transaction marks a channel; its commit (never its rollback) wakes the channel's waiters.

The outbox relay and the notifications dispatcher sleep on one of these instead of polling quickly: work
written in this process is picked up the moment it is committed, the poll remains for other processes' work.
A commit can also hand over what it wrote (the dispatcher's deliveries), so that the waiters need not read it back.
"""

import asyncio
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

_MARKED = "visitdesk.wake_on_commit"


class WakeChannel:
    """Waiters (asyncio events) of one kind of work in this process, and what commits handed over to them."""

    def __init__(self):
        self._waiters: set[asyncio.Event] = set()
        self._idle: list[asyncio.Event] = []  # waiters asleep now, longest first
        self.handed: deque = deque()  # items of committed transactions, oldest first, for the waiters to take

    def wake_on_commit(self, session: AsyncSession, items: Iterable = ()) -> bool:
        """Wake the waiters when `session`'s transaction commits, handing them `items` then; a rollback drops
        both. True the first time in that transaction."""
        marked: dict[WakeChannel, list] = session.sync_session.info.setdefault(_MARKED, {})
        first = self not in marked
        marked.setdefault(self, []).extend(items)
        return first

    @contextmanager
    def subscribed(self, wakeup: asyncio.Event) -> Iterator[asyncio.Event]:
        """Set `wakeup` on every commit that marked this channel (with items: see `wake`), inside the block."""
        self._waiters.add(wakeup)
        try:
            yield wakeup
        finally:
            self._waiters.discard(wakeup)

    async def sleep(self, wakeup: asyncio.Event, *also: asyncio.Event, timeout: float) -> None:
        """Wait as an idle subscriber until `wakeup` or one of `also` is set, or `timeout`; at once if items
        are waiting (handed over while this waiter was busy, so no one woke it)."""
        if self.handed:
            return
        self._idle.append(wakeup)
        try:
            await sleep_until(wakeup, *also, timeout=timeout)
        finally:
            self._idle.remove(wakeup)

    def wake(self, items: Iterable = ()) -> None:
        """Hand over `items`, waking one idle waiter to take them (busy ones find them before they `sleep`);
        without items, wake every waiter."""
        items = list(items)
        self.handed.extend(items)
        if items:
            for wakeup in self._idle:
                if not wakeup.is_set():
                    wakeup.set()
                    return
            return
        for wakeup in list(self._waiters):
            wakeup.set()


async def sleep_until(*events: asyncio.Event, timeout: float) -> None:
    """Return when any of `events` is set or after `timeout` seconds, whichever comes first."""
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


@event.listens_for(Session, "after_commit")
def _wake_marked(session: Session) -> None:
    for channel, items in session.info.pop(_MARKED, {}).items():
        channel.wake(items)


@event.listens_for(Session, "after_rollback")
def _forget_marked(session: Session) -> None:
    session.info.pop(_MARKED, None)
