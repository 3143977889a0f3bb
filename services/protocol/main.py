"""The protocol service: protocol plans and checklists for accepted visits."""

from fastapi import FastAPI

from services.protocol import api, consumer, models
from services.protocol.config import Settings
from shared.settings import load_settings
from shared.web import service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings come from the environment unless a test passes its own."""
    settings = settings or load_settings(Settings)
    app = service_app(
        service="protocol",
        settings=settings,
        outbox=models.outbox,
        processed=models.processed_events,
        consumes=["visits.v1"],
        handlers=consumer.handlers(settings),
    )
    api.install_error_handlers(app)
    app.include_router(api.router)
    return app
