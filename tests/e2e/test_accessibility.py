"""axe-core finds no WCAG 2.1 A/AA violation on the public pages, in each language, at phone and desk width,
against a visits service over real HTTP. (The staff pages have their own checks beside their tests.)"""

import pytest
from playwright.async_api import async_playwright

from tests.builders import future
from tests.e2e.browser import CHROMIUM_ARGS, PHONE, accessibility_violations
from tests.integration.queue.live import live_visits

LANGUAGES = ("fi", "sv", "en")
DESK = {"width": 1280, "height": 900}


async def test_axe_finds_what_breaks_the_rules_on_a_page_that_breaks_them(chromium, axe):
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await (await browser.new_context(bypass_csp=True)).new_page()
            await page.set_content('<html><body><img src="x.png"><input type="text"></body></html>')
            found = {v["rule"] for v in await accessibility_violations(page, axe)}
            assert {"image-alt", "label", "html-has-lang"} <= found
        finally:
            await browser.close()


@pytest.mark.parametrize("viewport", [PHONE, DESK], ids=["phone", "desk"])
async def test_the_public_pages_have_no_accessibility_violations_in_any_language(
    new_database, kafka_bootstrap, chromium, axe, viewport
):
    async with live_visits(await new_database("visits"), kafka_bootstrap) as live, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await (await browser.new_context(viewport=viewport, bypass_csp=True)).new_page()
            found = {}
            for lang in LANGUAGES:
                submitted = await live.submit(language=lang)
                reference, tracking = submitted["reference"], submitted["tracking_url"].removeprefix(live.url)
                await live.decide(
                    reference,
                    "education",
                    decision="propose",
                    message="Spring is full.",
                    proposed_dates=[{"start": future(120), "end": future(122)}],
                )
                pages = {
                    "form": f"/apply?lang={lang}",
                    "confirmation": f"/apply/confirmation/{reference}?lang={lang}",
                    "tracking with proposed dates": tracking + f"&lang={lang}",
                    "tracking, wrong token": f"/track/{reference}?token=wrong&lang={lang}",
                }
                for name, path in pages.items():
                    await page.goto(live.url + path)
                    found[f"{name} ({lang})"] = await accessibility_violations(page, axe)
                await page.goto(live.url + f"/apply?lang={lang}")
                await page.locator("form button[type=submit]").last.click()  # nothing filled in: errors shown
                found[f"form with errors ({lang})"] = await accessibility_violations(page, axe)
            assert {name: v for name, v in found.items() if v} == {}
        finally:
            await browser.close()
