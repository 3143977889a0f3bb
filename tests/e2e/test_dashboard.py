"""The Communications dashboard in a real browser: Debian's Chromium, driven by Playwright, against a
visits service served over real HTTP on PostgreSQL and Kafka. Screenshots go to test-artifacts/."""

import re
import time
from datetime import datetime, timedelta
from datetime import time as time_of_day

from playwright.async_api import async_playwright, expect
from sqlalchemy import update

from services.visits import models
from services.visits.domain import HELSINKI
from services.visits.schemas import helsinki_today
from tests.builders import future
from tests.e2e.browser import ARTIFACTS, CHROMIUM_ARGS
from tests.e2e.staff import dev_sign_in, fill_application_form
from tests.integration.queue.live import live_visits
from tests.integration.visits.running import just_after_midnight_yesterday

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


async def _seed(live) -> None:
    """A few requests of other countries so the tables, counts and charts have something to show."""
    plans = [
        ("SE", ["culture"], "minister", True, None),
        ("EE", ["education"], "expert", False, "accept"),
        ("DE", ["smart-city"], "mayor", False, None),
        ("JP", ["education", "design"], "senior_official", True, "decline"),
        ("EE", ["climate"], "ambassador", False, None),
        ("US", ["innovation"], "expert", False, "accept"),
    ]
    for country, areas, rank, press, decision in plans:
        submitted = await live.submit(
            country=country,
            focus_areas=areas,
            highest_rank=rank,
            needs={"press": press},
            preferred_dates=[{"start": future(15), "end": future(40)}],
        )
        division = submitted["division"]
        if decision == "accept":
            await live.decide(submitted["reference"], division, decision="accept", visit_date=future(16), host="Host")
        elif decision == "decline":
            await live.decide(submitted["reference"], division, decision="decline", reason="no_capacity", message="-")
    await live.escalate((await live.submit(country="NO", focus_areas=["mobility"]))["reference"])
    # The German request arrived half an hour after midnight yesterday, Helsinki time: the day before in UTC.
    async with live.app.state.sessions() as session:
        await session.execute(
            update(models.VisitRequest)
            .where(models.VisitRequest.country == "DE")
            .values(created_at=just_after_midnight_yesterday())
        )
        await session.commit()


def _elsewhere() -> str:
    """A time zone whose date differs from Helsinki's right now (13-14 hours behind, or 11-12 ahead)."""
    return "Pacific/Pago_Pago" if datetime.now(HELSINKI).hour < 13 else "Pacific/Kiritimati"


