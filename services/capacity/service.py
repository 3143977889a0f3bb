"""Use cases of the capacity service: reserve and release weeks, read and set limits.

Every change to a week happens with its `capacity_weeks` row locked, so the count a change reads
is the count it leaves behind: two accepts racing for the last slot take it one after the other.
"""

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.capacity import models
from services.capacity.config import Settings
from services.capacity.domain import WeekLoad, crossing, current_week, iso_week
from services.capacity.events import (
    CapacityReleased,
    CapacityReserved,
    VisitAccepted,
    WeekFilled,
    WeekReopened,
)
from services.capacity.models import CapacityWeek, Division, Reservation
from services.capacity.schemas import ReservationPublic, WeekCapacityPublic
from shared.db import insert_of
from shared.events import Event
from shared.outbox import add_event


async def reserve_week(*, session: AsyncSession, settings: Settings, visit: VisitAccepted, at: datetime) -> None:
    """Hold the visit's week for its request, moving an earlier one; in the caller's transaction."""
    week = iso_week(visit.visit_date)
    current = await _active_reservation(session, visit.request_id)
    if current and (current.division, current.iso_week) == (visit.division, week):
        current.visit_date, current.reference = visit.visit_date, visit.reference
        return
    await _ensure_division(session, visit.division)
    # Lock in one global order so a move between two weeks cannot deadlock with a move the other way.
    weeks = {(visit.division, week)} | ({(current.division, current.iso_week)} if current else set())
    for division, locked_week in sorted(weeks):
        await _lock_week(session, division, locked_week)
    if current:
        await _release(session, settings, current, at)
    await _hold(session, settings, visit, week, at)


async def release_week(*, session: AsyncSession, settings: Settings, request_id: str, at: datetime) -> None:
    """Give back the week the request holds, if any; in the caller's transaction."""
    current = await _active_reservation(session, request_id)
    if current is None:
        return
    await _lock_week(session, current.division, current.iso_week)
    await _release(session, settings, current, at)


async def week_capacity(*, session: AsyncSession, division: str, iso_week: str) -> WeekCapacityPublic:
    """Limit, reservations and what is left of one division's week."""
    load = await _load(session, division, iso_week)
    row = await session.get(CapacityWeek, (division, iso_week))
    holders = await session.scalars(
        select(Reservation).where(*_active_in(division, iso_week)).order_by(Reservation.reserved_at, Reservation.id)
    )
    return WeekCapacityPublic(
        division=division,
        iso_week=iso_week,
        limit=load.limit,
        limit_source="week" if row and row.has_own_limit else "default",
        reserved=load.reserved,
        free=load.free,
        full=load.full,
        over_capacity=load.over_capacity,
        requests=[ReservationPublic(reference=r.reference, request_id=r.request_id) for r in holders],
    )


async def set_week_limit(
    *, session: AsyncSession, settings: Settings, division: str, iso_week: str, limit: int | None, own: bool = True
) -> WeekCapacityPublic:
    """Set a week's own limit (None = unlimited), or with own=False go back to the default; commits."""
    row = await _lock_week(session, division, iso_week)
    before = await _load(session, division, iso_week)
    row.has_own_limit, row.week_limit = own, limit if own else None
    after = await _load(session, division, iso_week)
    await _announce_crossing(session, settings, division, iso_week, before, after)
    await session.commit()
    return await week_capacity(session=session, division=division, iso_week=iso_week)


async def set_default_limit(
    *, session: AsyncSession, settings: Settings, division: Division, limit: int | None
) -> Division:
    """Change a division's default, announcing each current or future week it fills or reopens; commits."""
    await session.refresh(division, with_for_update=True)
    weeks = (
        await session.scalars(
            select(CapacityWeek)
            .where(
                CapacityWeek.division == division.code,
                ~CapacityWeek.has_own_limit,
                CapacityWeek.iso_week >= current_week(datetime.now(UTC)),
            )
            .order_by(CapacityWeek.iso_week)
            .with_for_update()
        )
    ).all()
    before = {week.iso_week: await _load(session, division.code, week.iso_week) for week in weeks}
    division.default_limit = limit
    for week, load in before.items():
        await _announce_crossing(session, settings, division.code, week, load, WeekLoad(limit, load.reserved))
    await session.commit()
    return division


