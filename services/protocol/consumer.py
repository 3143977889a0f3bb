"""Event type -> handler for the protocol service."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.protocol import service
from services.protocol.config import Settings
from services.protocol.events import VisitAccepted, VisitEnded, VisitPersonalDataErased, VisitRescheduled
from shared.consumer import Handler
from shared.events import Envelope


def handlers(settings: Settings) -> dict[str, Handler]:
    async def accepted(session: AsyncSession, envelope: Envelope) -> None:
        # A rescheduled visit re-dates its plan (and the conflicts of both days) as a re-dated acceptance does.
        model = VisitRescheduled if envelope.type == VisitRescheduled.type else VisitAccepted
        await service.accept_visit(session=session, settings=settings, visit=envelope.parse(model))

    async def ended(session: AsyncSession, envelope: Envelope) -> None:
        visit = envelope.parse(VisitEnded)
        await service.cancel_plan(session=session, settings=settings, request_id=visit.request_id)

    async def erased(session: AsyncSession, envelope: Envelope) -> None:
        visit = envelope.parse(VisitPersonalDataErased)
        await service.erase_personal_data(session=session, request_id=visit.request_id)

    # A decline after acceptance ends the visit just as a cancel does.
    return {
        "visit.accepted.v1": accepted,
        "visit.rescheduled.v1": accepted,
        "visit.cancelled.v1": ended,
        "visit.declined.v1": ended,
        "visit.personal_data_erased.v1": erased,
    }
