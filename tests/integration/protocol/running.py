"""A running protocol service on real Kafka and PostgreSQL, and real visits.v1 envelopes to feed it."""

import itertools
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import httpx
from aiokafka import AIOKafkaProducer

from services.protocol.config import Settings
from shared.events import Envelope
from tests import builders
from tests.builders import one_day
from tests.support import bearer, envelopes, eventually, read_topic, unique

_days = itertools.count()


def fresh_day() -> date:
    """A day no other test in the module books, so conflicts stay the test's own."""
    return date(2031, 1, 1) + timedelta(days=next(_days))


def visit_envelope(
    type_: str,
    *,
    request_id: str,
    reference: str,
    visit_date: date | None,
    highest_rank: str = "expert",
    division: str = "education",
    interpreter_language: str | None = None,
    press: bool = False,
    **extra,
) -> Envelope:
    """A visits.v1 envelope about a delegation with these needs, as services/visits publishes it."""
    about = {
        "request_id": request_id,
        "reference": reference,
        "division": division,
        "highest_rank": highest_rank,
        "organisation": "Ministry of Education of Examplia",
        "delegation_size": 6,
        "preferred_dates": one_day(visit_date or date(2031, 1, 1)),
        "visit_date": visit_date,
        "host": "Head of international relations",
        "needs": {"interpreter_language": interpreter_language, "press": press, "accessibility": None},
    }
    return builders.visit_envelope(type_, **about | extra)


@dataclass
class Visit:
    request_id: str
    reference: str


@dataclass
class ProtocolService:
    settings: Settings
    client: httpx.AsyncClient
    producer: AIOKafkaProducer

    def auth(self, role: str = "protocol_officer", division: str | None = None) -> dict:
        return bearer(self.settings, role, division, sub=f"{role}-1")

    async def send(self, envelope: Envelope) -> None:
        await self.producer.send_and_wait(
            self.settings.topic("visits.v1"), value=envelope.model_dump_json().encode(), key=envelope.subject.encode()
        )

    async def accept(self, *, visit_date: date, visit: Visit | None = None, **fields) -> Visit:
        """Publish visit.accepted.v1 and wait until its plan exists (with that date)."""
        visit = visit or Visit(str(uuid.uuid4()), unique("HEL-"))
        await self.send(
            visit_envelope(
                "visit.accepted.v1",
                request_id=visit.request_id,
                reference=visit.reference,
                visit_date=visit_date,
                **fields,
            )
        )
        await self.plan_when(visit, lambda plan: plan["visit_date"] == str(visit_date))
        return visit

    async def plan(self, visit: Visit) -> dict:
        response = await self.client.get(f"/api/v1/plans/{visit.reference}", headers=self.auth())
        assert response.status_code == 200, response.text
        return response.json()

    async def plan_when(self, visit: Visit, condition) -> dict:
        """The plan once `condition(plan)` holds."""

        async def check():
            response = await self.client.get(f"/api/v1/plans/{visit.reference}", headers=self.auth())
            return response.status_code == 200 and condition(response.json()) and response.json()

        return await eventually(check)

    async def set_item(self, visit: Visit, key: str, state: str, role: str = "protocol_officer", **body):
        return await self.client.patch(
            f"/api/v1/plans/{visit.reference}/items/{key}", json={"state": state, **body}, headers=self.auth(role)
        )

    async def published(self, visit: Visit, *, count: int, timeout: float = 20.0) -> list[dict]:
        """The first `count` protocol.v1 envelopes about one visit, in order."""
        records = await read_topic(
            self.settings.kafka_bootstrap,
            self.settings.topic("protocol.v1"),
            count=count,
            key=visit.request_id,
            timeout=timeout,
        )
        return envelopes(records)