async def find_division(*, session: AsyncSession, code: str) -> Division | None:
    """The division with this code, if capacity knows it."""
    return await session.get(Division, code)


async def _hold(session: AsyncSession, settings: Settings, visit: VisitAccepted, week: str, at: datetime) -> None:
    before = await _load(session, visit.division, week)
    session.add(
        Reservation(
            request_id=visit.request_id,
            reference=visit.reference,
            division=visit.division,
            iso_week=week,
            visit_date=visit.visit_date,
            reserved_at=at,
        )
    )
    after = WeekLoad(before.limit, before.reserved + 1)
    await _publish(
        session,
        settings,
        CapacityReserved(
            request_id=visit.request_id,
            reference=visit.reference,
            division=visit.division,
            iso_week=week,
            reserved=after.reserved,
            limit=after.limit,
        ),
        key=visit.request_id,
    )
    await _announce_crossing(session, settings, visit.division, week, before, after)


async def _release(session: AsyncSession, settings: Settings, reservation: Reservation, at: datetime) -> None:
    before = await _load(session, reservation.division, reservation.iso_week)
    reservation.released_at = at
    await session.flush()  # before a move inserts the request's new active reservation (unique index)
    after = WeekLoad(before.limit, before.reserved - 1)
    await _publish(
        session,
        settings,
        CapacityReleased(
            request_id=reservation.request_id,
            reference=reservation.reference,
            division=reservation.division,
            iso_week=reservation.iso_week,
            reserved=after.reserved,
            limit=after.limit,
        ),
        key=reservation.request_id,
    )
    await _announce_crossing(session, settings, reservation.division, reservation.iso_week, before, after)


async def _announce_crossing(
    session: AsyncSession, settings: Settings, division: str, week: str, before: WeekLoad, after: WeekLoad
) -> None:
    change = crossing(before, after)
    if change is not None:
        event = (WeekFilled if change == "full" else WeekReopened)(
            division=division, iso_week=week, reserved=after.reserved, limit=after.limit
        )
        await _publish(session, settings, event, key=f"{division}:{week}")


async def _publish(session: AsyncSession, settings: Settings, event: Event, *, key: str) -> None:
    await add_event(session, models.outbox, event, source="capacity", key=key, topic=settings.topic(event.topic))


async def _lock_week(session: AsyncSession, division: str, week: str) -> CapacityWeek:
    """Create the week's row if missing and lock it (PostgreSQL); SQLite's single writer serialises anyway."""
    insert = insert_of(session.bind.dialect.name)
    await session.execute(
        insert(CapacityWeek).values(division=division, iso_week=week, has_own_limit=False).on_conflict_do_nothing()
    )
    return await session.scalar(
        select(CapacityWeek)
        .where(CapacityWeek.division == division, CapacityWeek.iso_week == week)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def _ensure_division(session: AsyncSession, code: str) -> None:
    # A division visits created after this service was seeded still hosts visits: unlimited until set.
    insert = insert_of(session.bind.dialect.name)
    await session.execute(insert(Division).values(code=code, default_limit=None).on_conflict_do_nothing())


async def _load(session: AsyncSession, division: str, week: str) -> WeekLoad:
    owner = await session.get(Division, division)
    row = await session.get(CapacityWeek, (division, week))
    limit = row.limit(owner) if row else owner.default_limit
    reserved = await session.scalar(select(func.count()).select_from(Reservation).where(*_active_in(division, week)))
    return WeekLoad(limit, reserved)


def _active_in(division: str, week: str) -> tuple:
    return Reservation.division == division, Reservation.iso_week == week, Reservation.released_at.is_(None)


async def _active_reservation(session: AsyncSession, request_id: str) -> Reservation | None:
    return await session.scalar(
        select(Reservation).where(Reservation.request_id == request_id, Reservation.released_at.is_(None))
    )
