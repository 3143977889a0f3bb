"""Education's full week waitlists the next request, and a cancellation lets it through."""

import asyncio
from datetime import timedelta

from sqlalchemy import select

from services.visits.models import FullWeek
from tests.e2e.city import accept, mails, next_monday, submit
from tests.support import eventually, unique


async def test_a_full_education_week_waitlists_the_seventh_request_until_a_cancellation_reopens_it(city):
    monday = next_monday(30)
    iso = monday.isocalendar()
    week = f"{iso.year}-W{iso.week:02d}"
    accepted = []
    for day in range(6):
        submitted = await submit(city, focus="education", week_start=monday)
        await accept(city, submitted, monday + timedelta(days=day % 5))
        accepted.append(submitted)

    async def visits_knows_the_week_is_full():
        async with city.apps["visits"].state.sessions() as session:
            return await session.scalar(
                select(FullWeek).where(FullWeek.division == "education", FullWeek.iso_week == week)
            )

    await eventually(visits_knows_the_week_is_full, timeout=30)
    email = f"{unique('w')}@example.org"
    seventh = await submit(city, focus="education", week_start=monday, email=email, language="fi")
    assert seventh["status"] == "waitlisted"
    told = await eventually(lambda: mails(city, email, seventh["reference"], at_least=2), timeout=30)
    waitlist_mail = [m for m in told if "jono" in m["Subject"].lower()]
    assert waitlist_mail, [m["Subject"] for m in told]  # in Finnish, with the nearest open weeks
    assert f"viikko {iso.week + 1}/{iso.year}" in waitlist_mail[0].get_body(("plain",)).get_content()

    cancel = await city.visits.post(
        f"/api/v1/requests/{accepted[0]['reference']}/cancel", headers=city.auth("division_officer", "education")
    )
    assert cancel.status_code == 200, cancel.text

    async def routed_again():
        response = await city.visits.get(f"/api/v1/requests/{seventh['reference']}", headers=city.auth("admin"))
        return response.json()["status"] == "routed"

    await eventually(routed_again, timeout=30)
    education_told = await eventually(
        lambda: mails(city, "education@visitdesk.invalid", seventh["reference"], at_least=1), timeout=30
    )
    assert education_told
    await asyncio.sleep(0.5)
