"""Keycloak out of reach of the visits service (a TCP proxy between them, cut; the shared Keycloak keeps running):
signing in says so plainly, and what needs no provider just now keeps working."""

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from playwright.async_api import async_playwright, expect
from sqlalchemy import update

from services.visits import staff
from services.visits.models import StaffSession
from tests.e2e.browser import ARTIFACTS, CHROMIUM_ARGS
from tests.e2e.staff import provider_settings, realm_token, sign_in_at_keycloak
from tests.faults.proxy import TcpProxy
from tests.integration.queue.live import live_visits


async def test_with_keycloak_out_of_reach_sign_in_is_unavailable_and_the_rest_keeps_working(
    new_database, kafka_bootstrap, keycloak_issuer, chromium
):
    ARTIFACTS.mkdir(exist_ok=True)
    proxy = await TcpProxy(lambda: ("127.0.0.1", urlsplit(keycloak_issuer).port)).start()
    # The service reaches Keycloak's back channel (discovery, keys, tokens) through the proxy; browsers go direct.
    through_proxy = f"http://127.0.0.1:{proxy.port}/realms/visitdesk/.well-known/openid-configuration"
    settings = provider_settings(keycloak_issuer, oidc_discovery_url=through_proxy)
    async with (
        live_visits(await new_database("visits"), kafka_bootstrap, **settings) as live,
        async_playwright() as pw,
    ):
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await (await browser.new_context()).new_page()
            await page.goto(f"{live.url}/queue")
            await sign_in_at_keycloak(page, "communications")
            await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
            token = {"Authorization": f"Bearer {await realm_token(keycloak_issuer, 'communications')}"}
            assert (await live.client.get("/api/v1/queue", headers=token)).status_code == 200

            await proxy.stop()

            # A signed-in page keeps working while its access token is valid.
            assert (await page.reload()).status == 200
            await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
            # The public form, the tracking page and API calls with valid tokens do not need the provider.
            assert (await live.client.get("/apply", params={"lang": "en"})).status_code == 200
            submitted = await live.submit()
            assert (await live.client.get(submitted["tracking_url"].removeprefix(live.url))).status_code == 200
            assert (await live.client.get("/api/v1/queue", headers=token)).status_code == 200

            # Signing in says plainly that it cannot be done now.
            newcomer = await (await browser.new_context()).new_page()
            answer = await newcomer.goto(f"{live.url}/queue?lang=en")
            assert answer.status == 503 and answer.headers["retry-after"] == "30"
            await expect(newcomer.get_by_role("heading", name="Sign-in is unavailable right now")).to_be_visible()
            await newcomer.screenshot(path=ARTIFACTS / "sign-in-unavailable-1280.png", full_page=True)

            # The signed-in page whose access token needs renewing says the same.
            cookie = next(c for c in await page.context.cookies(live.url) if c["name"] == staff.SESSION_COOKIE)
            async with live.app.state.sessions() as session:
                await session.execute(
                    update(StaffSession)
                    .where(StaffSession.id == staff.session_id(cookie["value"].split(".")[0]))
                    .values(access_expires_at=datetime.now(UTC) - timedelta(seconds=1))
                )
                await session.commit()
            answer = await page.goto(f"{live.url}/queue?lang=en")
            assert answer.status == 503
            await expect(page.get_by_role("heading", name="Sign-in is unavailable right now")).to_be_visible()

            # Keycloak back in reach: the same session renews its access and the page opens again.
            await proxy.start()
            await page.get_by_role("link", name="Try again").click()
            await expect(page).to_have_url(re.compile(rf"^{re.escape(live.url)}/queue"))
            await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        finally:
            await browser.close()
            await proxy.stop()
