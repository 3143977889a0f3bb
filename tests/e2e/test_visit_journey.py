"""One request across the city: form → routed → accepted → plan, reservation and e-mails."""

import asyncio
from datetime import timedelta

from tests.e2e.city import accept, mail_to, mails, next_monday, submit
from tests.support import eventually, unique


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


async def _get_ok(client, url, headers):
    response = await client.get(url, headers=headers)
    return response.json() if response.status_code == 200 else None
