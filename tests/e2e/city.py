"""The whole city as the e2e tests drive it: four services' clients, the mail they sent, and a delegation's
journey through them (submit, accept, read the mail)."""

from dataclasses import dataclass
from datetime import date, timedelta

import httpx
from fastapi import FastAPI

from shared.settings import ServiceSettings
from tests import builders
from tests.builders import next_monday
from tests.support import bearer, unique
from visitdesk.mailsink import MailSink


@dataclass
class City:
    apps: dict[str, FastAPI]
    clients: dict[str, httpx.AsyncClient]
    settings: dict[str, ServiceSettings]
    sink: MailSink
    prefix: str

    @property
    def visits(self) -> httpx.AsyncClient:
        return self.clients["visits"]

    def auth(self, role: str, division: str | None = None) -> dict:
        return bearer(self.settings["visits"], role, division)

    def topic(self, name: str) -> str:
        return f"{self.prefix}{name}"


def request_body(*, language="en", focus="education", rank="expert", week_start=None, email=None, **changes) -> dict:
    """A Swedish organisation's request for a week `week_start` (20 weeks ahead unless told), one focus area."""
    start = week_start or next_monday(20)
    journey = {
        "country": "SE",
        "contact": {"name": "Sven Svensson", "email": email or f"{unique('c')}@example.org"},
        "language": language,
        "focus_areas": [focus],
        "delegation_size": 8,
        "highest_rank": rank,
        "preferred_dates": [{"start": start.isoformat(), "end": (start + timedelta(days=4)).isoformat()}],
        "purpose": "Study visit.",
        "members": [],
        "needs": {"press": False},
    }
    return builders.request_body(**journey | changes)


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


async def mails(city, address: str, reference: str = "", *, at_least: int) -> list | None:
    found = [m for m in mail_to(city, address) if reference in m["Subject"]]
    return found if len(found) >= at_least else None
