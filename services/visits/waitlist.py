"""The waitlist: a request whose preferred weeks are all full waits for one to reopen, and a week that reopens
is offered to the requests waiting longest for it, one per free place.

Capacity owns the weeks; visits keeps a read model of the full ones (`FullWeek`, from capacity.v1) and the
waiting requests (`WaitlistEntry`). A request routed from the waitlist holds its place (`offered_week`) until its
division decides; a decision that does not take that week passes the place to the next in line.
"""

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.visits import domain, events
from services.visits.config import Settings
from services.visits.journal import RULE, SYSTEM, record_change
from services.visits.models import FullWeek, VisitRequest, WaitlistEntry
from services.visits.routing import divisions_by_code, route_request


async def waitlist_request(
    session: AsyncSession,
    settings: Settings,
    request: VisitRequest,
    full_weeks: set[str],
    *,
    now: datetime,
    tracking_url: str | None,
) -> None:
    """Every preferred week is full: wait for one to reopen, and tell the delegation what is open."""
    request.status, request.decision_deadline = "waitlisted", None
    for week in domain.preferred_weeks(request.preferred_dates):
        session.add(WaitlistEntry(request_id=request.id, iso_week=week, division=request.division, waitlisted_at=now))
    nearest = domain.nearest_open_weeks(request.preferred_dates, full_weeks)
    await record_change(
        session,
        settings,
        request,
        events.VisitWaitlisted,
        action="waitlisted",
        actor=RULE,
        now=now,
        tracking_url=tracking_url,
        details={"nearest_open_weeks": nearest},
        nearest_open_weeks=nearest,
    )


async def mark_week_full(*, session: AsyncSession, division: str, iso_week: str, now: datetime) -> None:
    """Remember a full week; the consumer loop owns the transaction."""
    if await session.get(FullWeek, (division, iso_week)) is None:
        session.add(FullWeek(division=division, iso_week=iso_week, since=now))


async def reopen_week(
    *, session: AsyncSession, settings: Settings, division: str, iso_week: str, free: int | None, now: datetime
) -> list[VisitRequest]:
    """Forget a full week and offer its `free` places (None: no limit) to the requests waiting longest for it,
    less the places already offered; the consumer loop owns the transaction."""
    await session.execute(delete(FullWeek).where(FullWeek.division == division, FullWeek.iso_week == iso_week))
    if free is not None:
        free -= await session.scalar(
            select(func.count())
            .select_from(VisitRequest)
            .where(VisitRequest.division == division, VisitRequest.offered_week == iso_week)
        )
    return await offer_week(session, settings, division, iso_week, places=free, now=now)


async def offer_week(
    session: AsyncSession, settings: Settings, division: str, iso_week: str, *, places: int | None, now: datetime
) -> list[VisitRequest]:
    """Route the oldest requests waiting for an open week, one per place (None: all); each holds its place."""
    if (places is not None and places <= 0) or await session.get(FullWeek, (division, iso_week)) is not None:
        return []
    request_ids = (
        await session.scalars(
            select(WaitlistEntry.request_id)
            .where(WaitlistEntry.division == division, WaitlistEntry.iso_week == iso_week)
            .order_by(WaitlistEntry.waitlisted_at, WaitlistEntry.request_id)
            .limit(places)
        )
    ).all()
    divisions, offered = await divisions_by_code(session), []
    for request_id in request_ids:
        request = await session.get(VisitRequest, request_id, with_for_update=True)
        request.offered_week = iso_week
        await route_request(
            session, settings, request, divisions[request.division], actor=SYSTEM, by="waitlist", now=now
        )
        offered.append(request)
    return offered


async def pass_on_offer(
    session: AsyncSession, settings: Settings, request: VisitRequest, offer: tuple[str, str | None], now: datetime
) -> None:
    """A request that held a freed week and has been decided on: unless it took that week, the next in line gets it.

    `offer` is the request's (division, offered week) before the decision; a redirect changes the division.
    """
    division, week = offer
    if week is None:
        return
    request.offered_week = None
    took_it = (
        request.status == "accepted" and request.division == division and domain.iso_week(request.visit_date) == week
    )
    if not took_it:
        await offer_week(session, settings, division, week, places=1, now=now)
