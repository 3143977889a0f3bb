"""The body limit, the NUL guard and the page headers, as every real service app has them from install_platform."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn

from services.visits import staff
from services.visits.identity import Tokens
from shared.auth import Principal
from shared.db import make_engine, make_sessionmaker
from shared.security import CSP, DEFAULT_MAX_BODY_BYTES
from tests.security.apps import api_routes, client, concrete_path, offline_app, staff_roles
from visitdesk import SERVICES


def a_staff_write(app) -> tuple[str, str]:
    """(method, path) of a staff route taking a body: the middleware must answer before auth or validation do."""
    return next(
        (min(r.methods & {"POST", "PUT", "PATCH"}), concrete_path(r))
        for r in api_routes(app)
        if staff_roles(r) is not None and r.methods & {"POST", "PUT", "PATCH"}
    )


@pytest.mark.parametrize("service", SERVICES)
async def test_every_service_refuses_a_body_over_64_kib_with_413(service):
    app = offline_app(service)
    async with client(app) as http:
        response = await http.request(
            *a_staff_write(app),
            content=b"x" * (DEFAULT_MAX_BODY_BYTES + 1),
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 413
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("service", SERVICES)
async def test_every_service_refuses_a_nul_character_with_422(service):
    app = offline_app(service)
    async with client(app) as http:
        in_path = await http.get("/api/v1/x%00y")
        in_body = await http.request(
            *a_staff_write(app), content=b'{"note": "\\u0000"}', headers={"content-type": "application/json"}
        )
    assert (in_path.status_code, in_body.status_code) == (422, 422)


@pytest.mark.parametrize("service", SERVICES)
async def test_every_services_api_docs_page_cannot_be_framed_or_sniffed(service):
    async with client(offline_app(service)) as http:
        response = await http.get("/docs")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert (response.headers["x-frame-options"], response.headers["x-content-type-options"]) == ("DENY", "nosniff")
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/apply?lang=fi", "/auth/signed-out", "/queue"])
async def test_the_visits_pages_carry_a_csp_without_inline_script_and_deny_framing(path, new_database):
    async with signed_in_client(await new_database("visits")) as http:
        response = await http.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"


@asynccontextmanager
async def signed_in_client(database_url: str, **settings) -> AsyncIterator[httpx.AsyncClient]:
    """The visits app (no lifespan, no Kafka) on a real database, with a staff session's cookie as sign-in leaves
    it (a provider's tokens for one, a development session without)."""
    app, engine = offline_app("visits", **settings), make_engine(database_url)
    app.state.sessions = make_sessionmaker(engine)
    principal = Principal(sub="comms-1", role="communications", name="Kaisa")
    far = datetime.now(UTC) + timedelta(hours=1)
    tokens = Tokens("access", "refresh", "id", far) if app.state.verifier.provider else None
    try:
        async with app.state.sessions() as session:
            key = await staff.start_session(
                session=session, settings=app.state.settings, principal=principal, tokens=tokens, now=datetime.now(UTC)
            )
        async with client(app) as http:
            http.cookies.set(staff.SESSION_COOKIE, staff.cookie_value(app.state.settings, key))
            yield http
    finally:
        await engine.dispose()


async def test_the_dashboard_may_load_its_own_script_and_event_stream(new_database):
    async with signed_in_client(await new_database("visits")) as http:
        response = await http.get("/queue")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CSP  # default-src 'self': /static/*.js and EventSource


async def test_the_dashboards_sign_out_form_may_go_on_to_the_providers_sign_out_page(new_database):
    provider = {"oidc_issuer": "https://login.example.test/realms/helsinki", "oidc_client_secret": "s"}
    async with signed_in_client(await new_database("visits"), **provider) as http:
        response = await http.get("/queue")
    assert response.status_code == 200
    expected = CSP.replace("form-action 'self'", "form-action 'self' https://login.example.test")
    assert response.headers["content-security-policy"] == expected


@pytest.mark.parametrize("declared", [False, True], ids=["chunked", "content-length"])
async def test_a_body_over_the_limit_on_a_real_socket_gets_a_413_the_client_can_read(declared):
    config = uvicorn.Config(offline_app("protocol"), host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(20):
                yield b"x" * 4096  # 80 KiB in all, no Content-Length

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as http:
            body = b"x" * 4096 * 20 if declared else chunks()
            response = await http.post(
                "/api/v1/plans/HEL-1/gifts", content=body, headers={"content-type": "application/json"}
            )
        assert response.status_code == 413
    finally:
        server.should_exit = True
        await serving
