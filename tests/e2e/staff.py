"""What the browser tests of staff pages share: signing in (Keycloak's page, or the development page), the test
realm's fixtures, and the public form filled in by hand."""

import httpx
from playwright.async_api import Page, expect

# Fixtures of deploy/keycloak/visitdesk-realm.json: a local test provider's, never a real one's.
CLIENT_SECRET = "visitdesk-local-secret"
TEST_CLIENT = {"client_id": "visitdesk-tests", "client_secret": "visitdesk-tests-local-secret"}


def provider_settings(issuer: str, **changes) -> dict:
    """Settings of a visits service that signs staff in at the test realm."""
    return {"oidc_issuer": issuer, "oidc_client_secret": CLIENT_SECRET} | changes


async def sign_in_at_keycloak(page: Page, username: str) -> None:
    """On Keycloak's own login page: the test user's name and password, then its button."""
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(f"{username}-test-password")
    await page.locator("#kc-login").click()


async def realm_token(issuer: str, username: str) -> str:
    """An access token of the realm for one of its test users (the test-only client may use the password grant)."""
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"{issuer}/protocol/openid-connect/token",
            data={"grant_type": "password", "username": username, "password": f"{username}-test-password"}
            | TEST_CLIENT,
        )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


async def dev_sign_in(page: Page, url: str, who: str) -> None:
    """The development sign-in page's button for `who` (e.g. "Communications"), from the queue page."""
    await page.goto(f"{url}/queue?lang=en")
    await page.get_by_role("button", name=f"Sign in: {who}", exact=True).click()
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")


async def fill_application_form(page: Page, start: str, end: str) -> None:
    await page.get_by_label("Name of the organisation").fill("Tallinn Education Department")
    await page.get_by_label("Country").select_option("EE")
    await page.locator("#contact_name").fill("Mari Maasikas")
    await page.get_by_label("E-mail address").fill("mari@example.org")
    await page.get_by_label("Language of correspondence").select_option("en")
    await page.get_by_label("Main topic").select_option("education")
    await page.get_by_label("Purpose of the visit").fill("Learn how Helsinki schools support new teachers.")
    await page.get_by_label("Number of people in the delegation").fill("8")
    await page.get_by_label("Position of the highest-ranking member").select_option("head_of_government")
    await page.locator("#preferred_1_start").fill(start)
    await page.locator("#preferred_1_end").fill(end)
    await page.get_by_label("Media will accompany the delegation").check()
