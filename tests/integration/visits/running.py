"""A running visits service on real PostgreSQL and Kafka, and what its tests keep needing.

Tests that need other settings than the shared service's (a low rate limit, a fast escalation job) start
their own with `start_visits`.
"""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy import func, select

from services.visits.config import Settings
from services.visits.domain import HELSINKI
from services.visits.main import create_app
from services.visits.schemas import helsinki_today
from shared.events import Envelope
from tests.builders import form_fields, future, request_body
from tests.support import bearer, eventually, read_topic, serve, unique


def just_after_midnight_yesterday() -> datetime:
    """00:30 yesterday in Helsinki, as a UTC instant: the day before yesterday in UTC's calendar."""
    return datetime.combine(helsinki_today() - timedelta(days=1), time(0, 30), tzinfo=HELSINKI).astimezone(UTC)


def form_data(csrf: str, lang: str, **changes) -> dict:
    """The public form filled in `lang` by a university's contact, as a browser posts it."""
    body = request_body(
        organisation="Tartu Ülikool",
        contact={"name": "Jaan Tamm", "email": "jaan@example.org", "phone": None},
        language=lang,
        focus_areas=["culture", "design"],
        delegation_size=8,
        highest_rank="senior_official",
        members=[{"name": "Jaan Tamm", "title": "Rector", "role": "leader"}],
        preferred_dates=[{"start": future(60), "end": future(61)}],
        purpose="Museums and libraries.",
        needs={"press": True},
    )
    return form_fields(body, csrf_token=csrf, lang=lang, **changes)


async def someone_waits_for_a_lock(holder: asyncpg.Connection) -> bool:
    """A session of the holder's database waits for a lock (the one the holder's transaction took)."""
    return (
        await holder.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        >= 1
    )


def token_of(submitted: dict) -> str:
    return submitted["tracking_url"].split("token=", 1)[1]


@dataclass
class Visits:
    """A served visits app with the helpers its tests keep needing."""

    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings

    def officer(self, division: str, sub: str | None = None) -> dict:
        return bearer(self.settings, "division_officer", division, sub=sub or f"officer-{division}")

    def staff(self, role: str = "admin") -> dict:
        return bearer(self.settings, role, sub=f"{role}-1")

    async def submit(self, **changes) -> dict:
        response = await self.client.post("/api/v1/requests", json=request_body(**changes))
        assert response.status_code == 201, response.text
        return response.json()

    async def view(self, reference: str) -> dict:
        response = await self.client.get(f"/api/v1/requests/{reference}", headers=self.staff())
        assert response.status_code == 200, response.text
        return response.json()

    async def decide(self, reference: str, division: str, **decision) -> httpx.Response:
        return await self.client.post(
            f"/api/v1/requests/{reference}/decision", json=decision, headers=self.officer(division)
        )

    async def count(self, model, *conditions) -> int:
        async with self.app.state.sessions() as session:
            return await session.scalar(select(func.count()).select_from(model).where(*conditions))

    async def rows(self, model, *conditions) -> list:
        async with self.app.state.sessions() as session:
            return list(await session.scalars(select(model).where(*conditions)))

    async def events(self, request_id: str, count: int) -> list:
        """The first `count` records keyed by `request_id` on visits.v1, in order."""
        records = await read_topic(
            self.settings.kafka_bootstrap, self.settings.topic("visits.v1"), count=count, key=request_id
        )
        assert len(records) >= count, [r.value for r in records]
        return records

    async def publish_capacity(
        self, type_: str, division: str, iso_week: str, *, reserved: int | None = None, limit: int | None = 6
    ) -> None:
        """Put a real capacity.v1 envelope on this app's topic, as the capacity service would: a full week has
        `limit` reserved, a reopened one a place less unless told otherwise."""
        key = f"{division}:{iso_week}"
        if reserved is None:
            reserved = 6 if type_ == "capacity.week_full.v1" else 5
        envelope = Envelope(
            type=type_,
            source="capacity",
            subject=key,
            data={"division": division, "iso_week": iso_week, "reserved": reserved, "limit": limit},
        )
        producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(
                self.settings.topic("capacity.v1"), envelope.model_dump_json().encode(), key=key.encode()
            )
        finally:
            await producer.stop()

    async def form_csrf(self, lang: str) -> str:
        page = await self.client.get("/apply", params={"lang": lang})
        assert page.status_code == 200
        return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


@asynccontextmanager
async def start_visits(database_url: str, kafka_bootstrap: str, **settings) -> AsyncIterator[Visits]:
    config = Settings(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=unique() + ".",
        relay_poll_seconds=0.2,
        **settings,
    )
    app = create_app(config)
    async with serve(app) as client:
        await eventually(lambda: _kafka_ready(app), timeout=30)
        yield Visits(app=app, client=client, settings=config)


async def _kafka_ready(app: FastAPI) -> bool:
    runtime = app.state.runtime
    return runtime.loop is not None and bool(runtime.loop.consumer.assignment())


def week_dates(iso_week: str, first: int = 1, last: int = 3) -> dict:
    """A preferred range inside `iso_week` (Tuesday to Thursday by default)."""
    monday = date.fromisocalendar(int(iso_week[:4]), int(iso_week[6:]), 1)
    return {"start": (monday + timedelta(days=first)).isoformat(), "end": (monday + timedelta(days=last)).isoformat()}
