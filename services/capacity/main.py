"""The capacity service: weekly hosting limits per division and the reservations against them."""

from fastapi import FastAPI

from services.capacity import api, consumer, models
from services.capacity.config import Settings
from shared.settings import load_settings
from shared.web import service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings come from the environment unless a test passes its own."""
    settings = settings or load_settings(Settings)
    app = service_app(
        service="capacity",
        settings=settings,
        outbox=models.outbox,
        processed=models.processed_events,
        consumes=["visits.v1"],
        handlers=consumer.handlers(settings),
    )
    app.include_router(api.router)
    return app
