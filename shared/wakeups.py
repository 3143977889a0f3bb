"""Wake-ups on commit: a transaction marks a channel; its commit (never its rollback) wakes the channel's waiters.

The outbox relay and the notifications dispatcher sleep on one of these instead of polling quickly: work
written in this process is picked up the moment it is committed, the poll remains for other processes' work.
"""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

_MARKED = "visitdesk.wake_on_commit"


class WakeChannel:
    """Waiters (asyncio events) of one kind of work in this process."""

    def __init__(self):
        self._waiters: set[asyncio.Event] = set()

    def wake_on_commit(self, session: AsyncSession) -> bool:
        """Wake the waiters when `session`'s transaction commits; True the first time in that transaction."""
        marked: set[WakeChannel] = session.sync_session.info.setdefault(_MARKED, set())
        first = self not in marked
        marked.add(self)
        return first

    @contextmanager
    def subscribed(self, wakeup: asyncio.Event) -> Iterator[asyncio.Event]:
        """Set `wakeup` on every commit that marked this channel, while inside the block."""
        self._waiters.add(wakeup)
        try:
            yield wakeup
        finally:
            self._waiters.discard(wakeup)

    def wake(self) -> None:
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
    for channel in session.info.pop(_MARKED, ()):
        channel.wake()


@event.listens_for(Session, "after_rollback")
def _forget_marked(session: Session) -> None:
    session.info.pop(_MARKED, None)
