"""Every route of every service says who may call it, and every staff route turns away a caller without a token."""

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.staticfiles import StaticFiles
from starlette.routing import Mount

from shared.auth import ROLES, Principal, public, require
from tests.security.apps import api_routes, client, concrete_path, offline_app, policies, signs_in, staff_roles
from visitdesk import SERVICES

PLATFORM = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
# Deliberately public routes, reviewed: adding one to a service means adding it here too.
PUBLIC = {
    "visits": PLATFORM
    | {
        ("POST", "/api/v1/requests"),
        ("GET", "/api/v1/requests/{reference}"),  # the delegation, by tracking token
        ("GET", "/api/v1/requests/{reference}/history"),
        ("POST", "/api/v1/requests/{reference}/cancel"),
        ("POST", "/api/v1/requests/{reference}/respond"),
        ("GET", "/apply"),
        ("POST", "/apply"),
        ("GET", "/apply/confirmation/{reference}"),
        ("GET", "/track/{reference}"),
        # The tracking page's forms: the tracking token travels in the body; a forged post cannot know it.
        ("POST", "/track/{reference}/respond"),
        ("POST", "/track/{reference}/cancel"),
        # Signing in and out: each answers only for the caller's own browser (sign-out needs the session's CSRF
        # token); the development sign-in answers 404 in production and whenever a provider is configured.
        ("GET", "/auth/signin"),
        ("GET", "/auth/callback"),
        ("POST", "/auth/signout"),
        ("GET", "/auth/signed-out"),
        ("GET", "/auth/dev"),
        ("POST", "/auth/dev"),
    },
    "protocol": PLATFORM,
    # Calendar clients cannot sign in: the feed's secret token (hashed in the database, revocable) is the key.
    "notifications": PLATFORM | {("GET", "/calendars/feed.ics")},
    "capacity": PLATFORM,
}


def policy_problems(app: FastAPI) -> list[str]:
    """Why each route of `app` fails the policy rule; empty when every route declares one."""
    docs = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    problems = []
    for route in iter_route_contexts(app.routes):
        original = route.original_route
        if isinstance(original, APIRoute):
            problems += [f"{m} {route.path}: {p}" for m in route.methods for p in api_route_problems(route)]
        elif isinstance(original, Mount) and isinstance(original.app, StaticFiles):
            continue  # stylesheets and images: public by nature, no handler of ours runs
        elif route.path not in docs:
            problems.append(f"{route.path}: a {type(original).__name__} bypasses FastAPI dependencies; no policy")
    return problems


def api_route_problems(route) -> list[str]:
    found = policies(route)
    if not found:
        return ["no require(...) or public() in its dependencies"]
    if "public" in found and len(found) > 1:
        return [f"both public and {found}"]
    unknown = {role for p in found if p != "public" for role in p} - set(ROLES)
    if unknown or any(p != "public" and not p for p in found):
        return [f"roles {sorted(unknown) or 'none'} are not roles"]
    return []


def test_the_route_walk_notices_a_route_without_a_policy():
    app = FastAPI()

    @app.get("/forgotten")
    async def forgotten() -> dict:
        return {}

    @app.get("/open", dependencies=[public()])
    async def open_() -> dict:
        return {}

    @app.get("/staff")
    async def staff(_: Principal = require("admin")) -> dict:
        return {}

    @app.get("/typo", dependencies=[require("amdin")])
    async def typo() -> dict:
        return {}

    app.add_route("/raw", lambda request: None)
    assert policy_problems(app) == [
        "GET /forgotten: no require(...) or public() in its dependencies",
        "GET /typo: roles ['amdin'] are not roles",
        "/raw: a Route bypasses FastAPI dependencies; no policy",
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_declares_who_may_call_it(service):
    assert policy_problems(offline_app(service)) == []


@pytest.mark.parametrize("service", SERVICES)
def test_only_the_reviewed_routes_are_public(service):
    public_routes = {(m, r.path) for r in api_routes(offline_app(service)) if staff_roles(r) is None for m in r.methods}
    assert public_routes - PUBLIC[service] == set(), "a new public route: review it, then list it in PUBLIC"


@pytest.mark.parametrize("service", SERVICES)
async def test_every_staff_route_answers_401_without_a_valid_token(service):
    app = offline_app(service)
    answers = {}
    async with client(app) as http:
        for route in api_routes(app):
            if staff_roles(route) is None or signs_in(route):
                continue
            for method in route.methods:
                for label, headers in (("no token", {}), ("garbage token", {"Authorization": "Bearer not.a.jwt"})):
                    response = await http.request(method, concrete_path(route), headers=headers)
                    answers[f"{method} {route.path} ({label})"] = (
                        response.status_code,
                        response.headers.get("www-authenticate"),
                    )
    assert answers, f"{service} has no staff routes to check"
    assert {k: v for k, v in answers.items() if v != (401, "Bearer")} == {}


async def test_every_staff_page_without_a_session_goes_to_sign_in_and_back():
    app = offline_app("visits")
    pages = [route for route in api_routes(app) if signs_in(route)]
    assert pages, "visits has no staff pages to check"
    async with client(app) as http:
        for route in pages:
            for method in route.methods:
                response = await http.request(method, concrete_path(route), params={"lang": "en"})
                assert response.status_code == 303, f"{method} {route.path}"
                assert response.headers["location"].startswith("/auth/signin?next=%2F"), f"{method} {route.path}"
