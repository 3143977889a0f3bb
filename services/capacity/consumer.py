"""Event type -> handler for the capacity service."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.capacity import service
from services.capacity.config import Settings
from services.capacity.events import VisitAccepted, VisitCancelled, VisitDeclined, VisitRescheduled
from shared.consumer import Handler
from shared.events import Envelope


def handlers(settings: Settings) -> dict[str, Handler]:
    async def visit_accepted(session: AsyncSession, envelope: Envelope) -> None:
        # A rescheduled visit is held like an accepted one: the reservation moves to the new day's week.
        visit = envelope.parse(VisitRescheduled if envelope.type == VisitRescheduled.type else VisitAccepted)
        await service.reserve_week(session=session, settings=settings, visit=visit, at=envelope.time)

    async def visit_ended(session: AsyncSession, envelope: Envelope) -> None:
        # Released whatever was_accepted says: a visit that will not happen holds no week.
        visit = envelope.parse(VisitCancelled if envelope.type == VisitCancelled.type else VisitDeclined)
        await service.release_week(session=session, settings=settings, request_id=visit.request_id, at=envelope.time)

    return {
        VisitAccepted.type: visit_accepted,
        VisitRescheduled.type: visit_accepted,
        VisitCancelled.type: visit_ended,
        VisitDeclined.type: visit_ended,
    }
