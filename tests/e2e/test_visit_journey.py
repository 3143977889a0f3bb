"""One request across the city: form → routed → accepted → plan, reservation and e-mails."""

import asyncio
from datetime import date, timedelta

from tests.support import eventually, unique


def next_monday(weeks_ahead: int) -> date:
    today = date.today()
    return today + timedelta(days=7 * weeks_ahead - today.weekday())


def request_body(*, language="en", focus="education", rank="expert", week_start=None, email=None, **changes) -> dict:
    start = week_start or next_monday(20)
    return {
        "organisation": unique("Delegation "),
        "country": "SE",
        "contact": {"name": "Sven Svensson", "email": email or f"{unique('c')}@example.org"},
        "language": language,
        "focus_areas": [focus],
        "delegation_size": 8,
        "highest_rank": rank,
        "preferred_dates": [{"start": start.isoformat(), "end": (start + timedelta(days=4)).isoformat()}],
        "purpose": "Study visit.",
        "needs": {"press": False},
    } | changes


def mail_to(city, address: str) -> list:
    return [m for m in city.sink.messages() if address in m["X-Mailsink-Envelope-To"]]


async def submit(city, **kwargs) -> dict:
    response = await city.visits.post("/api/v1/requests", json=request_body(**kwargs))
    assert response.status_code == 201, response.text
    return response.json()


async def accept(city, submitted: dict, visit_date: date) -> None:
    response = await city.visits.post(
        f"/api/v1/requests/{submitted['reference']}/decision",
        json={"decision": "accept", "visit_date": visit_date.isoformat(), "host": "Head of unit"},
        headers=city.auth("division_officer", submitted["division"]),
    )
    assert response.status_code == 200, response.text


async def test_an_accepted_request_mails_the_delegation_in_its_language_and_the_division_once(city):
    email = f"{unique('sv')}@example.org"
    submitted = await submit(city, language="sv", focus="culture", rank="minister", email=email)
    assert submitted["division"] == "culture-and-leisure" and submitted["status"] == "routed"
    visit_date = next_monday(20) + timedelta(days=1)
    await accept(city, submitted, visit_date)
    reference = submitted["reference"]

    delegation_mail = await eventually(lambda: mails(city, email, at_least=2), timeout=30)
    division_mail = await eventually(
        lambda: mails(city, "culture-and-leisure@visitdesk.invalid", reference, at_least=2), timeout=30
    )
    await asyncio.sleep(1)  # room for a wrongful second e-mail to arrive
    assert len(mail_to(city, email)) == 2  # the receipt and the acceptance, nothing twice
    assert "bekräftat" in delegation_mail[-1]["Subject"]  # Swedish, as the delegation asked
    assert "Helsingfors" in delegation_mail[-1].get_body(("plain",)).get_content()
    assert all(reference in m["Subject"] for m in delegation_mail)
    assert len(division_mail) == 2  # the new request, then the acceptance

    plan = await eventually(
        lambda: _get_ok(city.clients["protocol"], f"/api/v1/plans/{reference}", city.auth("protocol_officer")),
        timeout=30,
    )
    assert plan["level"] == 2 and plan["host"] == "Deputy Mayor"
    week = f"{visit_date.isocalendar().year}-W{visit_date.isocalendar().week:02d}"
    capacity = await eventually(
        lambda: _get_ok(city.clients["capacity"], f"/api/v1/capacity/culture-and-leisure/{week}", city.auth("admin"))
    )
    assert reference in [r["reference"] for r in capacity["requests"]]
    deliveries = await _get_ok(
        city.clients["notifications"], f"/api/v1/deliveries?reference={reference}", city.auth("communications")
    )
    assert deliveries  # the delivery log shows what was sent


async def mails(city, address: str, reference: str = "", *, at_least: int) -> list | None:
    found = [m for m in mail_to(city, address) if reference in m["Subject"]]
    return found if len(found) >= at_least else None


async def _get_ok(client, url, headers):
    response = await client.get(url, headers=headers)
    return response.json() if response.status_code == 200 else None
