"""The visits service: delegation intake, routing, decisions, tracking and the Communications queue."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from services.visits import api, consumer, domain, intake, jobs, models, pages, privacy, queue, security, signin
from services.visits.config import Settings
from shared.runtime import Runtime
from shared.settings import load_settings
from shared.web import service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings come from the environment unless a test passes its own."""
    settings = settings or load_settings(Settings)

    @asynccontextmanager
    async def background(app: FastAPI, runtime: Runtime) -> AsyncIterator[None]:
        # Deadlines need the holiday calendar; loading it here spares the first delegation's request the wait.
        await asyncio.to_thread(domain.load_holidays, domain.local_date(datetime.now(UTC)))
        runtime.run_task(jobs.escalation_loop(runtime.sessions, settings))
        runtime.run_task(jobs.completion_loop(runtime.sessions, settings))
        runtime.run_task(privacy.retention_loop(runtime.sessions, settings))
        queue.start(app, runtime, settings)
        app.state.intake = intake.Intake(runtime.sessions, settings)
        runtime.before_stop.append(app.state.intake.drain)
        yield

    app = service_app(
        service="visits",
        settings=settings,
        outbox=models.outbox,
        processed=models.processed_events,
        consumes=["capacity.v1"],
        handlers=consumer.handlers(settings),
        extras=background,
    )
    app.state.templates = pages.make_templates()
    app.state.submit_limiter = security.SlidingWindow(settings.submit_rate_limit, settings.submit_rate_window_seconds)
    api.install_error_handlers(app)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(queue.router)
    app.include_router(signin.router)
    signin.install(app)
    app.mount("/static", StaticFiles(directory=pages.HERE / "static"), name="static")
    return app
