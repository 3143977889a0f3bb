"""What one service process runs beside its API: producer, outbox relay, consumer loop."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.protocol.metadata import MetadataRequest
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from shared.consumer import ConsumerDeaf, ConsumerLoop, Handler
from shared.kafka import ensure_topics, make_consumer, make_producer, start_until_connected
from shared.outbox import OutboxRelay
from shared.settings import ServiceSettings

log = structlog.get_logger()
TOPICS = ["visits.v1", "capacity.v1", "protocol.v1", "notifications.v1"]


@dataclass
class Runtime:
    """Started in a service's lifespan; Kafka may be away at start and arrive later."""

    service: str
    settings: ServiceSettings
    engine: AsyncEngine
    outbox: Table
    processed: Table | None = None
    consumes: list[str] = field(default_factory=list)
    handlers: dict[str, Handler] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.producer = make_producer(self.settings.kafka_bootstrap)
        self.relay = OutboxRelay(
            engine=self.engine,
            outbox=self.outbox,
            producer=self.producer,
            service=self.service,
            poll_seconds=self.settings.relay_poll_seconds,
        )
        self.loop: ConsumerLoop | None = None
        self.tasks: list[asyncio.Task] = []
        self.draining: list[asyncio.Task] = []
        self.before_stop: list[Callable[[], Awaitable[None]]] = []  # work in hand that writes to the outbox
        self.relay_task: asyncio.Task | None = None
        self.kafka_started = asyncio.Event()
        self.stopping = asyncio.Event()
        self.consumer: AIOKafkaConsumer | None = None
        self.consumer_task: asyncio.Task | None = None

    async def start(self) -> None:
        self.tasks.append(asyncio.create_task(self._run(), name=f"{self.service}-runtime"))

    async def _run(self) -> None:
        await start_until_connected(self.producer, "producer")
        if self.settings.environment == "development":  # production topics come from the deploy job
            await self._ensure_topics()
        self.kafka_started.set()
        self.relay_task = asyncio.create_task(self.relay.run(), name=f"{self.service}-relay")
        if self.consumes:
            self.consumer_task = asyncio.create_task(self._consume(), name=f"{self.service}-consumer")

    async def _consume(self) -> None:
        """The consumer loop for the process's life; a consumer that can no longer fetch is replaced by a new one
        in the same group (offsets are committed only after each transaction, so it carries on where it was)."""
        topics = [self.settings.topic(t) for t in self.consumes]
        while True:
            self.consumer = make_consumer(self.settings.kafka_bootstrap, self.settings.topic(self.service), topics)
            await start_until_connected(self.consumer, "consumer")
            self.loop = ConsumerLoop(
                service=self.service,
                consumer=self.consumer,
                producer=self.producer,
                sessions=self.sessions,
                processed=self.processed,
                handlers=self.handlers,
                max_attempts=self.settings.consumer_max_attempts,
                backoff_seconds=self.settings.consumer_backoff_seconds,
                concurrency=self.settings.consumer_concurrency if self.engine.dialect.name == "postgresql" else 1,
                events_per_transaction=self.settings.consumer_events_per_transaction,
            )
            self.loop.stopping = self.stopping.is_set()
            try:
                await self.loop.run()
                return
            except ConsumerDeaf:
                await self.consumer.stop()
                log.warning("consumer.replaced", service=self.service)

    async def _ensure_topics(self) -> None:
        while True:
            try:
                await ensure_topics(self.settings.kafka_bootstrap, [self.settings.topic(t) for t in TOPICS])
                return
            except Exception as exc:
                log.warning("kafka.topics_failed", service=self.service, error=repr(exc))
                await asyncio.sleep(1)

    def run_task(self, coro, name: str | None = None, *, drains: bool = False) -> None:
        """Run a service's own background job for the process's life.

        A job that `drains` watches `stopping` and is given the grace period to finish its batch;
        any other job is cancelled at once on stop.
        """
        task = asyncio.create_task(coro, name=name)
        (self.draining if drains else self.tasks).append(task)

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Stop taking work, let the batches in hand finish and commit, publish what they wrote, flush."""
        for finish in self.before_stop:  # while the relay still runs, so what they commit is published
            try:
                await asyncio.wait_for(finish(), grace_seconds)
            except Exception as exc:  # TimeoutError included: stopping goes on
                log.warning("runtime.before_stop_failed", service=self.service, error=repr(exc))
        self.stopping.set()
        if self.loop is not None:
            self.loop.stopping = True
        for task in self.tasks:
            task.cancel()
        drainers = [t for t in (self.consumer_task, *self.draining) if t is not None]
        if drainers:
            await asyncio.wait(drainers, timeout=grace_seconds)
        self.relay.stop()
        if self.relay_task is not None:
            await asyncio.wait([self.relay_task], timeout=grace_seconds)
        remaining = [*self.tasks, *drainers, *([self.relay_task] if self.relay_task else [])]
        for task in remaining:
            task.cancel()
        await asyncio.gather(*remaining, return_exceptions=True)
        if self.consumer is not None:
            await self.consumer.stop()
        await self.producer.stop()

    async def readiness(self) -> dict[str, bool]:
        """Database and Kafka reachable now."""
        return {"database": await self._database_ok(), "kafka": await self._kafka_ok()}

    async def _database_ok(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await asyncio.wait_for(conn.execute(text("SELECT 1")), 2)
            return True
        except Exception:
            return False

    async def _kafka_ok(self) -> bool:
        if not self.kafka_started.is_set():
            return False
        # One topic of our own, not the whole cluster (a broker with thousands of topics answers slowly); ready
        # when it exists, since the relay publishes there. Asking must not create it.
        client = self.producer.client
        own_topic = self.settings.topic(f"{self.service}.v1")
        try:
            node = client.get_random_node()
            if node is None:
                return False
            response = await asyncio.wait_for(
                client.send(node, MetadataRequest([own_topic], allow_auto_topic_creation=False)), 2
            )
        except Exception:
            return False
        return any(topic[1] == own_topic and topic[0] == 0 for topic in response.topics)  # (error_code, name, ...)
