"""The delegation's tracking page in a real browser: answering proposed dates and calling the visit off,
with no script on the page, against a visits service over real HTTP on PostgreSQL and Kafka."""

from playwright.async_api import async_playwright, expect

from tests.builders import future
from tests.e2e.browser import ARTIFACTS, CHROMIUM_ARGS
from tests.integration.queue.live import live_visits


async def test_the_delegation_answers_proposed_dates_and_then_calls_the_visit_off_on_its_page(
    new_database, kafka_bootstrap, chromium
):
    ARTIFACTS.mkdir(exist_ok=True)
    async with live_visits(await new_database("visits"), kafka_bootstrap) as live, async_playwright() as pw:
        submitted = await live.submit(language="en")
        reference = submitted["reference"]
        await live.decide(
            reference,
            "education",
            decision="propose",
            message="Spring is full.",
            proposed_dates=[{"start": future(120), "end": future(122)}, {"start": future(140), "end": future(141)}],
        )
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            context = await browser.new_context(java_script_enabled=False)  # the page works without script
            page = await context.new_page()
            await page.goto(live.url + submitted["tracking_url"].removeprefix(live.url))
            await expect(page.get_by_role("heading", name="Answer the proposed dates")).to_be_visible()
            await page.screenshot(path=ARTIFACTS / "tracking-proposal-1280.png", full_page=True)

            await page.get_by_role("button", name="Send answer").click()  # nothing chosen yet
            await expect(page.locator("#answer-error")).to_contain_text("Choose one of the proposed periods")
            await page.get_by_label(f"{future(140)} – {future(141)}").check()
            await page.get_by_label("Message to the division (optional)").fill("The later week suits us.")
            await page.get_by_role("button", name="Send answer").click()
            await expect(page.locator(".summary .status")).to_have_text("Being handled by the division")
            await expect(page.locator(".history")).to_contain_text("The later week suits us.")
            await expect(page.get_by_role("heading", name="Answer the proposed dates")).to_have_count(0)
            assert (await live.client.get(f"/api/v1/requests/{reference}", headers=live.auth("admin"))).json()[
                "preferred_dates"
            ] == [{"start": future(140), "end": future(141)}]

            await page.get_by_role("button", name="Cancel the request").click()  # not confirmed yet
            await expect(page.locator("#confirm-error")).to_be_visible()
            await expect(page.locator(".summary .status")).to_have_text("Being handled by the division")
            await page.get_by_label("Yes, we call off our visit request").check()
            await page.get_by_role("button", name="Cancel the request").click()
            await expect(page.locator(".summary .status")).to_have_text("Cancelled")
            await expect(page.get_by_role("button", name="Cancel the request")).to_have_count(0)
            await page.screenshot(path=ARTIFACTS / "tracking-cancelled-1280.png", full_page=True)
        finally:
            await browser.close()


async def test_the_delegation_sees_its_visits_hours_venue_and_fee_on_its_page_in_its_language(
    new_database, kafka_bootstrap, chromium
):
    ARTIFACTS.mkdir(exist_ok=True)
    async with live_visits(await new_database("visits"), kafka_bootstrap) as live, async_playwright() as pw:
        fees = {"price_per_visitor_hour": "35.75", "free_until_days": 14, "late_cancellation_percent": "50"}
        assert (
            await live.client.put("/api/v1/divisions/education/fees", json=fees, headers=live.auth("admin"))
        ).status_code == 200
        submitted = await live.submit(language="fi")
        await live.decide(
            submitted["reference"],
            "education",
            decision="accept",
            visit_date=future(101),
            host="Rehtori",
            start_time="09:00",
            end_time="12:00",
            venue="Kallion lukio",
        )
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await (await browser.new_context(java_script_enabled=False)).new_page()
            await page.goto(live.url + submitted["tracking_url"].removeprefix(live.url))
            fee = page.get_by_role("region", name="Vierailun hinta")
            await expect(fee).to_contain_text("1\N{NO-BREAK SPACE}615,19\N{NO-BREAK SPACE}€")
            await expect(fee).to_contain_text("Arvonlisävero 25,5\N{NO-BREAK SPACE}%")
            await expect(fee).to_contain_text("12 henkilöä × 3 h × 35,75\N{NO-BREAK SPACE}€")
            await expect(page.locator(".summary").first).to_contain_text("Kallion lukio")
            await page.screenshot(path=ARTIFACTS / "tracking-fee-1280.png", full_page=True)
        finally:
            await browser.close()
