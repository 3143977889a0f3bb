"""Event type -> handler for the notifications service: deliveries to plan, and the calendars' read models."""

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications import feeds, service
from services.notifications.config import Settings
from services.notifications.dispatcher import Handover
from services.notifications.events import NOTIFYING, VisitPersonalDataErased
from services.notifications.messages import Renderer
from shared.consumer import Handler
from shared.events import Envelope

CalendarUpdate = Callable[..., Awaitable[None]]
# What each event changes in the calendars, besides who hears of it.
CALENDAR_UPDATES: dict[str, CalendarUpdate] = {
    "visit.accepted.v1": feeds.visit_scheduled,
    "visit.rescheduled.v1": feeds.visit_scheduled,
    "visit.cancelled.v1": feeds.visit_called_off,
    "visit.declined.v1": feeds.visit_called_off,
    "protocol.plan_created.v1": feeds.plan_changed,
    "protocol.plan_updated.v1": feeds.plan_changed,
}


def handlers(settings: Settings, handover: Handover, renderer: Renderer) -> dict[str, Handler]:
    async def plan(session: AsyncSession, envelope: Envelope) -> None:
        update = CALENDAR_UPDATES.get(envelope.type)
        if update is not None:
            await update(session=session, envelope=envelope)
        if envelope.type in NOTIFYING:
            await service.plan_deliveries(
                session=session, envelope=envelope, settings=settings, renderer=renderer, handover=handover
            )

    async def erase(session: AsyncSession, envelope: Envelope) -> None:
        await service.erase_personal_data(session=session, envelope=envelope)

    return dict.fromkeys([*NOTIFYING, *CALENDAR_UPDATES], plan) | {VisitPersonalDataErased.type: erase}
