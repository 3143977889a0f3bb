"""The visits service: delegation intake, routing, decisions, tracking and the Communications queue."""

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from services.visits import api, consumer, models, pages, security, service
from services.visits import queue
from services.visits import privacy
from services.visits.config import Settings
from shared.auth import TokenVerifier
from shared.db import make_engine
from shared.logs import configure_logging
from shared.runtime import Runtime
from shared.settings import load_settings
from shared.web import install_platform

SERVICE = "visits"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings come from the environment unless a test passes its own."""
    settings = settings or load_settings(Settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        configure_logging(settings.log_level)
        engine = make_engine(settings.database_url)
        runtime = Runtime(service=SERVICE, settings=settings, engine=engine, outbox=models.outbox,
                          processed=models.processed_events, consumes=["capacity.v1"],
                          handlers=consumer.handlers(settings))
        app.state.runtime, app.state.sessions = runtime, runtime.sessions
        await runtime.start()
        runtime.run_task(service.escalation_loop(runtime.sessions, settings))
        runtime.run_task(service.completion_loop(runtime.sessions, settings))
        runtime.run_task(privacy.retention_loop(runtime.sessions, settings))
        queue.start(app, runtime, settings)
        yield
        await runtime.stop()
        await engine.dispose()

    app = FastAPI(title="visitdesk visits", version="1.0.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.verifier = TokenVerifier(settings)
    app.state.templates = pages.make_templates()
    app.state.submit_limiter = security.SlidingWindow(settings.submit_rate_limit, settings.submit_rate_window_seconds)
    install_platform(app, SERVICE)
    api.install_error_handlers(app)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(queue.router)
    app.mount("/static", StaticFiles(directory=pages.HERE / "static"), name="static")
    return app
