"""Kafka clients with the guarantees the design asks for, and topic set-up."""

import asyncio

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = structlog.get_logger()


def make_producer(bootstrap: str) -> AIOKafkaProducer:
    """aiokafka defaults to acks=1 without idempotence; the outbox needs both."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=2,
        request_timeout_ms=15000,
        retry_backoff_ms=200,
    )


def make_consumer(bootstrap: str, group_id: str, topics: list[str]) -> AIOKafkaConsumer:
    """Offsets are committed by the loop after its transaction, never automatically."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=200,
        session_timeout_ms=10000,
        heartbeat_interval_ms=1000,
        retry_backoff_ms=200,
    )


async def start_until_connected(client: AIOKafkaProducer | AIOKafkaConsumer, what: str) -> None:
    """Keep trying to reach the broker; an absent broker delays work, it does not crash the service."""
    delay = 0.2
    while True:
        try:
            await client.start()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("kafka.unreachable", client=what, error=repr(exc), retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def ensure_topics(bootstrap: str, topics: list[str], partitions: int = 3, replication: int = 1) -> None:
    """Create missing topics (each with its `.dlq`); existing ones are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = {name for topic in topics for name in (topic, f"{topic}.dlq")} - existing
        if wanted:
            try:
                await admin.create_topics([NewTopic(n, partitions, replication) for n in sorted(wanted)])
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()
