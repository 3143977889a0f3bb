"""A running notifications service, its delivery log, and the visit events it is fed."""

import asyncio
import uuid
from contextlib import asynccontextmanager

from services.notifications.main import create_app
from tests import builders
from tests.support import bearer, eventually, serve


@asynccontextmanager
async def running(settings):
    """The notifications service with its consumer, relay and dispatcher, once Kafka is connected."""
    app = create_app(settings)
    async with serve(app) as client:
        await asyncio.wait_for(app.state.runtime.kafka_started.wait(), 30)
        yield app, client


async def log_of(client, settings, reference: str) -> list[dict]:
    response = await client.get(
        "/api/v1/deliveries", params={"reference": reference}, headers=bearer(settings, "communications")
    )
    assert response.status_code == 200, response.text
    return response.json()


async def settled(client, settings, reference: str, count: int) -> list[dict]:
    """The delivery log of `reference` once `count` deliveries exist and none is pending."""

    async def check():
        rows = await log_of(client, settings, reference)
        return rows if len(rows) == count and all(r["status"] != "pending" for r in rows) else None

    return await eventually(check)


def visit_envelope(event_type: str, request_id: str | None = None, **changes) -> dict:
    """A visits.v1 envelope as JSON, as the visits service publishes it to a Swedish delegation."""
    changes = {
        "reference": f"HEL-2027-{uuid.uuid4().int % 10000:04d}",
        "preferred_dates": [{"start": "2027-03-01", "end": "2027-03-05"}],
        "visit_date": "2027-03-03",
        "host": "Rehtori",
    } | changes
    if request_id:
        changes["request_id"] = request_id
    if event_type == "visit.submitted.v1":  # as in visits: only the submission carries the private link
        changes.setdefault("tracking_url", f"https://visitdesk.example/track/{changes['reference']}?token=s3cret")
    return builders.visit_envelope(event_type, **changes).model_dump(mode="json")
