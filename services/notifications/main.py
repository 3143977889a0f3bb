"""The notifications service: e-mails and webhooks decided from events, with a delivery log."""

from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.notifications import api, consumer, models
from services.notifications.config import Settings
from services.notifications.dispatcher import Dispatcher
from shared.auth import TokenVerifier
from shared.db import make_engine
from shared.logs import configure_logging
from shared.runtime import Runtime
from shared.settings import load_settings
from shared.web import install_platform

SERVICE = "notifications"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings come from the environment unless a test passes its own."""
    settings = settings or load_settings(Settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        configure_logging(settings.log_level)
        engine = make_engine(settings.database_url)
        runtime = Runtime(service=SERVICE, settings=settings, engine=engine, outbox=models.outbox,
                          processed=models.processed_events, consumes=["visits.v1", "capacity.v1", "protocol.v1"],
                          handlers=consumer.handlers(settings))
        http = httpx.AsyncClient(follow_redirects=False)
        app.state.runtime, app.state.sessions = runtime, runtime.sessions
        await runtime.start()
        runtime.run_task(Dispatcher(sessions=runtime.sessions, settings=settings, runtime=runtime, http=http).run())
        yield
        await runtime.stop()
        await http.aclose()
        await engine.dispose()

    app = FastAPI(title="visitdesk notifications", version="1.0.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.verifier = TokenVerifier(settings)
    install_platform(app, SERVICE)
    app.include_router(api.router)
    return app