async def test_a_request_from_the_form_appears_on_the_open_dashboard_and_changes_live(
    new_database, kafka_bootstrap, chromium
):
    ARTIFACTS.mkdir(exist_ok=True)
    async with live_visits(await new_database("visits"), kafka_bootstrap) as live, async_playwright() as pw:
        await _seed(live)
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            # A browser on another date than Helsinki's: the charts' period must still be Helsinki's days.
            desk = await browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id=_elsewhere())
            dashboard = await desk.new_page()
            problems = []
            # Chromium asks for /favicon.ico by itself; the service has none (yet), which is no fault of the page.
            dashboard.on(
                "console",
                lambda m: (
                    problems.append(f"{m.text} {m.location}")
                    if m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico")
                    else None
                ),
            )
            dashboard.on("pageerror", lambda e: problems.append(str(e)))
            await dev_sign_in(dashboard, live.url, "Communications")
            await expect(dashboard.locator("#period-to")).to_have_value(helsinki_today().isoformat())
            await dashboard.evaluate("window.stillTheSamePage = true")
            german = dashboard.locator("#table-waiting tr", has_text="Germany")
            await expect(german).to_contain_text(f"{helsinki_today() - timedelta(days=1)} (1 day ago)")

            form = await desk.new_page()
            await form.goto(f"{live.url}/apply?lang=en")
            await fill_application_form(form, future(10), future(12))
            await form.screenshot(path=ARTIFACTS / "form-1280.png", full_page=True)
            await form.get_by_role("button", name="Send request").click()
            await expect(form.get_by_role("heading", name="Thank you, your request has been received")).to_be_visible()
            reference = (await form.locator(".reference strong").text_content()).strip()
            shown = time.monotonic()

            row = dashboard.locator(f'#table-waiting tr[data-reference="{reference}"]')
            await expect(row).to_be_visible(timeout=2000)
            assert time.monotonic() - shown < 2.0
            await expect(row).to_contain_text("Being handled by the division")
            await expect(row).to_contain_text("Level 1")
            await expect(row).to_contain_text("Press")
            await expect(dashboard.locator("#changes")).to_contain_text(f"{reference}: new request")

            await live.escalate(reference)
            late = dashboard.locator(f'#table-overdue tr[data-reference="{reference}"]')
            await expect(late).to_be_visible(timeout=2000)
            await expect(late).to_have_class(re.compile(r"\bis-overdue\b"))
            await expect(late).to_contain_text("Overdue")  # said in words, not only in red
            await expect(late).to_have_css("background-color", "rgb(251, 233, 237)")

            visit_date = (helsinki_today() + timedelta(days=11)).isoformat()
            await live.decide(
                reference,
                "education",
                decision="accept",
                visit_date=visit_date,
                host="Mayor",
                start_time="10:00",
                end_time="12:00",
                venue="Kaupungintalo",
            )
            accepted = dashboard.locator(f'#table-upcoming tr[data-reference="{reference}"]')
            await expect(accepted).to_be_visible(timeout=2000)
            await expect(accepted.locator(".cell-status")).to_have_text("Accepted")
            await expect(accepted).to_contain_text(f"{visit_date} 10:00–12:00, Kaupungintalo")
            await expect(dashboard.locator(f'#table-overdue tr[data-reference="{reference}"]')).to_have_count(0)
            assert await dashboard.evaluate("window.stillTheSamePage === true")  # no reload happened

            await expect(dashboard.locator("#chart-countries svg rect").first).to_be_visible()
            await dashboard.wait_for_timeout(3500)  # let the row highlight fade and the counts refresh
            await dashboard.screenshot(path=ARTIFACTS / "dashboard-1280.png", full_page=True)
            assert problems == []

            phone = await (await browser.new_context(**PHONE)).new_page()
            await dev_sign_in(phone, live.url, "Communications")
            await expect(phone.locator(f'#table-upcoming tr[data-reference="{reference}"]')).to_be_visible()
            await phone.screenshot(path=ARTIFACTS / "dashboard-phone.png")
            await phone.locator("#section-overdue").screenshot(path=ARTIFACTS / "dashboard-phone-overdue.png")
            await phone.locator("#section-upcoming").screenshot(path=ARTIFACTS / "dashboard-phone-upcoming.png")
        finally:
            await browser.close()


async def test_the_dashboard_is_not_for_a_role_that_may_not_see_the_queue(new_database, kafka_bootstrap, chromium):
    async with live_visits(await new_database("visits"), kafka_bootstrap) as live, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await browser.new_page()
            await page.goto(f"{live.url}/queue?lang=en")
            await page.get_by_role("button", name="Sign in: Protocol officer", exact=True).click()
            await expect(page.get_by_role("heading", name="This page is not for your role")).to_be_visible()
            await expect(page.locator("#dashboard")).to_have_count(0)
            assert await page.evaluate("sessionStorage.length + localStorage.length") == 0
        finally:
            await browser.close()


async def test_a_dashboard_left_open_loads_its_tables_again_on_a_new_helsinki_day(
    new_database, kafka_bootstrap, chromium
):
    async with live_visits(await new_database("visits"), kafka_bootstrap) as live, async_playwright() as pw:
        submitted = await live.submit(country="KN", preferred_dates=[{"start": future(29), "end": future(40)}])
        reference = submitted["reference"]
        await live.decide(reference, "education", decision="accept", visit_date=future(31), host="Host")
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await browser.new_page()
            # The page's clock starts a minute before Helsinki's midnight; the service keeps the real date.
            await page.clock.install(time=datetime.combine(helsinki_today(), time_of_day(23, 59), HELSINKI))
            await dev_sign_in(page, live.url, "Communications")
            row = page.locator(f'#table-upcoming tr[data-reference="{reference}"]')
            await expect(row).to_have_count(0)  # 31 days ahead: not yet "in the next 30 days"
            # A day later the visit is 30 days ahead, and no event says so: here the date moves in the database.
            async with live.app.state.sessions() as session:
                await session.execute(
                    update(models.VisitRequest)
                    .where(models.VisitRequest.reference == reference)
                    .values(visit_date=helsinki_today() + timedelta(days=30))
                )
                await session.commit()
            await page.clock.fast_forward("02:00")  # past midnight in Helsinki
            await expect(row).to_be_visible()
        finally:
            await browser.close()
