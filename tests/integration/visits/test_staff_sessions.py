"""Staff sessions without a provider: the development sign-in page, the signed cookie, expiry, sign-out, CSRF and
the queue read from the session, on the real visits service (PostgreSQL, Kafka)."""

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select, update

from services.visits import staff
from services.visits.config import Settings
from services.visits.main import create_app
from services.visits.models import AuditEntry, StaffSession
from tests.integration.visits.running import Visits
from tests.security.apps import offline
from tests.support import unique

DIVISIONS = [
    "education",
    "urban-environment",
    "culture-and-leisure",
    "social-services-health",
    "city-executive-office",
    "economic-development",
    "forum-virium",
    "business-hub",
    "international-affairs",
]


def browser(visits: Visits) -> httpx.AsyncClient:
    """A client of its own (its own cookie jar) on the running service, as one person's browser."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=visits.app, client=("127.0.0.1", 50000)), base_url="http://testserver"
    )


async def dev_sign_in(http: httpx.AsyncClient, role: str, division: str | None = None, back: str = "/queue"):
    page = await http.get("/auth/dev", params={"next": back, "lang": "en"})
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    form = {"csrf_token": csrf, "next": back, "lang": "en", "role": role} | ({"division": division} if division else {})
    return await http.post("/auth/dev", data=form)


def csrf_of(page: httpx.Response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


async def test_the_development_page_lists_each_role_and_an_officer_of_each_division(visits):
    async with browser(visits) as http:
        page = await http.get("/auth/dev", params={"lang": "en"})
    assert page.status_code == 200
    buttons = re.findall(r'<button type="submit" class="button">Sign in: ([^<]+)</button>', page.text)
    assert buttons[:3] == ["Communications", "Protocol officer", "Administrator"]
    assert len(buttons) == 3 + len(DIVISIONS)
    assert "Sign in: Division officer, Education and expertise" not in buttons  # divisions, not focus areas
    assert re.findall(r'name="division" value="([^"]+)"', page.text) == sorted(DIVISIONS)


async def test_one_click_signs_in_and_the_queue_page_shows_who_is_signed_in(visits):
    async with browser(visits) as http:
        signed_in = await dev_sign_in(http, "communications", back="/queue?status=routed")
        assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/queue?status=routed")
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        page = await http.get("/queue")
    assert page.status_code == 200
    assert "Signed in as Communications, development (Communications)" in page.text
    assert 'id="token"' not in page.text and "Access token" not in page.text
    assert page.headers["cache-control"] == "no-store"


async def test_the_queue_api_answers_the_pages_session_for_reads_only(visits):
    mine = await visits.submit(country="TV", focus_areas=["education"])
    theirs = await visits.submit(country="TV", focus_areas=["culture"])
    async with browser(visits) as http:
        await dev_sign_in(http, "division_officer", "education")
        queue = await http.get("/api/v1/queue", params={"country": "TV"})
        assert queue.status_code == 200, queue.text
        shown = {item["reference"] for item in queue.json()["waiting"]["items"]}
        assert mine["reference"] in shown and theirs["reference"] not in shown
        # The cookie is no bearer token: a write with only the session (a cross-site form could send it) is refused.
        decision = await http.post(
            f"/api/v1/requests/{mine['reference']}/decision", json={"decision": "redirect", "division": "culture"}
        )
        assert decision.status_code == 401
    assert (await visits.view(mine["reference"]))["status"] == "routed"


async def test_a_role_the_queue_is_not_for_gets_a_page_saying_so(visits):
    async with browser(visits) as http:
        await dev_sign_in(http, "protocol_officer")
        page = await http.get("/queue", params={"lang": "en"})
        api = await http.get("/api/v1/queue")
    assert page.status_code == 403
    assert "This page is not for your role" in page.text and "Protocol officer" in page.text
    assert api.status_code == 403


@pytest.mark.parametrize("forge", ["tampered", "foreign", "garbage"])
async def test_a_tampered_or_foreign_cookie_signs_out_and_shows_nothing(visits, forge):
    async with browser(visits) as http:
        await dev_sign_in(http, "communications")
        real = http.cookies[staff.SESSION_COOKIE]
        key = real.split(".")[0]
        other = Settings(database_url="unused", session_secret="another deployment's secret")
        forged = {
            "tampered": f"{key[:-1]}{'A' if key[-1] != 'A' else 'B'}.{real.split('.')[1]}",
            "foreign": staff.cookie_value(other, key),
            "garbage": "not-a-session",
        }[forge]
    async with browser(visits) as stranger:
        sent = {"Cookie": f"{staff.SESSION_COOKIE}={forged}"}
        page, api = await stranger.get("/queue", headers=sent), await stranger.get("/api/v1/queue", headers=sent)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/auth/signin?next=%2Fqueue")
    assert f'{staff.SESSION_COOKIE}=""' in page.headers["set-cookie"]  # the bad cookie is cleared
    assert page.content == b""
    assert api.status_code == 401


async def test_a_staff_post_without_the_csrf_token_is_refused_and_changes_nothing(visits):
    async with browser(visits) as http:
        await dev_sign_in(http, "admin")
        page = await http.get("/queue", params={"lang": "en"})
        sub_rows = await visits.count(AuditEntry, AuditEntry.action == "staff.signed_out")
        for form in ({}, {"csrf_token": "forged"}, {"csrf_token": csrf_of(page) + "x"}):
            refused = await http.post("/auth/signout", data=form | {"lang": "en"})
            assert refused.status_code == 403, form
            assert "nothing was changed" in refused.text
        assert (await http.get("/queue")).status_code == 200  # still signed in
    assert await visits.count(AuditEntry, AuditEntry.action == "staff.signed_out") == sub_rows


async def test_signing_out_ends_the_session_so_its_cookie_opens_nothing_any_more(visits):
    async with browser(visits) as http:
        await dev_sign_in(http, "communications")
        cookie = http.cookies[staff.SESSION_COOKIE]
        page = await http.get("/queue")
        out = await http.post("/auth/signout", data={"csrf_token": csrf_of(page), "lang": "en"})
        assert out.status_code == 303 and out.headers["location"].startswith("/auth/signed-out")
        assert (await http.get(out.headers["location"])).status_code == 200
    assert await visits.count(StaffSession, StaffSession.id == staff.session_id(cookie.split(".")[0])) == 0
    async with browser(visits) as replay:  # someone who kept a copy of the cookie
        again = await replay.get("/queue", headers={"Cookie": f"{staff.SESSION_COOKIE}={cookie}"})
    assert again.status_code == 303 and again.headers["location"].startswith("/auth/signin")


@pytest.mark.parametrize("ended", ["idle an hour", "eight hours old"])
async def test_an_expired_session_goes_through_sign_in_and_back_to_the_same_page(visits, ended):
    async with browser(visits) as http:
        await dev_sign_in(http, "communications")
        key = http.cookies[staff.SESSION_COOKIE].split(".")[0]
        now = datetime.now(UTC)
        change = (
            {"seen_at": now - timedelta(seconds=visits.settings.session_idle_seconds + 1)}
            if ended == "idle an hour"
            else {"expires_at": now - timedelta(seconds=1)}
        )
        async with visits.app.state.sessions() as session:
            await session.execute(update(StaffSession).where(StaffSession.id == staff.session_id(key)).values(change))
            await session.commit()
        gone = await http.get("/queue", params={"status": "routed"})
        assert gone.status_code == 303
        sign_in = await http.get(gone.headers["location"])
        assert sign_in.status_code == 303 and sign_in.headers["location"].startswith("/auth/dev?")
        back = parse_qs(urlsplit(sign_in.headers["location"]).query)["next"][0]
        assert back == "/queue?status=routed"
        signed_in = await dev_sign_in(http, "communications", back=back)
        assert signed_in.headers["location"] == "/queue?status=routed"
        assert (await http.get(signed_in.headers["location"])).status_code == 200
    assert await visits.count(StaffSession, StaffSession.id == staff.session_id(key)) == 0


async def test_sign_in_never_sends_anyone_to_another_site(visits):
    async with browser(visits) as http:
        for bad in ("https://evil.example/", "//evil.example/", "/\\evil.example", "queue"):
            response = await http.get("/auth/signin", params={"next": bad})
            assert parse_qs(urlsplit(response.headers["location"]).query)["next"] == ["/queue"], bad


async def test_sessions_keep_provider_tokens_and_names_sealed_in_the_database(visits):
    async with browser(visits) as http:
        await dev_sign_in(http, "division_officer", "education")
        key = http.cookies[staff.SESSION_COOKIE].split(".")[0]
    async with visits.app.state.sessions() as session:
        row = await session.scalar(select(StaffSession).where(StaffSession.id == staff.session_id(key)))
    assert (row.sub, row.role, row.division) == ("dev-division_officer-education", "division_officer", "education")
    assert "development" not in row.sealed and key not in row.id
    assert staff.unseal(key, row.sealed) == {"name": "Division officer (education), development"}
    assert staff.unseal(unique(), row.sealed) is None


async def test_the_development_sign_in_is_not_found_in_production():
    settings = Settings(
        database_url="postgresql://nobody@127.0.0.1:9/unreachable",
        environment="production",
        oidc_issuer="https://login.example.test/realms/helsinki",
        oidc_client_secret="s",
        csrf_secret="c",
        session_secret="s",
    )
    app = offline(create_app(settings))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        assert (await http.get("/auth/dev")).status_code == 404
        form = {"role": "admin", "csrf_token": "x", "next": "/queue"}
        assert (await http.post("/auth/dev", data=form)).status_code == 404
