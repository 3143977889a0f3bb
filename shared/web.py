"""The routes and middleware every service app has: health, readiness, metrics, latency."""

import gc
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import Table
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import metrics
from shared.auth import TokenVerifier, public
from shared.consumer import Handler
from shared.db import make_engine
from shared.logs import configure_logging
from shared.runtime import Runtime
from shared.security import BodySizeLimit, NoNulCharacters, SecurityHeaders
from shared.settings import ServiceSettings
from shared.tracing import configure_tracing, instrument_app

ERROR_REASONS = {
    401: "bearer token missing or invalid",
    403: "role not allowed",
    404: "not found, or not yours to see",
    409: "not allowed in the current state",
    412: "the resource changed since the version named in If-Match",
    413: "body too large",
    429: "too many requests; see Retry-After",
}


class Problem(BaseModel):
    """An error answer other than a validation error (those are FastAPI's 422 list)."""

    detail: str


def error_responses(*codes: int) -> dict[int, dict]:
    """OpenAPI `responses=` for the error answers a route gives besides 422."""
    return {code: {"model": Problem, "description": ERROR_REASONS[code]} for code in codes}


def platform_router() -> APIRouter:
    router = APIRouter(tags=["platform"])

    @router.get("/healthz", dependencies=[public()])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @router.get("/readyz", dependencies=[public()])
    async def readyz(request: Request) -> JSONResponse:
        """The database and Kafka are reachable."""
        checks = await request.app.state.runtime.readiness()
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "checks": checks}, status_code=200 if ready else 503
        )

    @router.get("/metrics", dependencies=[public()], include_in_schema=False)
    async def prometheus_metrics() -> Response:
        """Prometheus exposition of every visitdesk metric in this process."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def install_platform(app: FastAPI, service: str) -> None:
    """Health routes, tracing, a latency histogram by route template, security headers, body limit and NUL guard."""
    app.include_router(platform_router())
    configure_tracing(service)
    instrument_app(app)
    # Middleware added later wraps what came before: headers outermost, so a 413 gets them and is timed too;
    # the body limit outside the NUL guard, which reads the whole body.
    app.add_middleware(NoNulCharacters)
    app.add_middleware(BodySizeLimit, max_bytes=app.state.settings.max_body_bytes)

    app.add_middleware(RecordLatency, service=service)

    docs = {app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url if app.docs_url else None}
    app.add_middleware(SecurityHeaders, docs_paths=frozenset(p for p in docs if p))


class RecordLatency:
    """Time to the response's start by route template, as pure ASGI (an SSE stream counts until its headers)."""

    def __init__(self, app: ASGIApp, service: str):
        self.app, self.service = app, service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                template = getattr(scope.get("route"), "path", "unmatched")
                metrics.HTTP_LATENCY.labels(self.service, scope["method"], template, message["status"]).observe(
                    time.perf_counter() - started
                )
            await send(message)

        await self.app(scope, receive, timed_send)


Extras = Callable[[FastAPI, Runtime], AbstractAsyncContextManager]


def service_app(
    *,
    service: str,
    settings: ServiceSettings,
    outbox: Table,
    processed: Table,
    consumes: list[str],
    handlers: dict[str, Handler],
    extras: Extras | None = None,
) -> FastAPI:
    """A service's FastAPI app whose lifespan runs its Runtime; `extras` adds the service's own jobs."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        configure_logging(settings.log_level)
        engine = make_engine(settings.database_url)
        runtime = Runtime(
            service=service,
            settings=settings,
            engine=engine,
            outbox=outbox,
            processed=processed,
            consumes=consumes,
            handlers=handlers,
        )
        app.state.runtime, app.state.sessions = runtime, runtime.sessions
        async with AsyncExitStack() as stack:
            await runtime.start()
            if extras is not None:
                await stack.enter_async_context(extras(app, runtime))
            stack.push_async_callback(runtime.stop)  # stops first: the extras' resources outlive their jobs
            if not gc.get_freeze_count():  # once per process (a test process starts many apps)
                # What start-up built lives as long as the process: out of the collector's sight, a full
                # collection scans the objects of requests in flight only (measured: 150-200 ms pauses every
                # ~3 s under load with ~180k objects, ~25 ms with the ~24k that remain).
                gc.collect()
                gc.freeze()
            yield
        await engine.dispose()

    app = FastAPI(title=f"visitdesk {service}", version="1.0.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.verifier = TokenVerifier(settings)
    install_platform(app, service)
    return app
