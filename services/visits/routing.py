"""Handing a request to its division: a fresh decision deadline, off the waitlist, and the events that say so."""

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.visits import domain, events
from services.visits.config import Settings
from services.visits.journal import Actor, record_change
from services.visits.models import DivisionRow, VisitRequest, WaitlistEntry


async def divisions_by_code(session: AsyncSession) -> dict[str, domain.Division]:
    """Every division by its code, with what routing needs of it."""
    rows = await session.scalars(select(DivisionRow))
    return {r.code: domain.Division(r.code, r.lead_time_weeks, r.decision_deadline_days) for r in rows}


async def route_request(
    session: AsyncSession,
    settings: Settings,
    request: VisitRequest,
    division: domain.Division,
    *,
    actor: Actor,
    by: str,
    now: datetime,
    tracking_url: str | None = None,
    details: dict | None = None,
    waitlisted: bool = True,
    message: str = "",
) -> None:
    """Hand the request to its division with a fresh decision deadline."""
    request.status = "routed"
    request.decision_deadline = domain.add_working_days(domain.local_date(now), division.decision_deadline_days)
    request.escalated_at = None
    if waitlisted:  # a request submitted in this transaction has no waitlist rows to leave
        await leave_waitlist(session, request)
    await record_change(
        session,
        settings,
        request,
        events.VisitRouted,
        action="routed",
        actor=actor,
        by=by,
        now=now,
        tracking_url=tracking_url,
        details={"routed_by": by, **(details or {})},
        routed_by=by,
        message=message,
    )


async def leave_waitlist(session: AsyncSession, request: VisitRequest) -> None:
    """A routed or decided request waits for no week any more."""
    await session.execute(delete(WaitlistEntry).where(WaitlistEntry.request_id == request.id))
