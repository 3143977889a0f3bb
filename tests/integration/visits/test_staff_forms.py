"""The staff forms' guard (`signed_in_form`), as the desk's forms will use it: a post counts only with the session's
CSRF token, and without a session it goes through sign-in and back to the form's page."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import httpx
from fastapi import FastAPI

from services.visits import staff
from services.visits.staff import SignedIn
from shared.db import make_engine, make_sessionmaker
from tests.security.apps import client, offline_app


@asynccontextmanager
async def desk_with_a_form(database_url: str) -> AsyncIterator[tuple[FastAPI, list[str]]]:
    """The visits app (no lifespan) on a real database, with one staff form route that records who posted."""
    app, engine, posted = offline_app("visits"), make_engine(database_url), []
    app.state.sessions = make_sessionmaker(engine)

    @app.post("/desk/note")
    async def note(person: Annotated[SignedIn, staff.signed_in_form("division_officer", "admin")]) -> dict:
        posted.append(person.principal.sub)
        return {"ok": True}

    try:
        yield app, posted
    finally:
        await engine.dispose()


async def sign_in(http: httpx.AsyncClient, role: str, division: str | None = None) -> str:
    """Development sign-in; returns the session's CSRF token as its pages show it."""
    page = await http.get("/auth/dev", params={"lang": "en"})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    form = {"csrf_token": csrf, "role": role, "next": "/queue"} | ({"division": division} if division else {})
    assert (await http.post("/auth/dev", data=form)).status_code == 303
    queue = await http.get("/queue")
    return re.search(r'name="csrf_token" value="([^"]+)"', queue.text).group(1)


async def test_a_staff_form_posts_with_the_sessions_csrf_token_and_is_refused_without_it(new_database):
    async with desk_with_a_form(await new_database("visits")) as (app, posted):
        async with client(app) as http:
            csrf = await sign_in(http, "division_officer", "education")
            for form in ({}, {"csrf_token": ""}, {"csrf_token": "x" * len(csrf)}):
                refused = await http.post("/desk/note", data=form | {"lang": "en"})
                assert refused.status_code == 403 and "nothing was changed" in refused.text
            assert posted == []
            accepted = await http.post("/desk/note", data={"csrf_token": csrf})
            assert accepted.json() == {"ok": True}
        async with client(app) as someone_else:  # another session's token opens nothing for this one
            await sign_in(someone_else, "admin")
            stolen = await someone_else.post("/desk/note", data={"csrf_token": csrf})
            assert stolen.status_code == 403
    assert posted == ["dev-division_officer-education"]


async def test_a_staff_form_without_a_session_goes_through_sign_in_back_to_its_page(new_database):
    async with desk_with_a_form(await new_database("visits")) as (app, posted), client(app) as http:
        response = await http.post("/desk/note", data={"csrf_token": "x", "back": "/desk/requests/HEL-1"})
        assert response.status_code == 303
        assert response.headers["location"].startswith("/auth/signin?next=%2Fdesk%2Frequests%2FHEL-1")
        offsite = await http.post("/desk/note", data={"back": "https://evil.example/"})
        assert offsite.headers["location"].startswith("/auth/signin?next=%2Fqueue")
    assert posted == []
