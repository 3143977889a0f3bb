"""Event type -> handler for the notifications service."""

from services.notifications import service
from services.notifications.config import Settings
from services.notifications.dispatcher import Handover
from services.notifications.events import NOTIFYING, VisitPersonalDataErased
from services.notifications.messages import Renderer
from shared.consumer import Handler
from shared.events import Envelope


def handlers(settings: Settings, handover: Handover) -> dict[str, Handler]:
    renderer = Renderer()

    async def plan(session, envelope: Envelope) -> None:
        await service.plan_deliveries(
            session=session, envelope=envelope, settings=settings, renderer=renderer, handover=handover
        )

    async def erase(session, envelope: Envelope) -> None:
        await service.erase_personal_data(session=session, envelope=envelope)

    return dict.fromkeys(NOTIFYING, plan) | {VisitPersonalDataErased.type: erase}
