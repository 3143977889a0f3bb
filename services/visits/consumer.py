"""Event type -> handler for the visits service: the capacity read model and the waitlist."""

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.visits import waitlist
from services.visits.config import Settings
from services.visits.events import CapacityWeekChanged
from shared.consumer import Handler
from shared.events import Envelope


def handlers(settings: Settings) -> dict[str, Handler]:
    async def week_full(session: AsyncSession, envelope: Envelope) -> None:
        week = envelope.parse(CapacityWeekChanged)
        await waitlist.mark_week_full(
            session=session, division=week.division, iso_week=week.iso_week, now=datetime.now(UTC)
        )

    async def week_reopened(session: AsyncSession, envelope: Envelope) -> None:
        week = envelope.parse(CapacityWeekChanged)
        free = None if week.limit is None else max(week.limit - week.reserved, 0)
        await waitlist.reopen_week(
            session=session,
            settings=settings,
            division=week.division,
            iso_week=week.iso_week,
            free=free,
            now=datetime.now(UTC),
        )

    return {"capacity.week_full.v1": week_full, "capacity.week_reopened.v1": week_reopened}
