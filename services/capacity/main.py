"""The capacity service: weekly hosting limits per division and the reservations against them."""

from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.capacity import api, consumer, models
from services.capacity.config import Settings
from shared.auth import TokenVerifier
from shared.db import make_engine
from shared.logs import configure_logging
from shared.runtime import Runtime
from shared.settings import load_settings
from shared.web import install_platform

SERVICE = "capacity"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings come from the environment unless a test passes its own."""
    settings = settings or load_settings(Settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        configure_logging(settings.log_level)
        engine = make_engine(settings.database_url)
        runtime = Runtime(service=SERVICE, settings=settings, engine=engine, outbox=models.outbox,
                          processed=models.processed_events, consumes=["visits.v1"],
                          handlers=consumer.handlers(settings))
        app.state.runtime, app.state.sessions = runtime, runtime.sessions
        await runtime.start()
        yield
        await runtime.stop()
        await engine.dispose()

    app = FastAPI(title="visitdesk capacity", version="1.0.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.verifier = TokenVerifier(settings)
    install_platform(app, SERVICE)
    app.include_router(api.router)
    return app
