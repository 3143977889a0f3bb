"""The notifications service: e-mails and webhooks decided from events, with a delivery log."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import structlog
from fastapi import FastAPI

from services.notifications import api, consumer, models
from services.notifications.config import Settings
from services.notifications.dispatcher import Dispatcher, Handover
from services.notifications.messages import Renderer
from shared.runtime import Runtime
from shared.settings import load_settings
from shared.web import service_app

log = structlog.get_logger()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings come from the environment unless a test passes its own."""
    settings = settings or load_settings(Settings)
    handover = Handover(settings)  # the consumer's planned deliveries, straight to this process's dispatch loops
    renderer = Renderer()  # e-mails and calendars: the consumer's, and the feeds' on the API

    @asynccontextmanager
    async def dispatcher(app: FastAPI, runtime: Runtime) -> AsyncIterator[None]:
        async with httpx.AsyncClient(follow_redirects=False) as http:
            loops = settings.dispatchers if runtime.engine.dialect.name == "postgresql" else 1
            for n in range(loops):
                sender = Dispatcher(
                    sessions=runtime.sessions, settings=settings, runtime=runtime, http=http, handover=handover
                )
                runtime.run_task(sender.run(), name=f"notifications-dispatcher-{n}", drains=True)
            yield
        # The runtime has stopped (consumer and loops): what was handed over and not sent is anyone's to claim.
        try:
            await handover.give_back(runtime.sessions)
        except Exception as exc:  # database away: those wait out their lease instead
            log.warning("dispatcher.give_back_failed", error=repr(exc))

    app = service_app(
        service="notifications",
        settings=settings,
        outbox=models.outbox,
        processed=models.processed_events,
        consumes=["visits.v1", "capacity.v1", "protocol.v1"],
        handlers=consumer.handlers(settings, handover, renderer),
        extras=dispatcher,
    )
    app.state.handover, app.state.renderer = handover, renderer
    api.install_error_handlers(app)
    app.include_router(api.router)
    app.include_router(api.calendars)
    return app
