"""Every service's real app for the cross-service security tests, and a walk over its routes."""

import importlib
from collections.abc import Iterator

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from shared.db import make_engine, make_sessionmaker
from shared.settings import ServiceSettings

# Nothing listens here: a route that touches the database before it checks the caller fails loudly.
UNREACHABLE_DB = "postgresql://nobody@127.0.0.1:9/unreachable"


def service_parts(service: str) -> tuple:
    """(create_app, Settings) of a service, imported late so one broken service fails only its own cases."""
    main = importlib.import_module(f"services.{service}.main")
    config = importlib.import_module(f"services.{service}.config")
    return main.create_app, config.Settings


def service_settings(service: str, **fields) -> ServiceSettings:
    _, settings_class = service_parts(service)
    return settings_class(**{"database_url": UNREACHABLE_DB} | fields)


def offline_app(service: str, **fields) -> FastAPI:
    """The real app without its lifespan; its sessions point at a database nobody serves."""
    create_app, _ = service_parts(service)
    return offline(create_app(service_settings(service, **fields)))


def offline(app: FastAPI) -> FastAPI:
    """No lifespan: sessions that fail on first use, so only what runs before the database can pass."""
    app.state.sessions = make_sessionmaker(make_engine(UNREACHABLE_DB))
    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def api_routes(app: FastAPI) -> Iterator[RouteContext]:
    """Each APIRoute as the app serves it (prefix and router dependencies included)."""
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute):
            yield route


def policies(route: RouteContext) -> list:
    """The `policy` of every dependency in the route's dependency tree (see shared.auth.require / public)."""
    found, pending = [], [route.dependant]
    while pending:
        dependant = pending.pop()
        if hasattr(dependant.call, "policy"):
            found.append(dependant.call.policy)
        pending.extend(dependant.dependencies)
    return found


def signs_in(route: RouteContext) -> bool:
    """A staff page: without a session it sends the caller through sign-in (services/visits/staff.signed_in)."""
    found, pending = False, [route.dependant]
    while pending:
        dependant = pending.pop()
        found = found or getattr(dependant.call, "signs_in", False)
        pending.extend(dependant.dependencies)
    return found


def staff_roles(route: RouteContext) -> frozenset[str] | None:
    """The roles a staff route admits (every `require` in its tree must pass), or None for a public route."""
    declared = [set(p) for p in policies(route) if p != "public"]
    return frozenset(set.intersection(*declared)) if declared else None


def concrete_path(route: RouteContext) -> str:
    """The route's path with a harmless value in each path parameter."""
    path = route.path_format
    for name, convertor in route.param_convertors.items():
        value = "1" if type(convertor).__name__ in ("IntegerConvertor", "FloatConvertor") else "x"
        path = path.replace("{" + name + "}", value)
    return path
