"""Notifications against real infrastructure: Kafka, PostgreSQL, an SMTP server and an HTTP receiver."""

import json
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer

from services.notifications.config import Settings
from tests.support import unique
from visitdesk.mailsink import mailsink


@pytest.fixture(scope="session")
def make_settings(kafka_bootstrap):
    """Settings of one test: its own topics, the test's SMTP server, fast retries."""

    def make(database_url: str, smtp_port: int, **overrides) -> Settings:
        fast = {
            "retry_base_seconds": 0.05,
            "retry_max_seconds": 0.2,
            "max_attempts": 3,
            "dispatcher_poll_seconds": 0.05,
            "relay_poll_seconds": 0.2,
        }
        return Settings(
            database_url=database_url,
            kafka_bootstrap=kafka_bootstrap,
            topic_prefix=unique() + ".",
            smtp_port=smtp_port,
            **fast | overrides,
        )

    return make


@pytest.fixture
async def database(new_database):
    return await new_database("notifications")


@pytest.fixture
async def sink(tmp_path):
    async with mailsink(tmp_path / "mail") as running:
        yield running


@pytest.fixture(scope="session")
async def producer(kafka_bootstrap):
    client = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await client.start()
    yield client
    await client.stop()


@pytest.fixture(scope="session")
def publish(producer):
    """Put an envelope on a topic exactly as a producing service's relay would: keyed by its subject."""

    async def send(settings: Settings, topic: str, envelope: dict) -> None:
        await producer.send_and_wait(
            settings.topic(topic), value=json.dumps(envelope).encode(), key=envelope["subject"].encode()
        )

    return send


@pytest.fixture(scope="session")
def visit_event():
    return visit_envelope


def visit_envelope(event_type: str, request_id: str | None = None, **changes) -> dict:
    """A visits.v1 envelope carrying the full VisitState, as the visits service publishes it."""
    request_id = request_id or str(uuid.uuid4())
    data = {
        "request_id": request_id,
        "reference": f"HEL-2027-{uuid.uuid4().int % 10000:04d}",
        "status": event_type.split(".")[1],
        "division": "education",
        "info_divisions": [],
        "focus_areas": ["education"],
        "organisation": "Skolverket",
        "country": "SE",
        "language": "sv",
        "contact_name": "Anna Lind",
        "contact_email": "anna.lind@example.se",
        "highest_rank": "expert",
        "delegation_size": 12,
        "preferred_dates": [{"start": "2027-03-01", "end": "2027-03-05"}],
        "visit_date": "2027-03-03",
        "host": "Rehtori",
        "flags": [],
        "actor": "officer-1",
        "needs": {"interpreter_language": None, "press": False, "accessibility": None},
        "tracking_url": None,
    } | changes
    if event_type == "visit.submitted.v1":  # as in visits: only the submission carries the private link
        data["tracking_url"] = f"https://visitdesk.example/track/{data['reference']}?token=s3cret"
    return {
        "id": str(uuid.uuid4()),
        "type": event_type,
        "source": "visits",
        "subject": request_id,
        "time": datetime.now(UTC).isoformat(),
        "specversion": "1.0",
        "data": data,
    }
