"""The routes and middleware every service app has: health, readiness, metrics, latency."""

import time

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared import metrics
from shared.auth import public
from shared.security import DEFAULT_MAX_BODY_BYTES, BodySizeLimit, NoNulCharacters, SecurityHeaders
from shared.tracing import configure_tracing, instrument_app


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
        return JSONResponse({"status": "ok" if ready else "unavailable", "checks": checks},
                            status_code=200 if ready else 503)

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
    app.add_middleware(BodySizeLimit, max_bytes=getattr(app.state.settings, "max_body_bytes", DEFAULT_MAX_BODY_BYTES))

    @app.middleware("http")
    async def record_latency(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        metrics.HTTP_LATENCY.labels(service, request.method, template, response.status_code).observe(
            time.perf_counter() - started)
        return response

    docs = {app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url if app.docs_url else None}
    app.add_middleware(SecurityHeaders, docs_paths=frozenset(p for p in docs if p))
