"""Staff sign-in through the real Keycloak (deploy/keycloak.sh, the test realm) in Debian's Chromium, against a
visits service over real HTTP on PostgreSQL and Kafka. Screenshots go to test-artifacts/."""

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy import func, select, update

from services.visits import staff
from services.visits.models import StaffSession
from tests.builders import future
from tests.e2e.browser import ARTIFACTS, CHROMIUM_ARGS
from tests.e2e.staff import fill_application_form, provider_settings, sign_in_at_keycloak
from tests.integration.queue.live import LiveVisits, live_visits


@pytest.fixture(scope="module")
async def sso(new_database, kafka_bootstrap, keycloak_issuer) -> AsyncIterator[LiveVisits]:
    """One visits service signing staff in at the test realm, for the tests of this module."""
    async with live_visits(await new_database("visits"), kafka_bootstrap, **provider_settings(keycloak_issuer)) as live:
        yield live


@pytest.fixture(scope="module")
async def browser(chromium) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        yield browser
        await browser.close()


async def person(browser: Browser) -> Page:
    """A fresh browser profile: no cookies here or at Keycloak."""
    return await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()


async def signed_in(page: Page, live: LiveVisits, issuer: str, username: str, path: str = "/queue") -> None:
    await page.goto(f"{live.url}{path}")
    await expect(page).to_have_url(re.compile(f"^{re.escape(issuer)}/protocol/openid-connect/auth"))
    await sign_in_at_keycloak(page, username)
    await expect(page).to_have_url(f"{live.url}{path}")


async def sessions_of(live: LiveVisits) -> int:
    async with live.app.state.sessions() as session:
        return await session.scalar(select(func.count()).select_from(StaffSession))


async def test_communications_signs_in_at_keycloak_and_sees_a_form_submission_arrive_live(
    sso, browser, keycloak_issuer
):
    ARTIFACTS.mkdir(exist_ok=True)
    page = await person(browser)
    await signed_in(page, sso, keycloak_issuer, "communications")
    await expect(page.locator("#who")).to_have_text("Signed in as Kaisa Viestintä (Communications)")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    await page.evaluate("window.stillTheSamePage = true")
    await page.screenshot(path=ARTIFACTS / "queue-signed-in-1280.png", full_page=True)

    form = await page.context.new_page()
    await form.goto(f"{sso.url}/apply?lang=en")
    await fill_application_form(form, future(10), future(12))
    await form.get_by_role("button", name="Send request").click()
    await expect(form.get_by_role("heading", name="Thank you, your request has been received")).to_be_visible()
    reference = (await form.locator(".reference strong").text_content()).strip()

    await expect(page.locator(f'#table-waiting tr[data-reference="{reference}"]')).to_be_visible()
    assert await page.evaluate("window.stillTheSamePage === true")  # it came live, with no reload
    assert "token" not in await page.evaluate("JSON.stringify({...sessionStorage, ...localStorage})")


async def test_a_division_officer_sees_only_their_division_on_the_queue(sso, browser, keycloak_issuer):
    education = await sso.submit(country="LS", focus_areas=["education"])
    culture = await sso.submit(country="LS", focus_areas=["culture"])
    page = await person(browser)
    await signed_in(page, sso, keycloak_issuer, "officer-education")
    await expect(page.locator("#who")).to_contain_text("(Division officer, ")
    await expect(page.locator(f'tr[data-reference="{education["reference"]}"]')).to_be_visible()
    await expect(page.locator(f'tr[data-reference="{culture["reference"]}"]')).to_have_count(0)
    await expect(page.locator("#division-field")).to_be_hidden()


async def test_a_person_in_no_mapped_group_gets_the_no_access_page(sso, browser, keycloak_issuer):
    page = await person(browser)
    before = await sessions_of(sso)
    await page.goto(f"{sso.url}/queue")
    await sign_in_at_keycloak(page, "no-access")
    await expect(page.get_by_role("heading", name="Ei käyttöoikeutta")).to_be_visible()
    assert page.url.startswith(f"{sso.url}/auth/callback")
    assert await sessions_of(sso) == before
    cookies = {c["name"] for c in await page.context.cookies(sso.url)}
    assert "visitdesk_session" not in cookies
    await page.get_by_role("link", name="Kirjaudu ulos kaupungin kirjautumispalvelusta").click()
    await expect(page).to_have_url(re.compile(f"^{re.escape(keycloak_issuer)}/protocol/openid-connect/logout"))


async def test_after_signing_out_the_way_back_to_the_queue_is_keycloaks_sign_in_page(sso, browser, keycloak_issuer):
    page = await person(browser)
    await signed_in(page, sso, keycloak_issuer, "communications")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="You have signed out")).to_be_visible()
    assert page.url.startswith(f"{sso.url}/auth/signed-out")
    await expect(page.get_by_text("ended here and at the city's sign-in service")).to_be_visible()
    await page.go_back()  # to the queue page, from history
    await expect(page).to_have_url(re.compile(f"^{re.escape(keycloak_issuer)}/protocol/openid-connect/auth"))
    await expect(page.locator("#username")).to_be_visible()  # Keycloak's session ended too: it asks again


async def test_an_expired_session_goes_through_sign_in_and_back_to_the_same_page(sso, browser, keycloak_issuer):
    page = await person(browser)
    await signed_in(page, sso, keycloak_issuer, "communications", path="/queue?status=routed")
    cookie = next(c for c in await page.context.cookies(sso.url) if c["name"] == "visitdesk_session")
    # An hour without use, as the clock would have it: the session's last use moves back past the idle limit.
    async with sso.app.state.sessions() as session:
        await session.execute(
            update(StaffSession)
            .where(StaffSession.id == staff.session_id(cookie["value"].split(".")[0]))
            .values(seen_at=datetime.now(UTC) - timedelta(seconds=sso.settings.session_idle_seconds + 1))
        )
        await session.commit()
    visited = []
    page.on("request", lambda request: visited.append(request.url))
    await page.reload()
    await expect(page).to_have_url(f"{sso.url}/queue?status=routed")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    assert any(url.startswith(f"{keycloak_issuer}/protocol/openid-connect/auth") for url in visited)
    assert any(url.startswith(f"{sso.url}/auth/callback") for url in visited)
    renewed = next(c for c in await page.context.cookies(sso.url) if c["name"] == "visitdesk_session")
    assert renewed["value"] != cookie["value"]
