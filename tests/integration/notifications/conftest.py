"""Notifications against real infrastructure: Kafka, PostgreSQL, an SMTP server and an HTTP receiver."""

import json

import pytest
from aiokafka import AIOKafkaProducer

from services.notifications.config import Settings
from tests.integration.notifications.running import visit_envelope
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
