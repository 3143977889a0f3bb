"""The consumer loop: idempotent, retried, dead-lettered, never stuck; a fetched run of events shares a transaction."""

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import cache

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from pydantic import ValidationError
from sqlalchemy import Column, DateTime, MetaData, String, Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import metrics
from shared.db import database_unavailable, insert_of
from shared.events import Envelope
from shared.tracing import handling_span

log = structlog.get_logger()
Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]


class PermanentError(Exception):
    """A handler's verdict that retrying cannot help: the event goes to the DLQ at once."""


def processed_events_table(metadata: MetaData) -> Table:
    return Table(
        "processed_events",
        metadata,
        Column("event_id", String(36), primary_key=True),
        Column("topic", String(200), nullable=False),
        Column("handled_at", DateTime(timezone=True), nullable=False),
    )


def _traceparent(record: ConsumerRecord) -> str | None:
    return dict(record.headers or ()).get("traceparent", b"").decode() or None


def _describe(exc: Exception) -> str:
    """Where and why validation failed, without echoing the input (it can hold personal data)."""
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False))
    return repr(exc)


class ConsumerDeaf(Exception):
    """The consumer's fetching has stopped for good; a fresh consumer must take over."""


class ConsumerLoop:
    """Handles `handlers[event.type]` for each message; offsets commit after the handler's transaction."""

    def __init__(
        self,
        *,
        service: str,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
        processed: Table,
        handlers: dict[str, Handler],
        max_attempts: int = 5,
        backoff_seconds: float = 0.2,
        concurrency: int = 1,
        events_per_transaction: int = 1,
    ):
        self.service, self.consumer, self.producer = service, consumer, producer
        self.concurrency = asyncio.Semaphore(concurrency)
        self.events_per_transaction = events_per_transaction  # consecutive records of one partition
        self.sessions, self.processed, self.handlers = sessions, processed, handlers
        self.max_attempts, self.backoff_seconds = max_attempts, backoff_seconds
        self.healthy = False
        self.stopping = False
        self.handled_count = 0

    async def run(self) -> None:
        """Poll and handle until `stopping`; the batch in hand is finished and committed first.

        Raises `ConsumerDeaf` when the consumer can no longer fetch: its owner replaces it.
        """
        while not self.stopping:
            if self.fetcher_died():
                self.healthy = False
                log.error("consumer.fetcher_died", service=self.service)
                raise ConsumerDeaf(self.service)
            try:
                batches = await self.consumer.getmany(timeout_ms=500, max_records=200)
                self.healthy = True
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.healthy = False
                log.warning("consumer.poll_failed", service=self.service, error=repr(exc))
                await asyncio.sleep(1)
                continue
            # Partitions side by side (a key's events share one partition, so each request keeps its order).
            handled = await asyncio.gather(*(self._handle_partition(records) for records in batches.values()))
            done = {tp: last.offset + 1 for tp, last in zip(batches, handled, strict=True) if last is not None}
            if done:
                await self._commit(done)

    def fetcher_died(self) -> bool:
        """aiokafka's background fetch task has ended while the consumer runs: nothing will arrive any more.

        It happens after a broker restart under uvloop (a write to a closed connection raises RuntimeError, which
        the fetch routine does not expect: aio-libs/aiokafka#1038), and `getmany` then returns nothing forever
        without an error. aiokafka offers no public way to see it, hence its private attribute.
        """
        task = getattr(getattr(self.consumer, "_fetcher", None), "_fetch_task", None)
        return task is not None and task.done()

    async def _handle_partition(self, records: list[ConsumerRecord]) -> ConsumerRecord | None:
        """One partition's records in order, a run of them per transaction; returns the last one handled."""
        last = None
        for start in range(0, len(records), self.events_per_transaction):
            run = records[start : start + self.events_per_transaction]
            async with self.concurrency:
                if len(run) > 1 and not self.stopping and await self._handle_together(run):
                    last = run[-1]
                    continue
                for record in run:  # one at a time: retries, dead letters, a failure costs only itself
                    if self.stopping:
                        return last
                    await self.handle(record)
                    last = record
        return last

    async def _handle_together(self, records: list[ConsumerRecord]) -> bool:
        """All of `records` in one transaction, in order; False, with nothing kept, if any of them fails.

        Under load this saves a transaction per event; the caller then handles them one at a time, where an
        undecodable or failing event is retried or dead-lettered on its own.
        """
        try:
            envelopes = [Envelope.model_validate_json(record.value) for record in records]
        except (ValidationError, ValueError, TypeError):
            return False
        handled = []
        try:
            async with self.sessions() as session, session.begin():
                known = [(r, e) for r, e in zip(records, envelopes, strict=True) if e.type in self.handlers]
                first = await self._claim_run(session, known)
                for record, envelope in known:
                    if envelope.id not in first:  # handled before (or twice in this run)
                        continue
                    first.discard(envelope.id)
                    with handling_span(record.topic, envelope.type, envelope.id, _traceparent(record)):
                        await self.handlers[envelope.type](session, envelope)
                    handled.append((record, envelope))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.info(
                "consumer.run_failed",
                service=self.service,
                records=len(records),
                error=_describe(exc),
                then="one at a time",
            )
            return False
        for record, envelope in handled:
            self._handled(record, envelope)
        return True

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        try:
            await self.consumer.commit(offsets)
        except Exception as exc:  # redelivery is harmless: handled events are recorded
            log.warning("consumer.commit_failed", service=self.service, error=repr(exc))
            return
        for tp, offset in offsets.items():
            highwater = self.consumer.highwater(tp)
            if highwater is not None:
                metrics.CONSUMER_LAG.labels(self.service, tp.topic, tp.partition).set(max(highwater - offset, 0))

    async def handle(self, record: ConsumerRecord) -> None:
        """Decode, then handle with retries; undecodable or hopeless events go to the DLQ."""
        try:
            envelope = Envelope.model_validate_json(record.value)
        except (ValidationError, ValueError, TypeError) as exc:
            await self._dead_letter(record, f"undecodable: {_describe(exc)}")
            return
        handler = self.handlers.get(envelope.type)
        if handler is None:
            return
        with handling_span(record.topic, envelope.type, envelope.id, _traceparent(record)):
            await self._handle_with_retries(record, envelope, handler)

    def _handled(self, record: ConsumerRecord, envelope: Envelope) -> None:
        log.info("event.handled", service=self.service, type=envelope.type, event_id=envelope.id)
        metrics.EVENTS_HANDLED.labels(self.service, record.topic, envelope.type).inc()
        self.handled_count += 1

    async def _handle_with_retries(self, record: ConsumerRecord, envelope: Envelope, handler: Handler) -> None:
        attempt = 0
        while True:
            try:
                if await self._handle_once(record, envelope, handler):
                    self._handled(record, envelope)
                return
            except asyncio.CancelledError:
                raise
            except (PermanentError, ValidationError) as exc:
                await self._dead_letter(record, f"rejected: {_describe(exc)}")
                return
            except Exception as exc:
                metrics.EVENTS_FAILED.labels(self.service, record.topic).inc()
                transient = database_unavailable(exc)  # waited out, never dead-lettered
                attempt += 0 if transient else 1
                log.warning(
                    "event.failed",
                    service=self.service,
                    type=envelope.type,
                    event_id=envelope.id,
                    attempt=attempt,
                    transient=transient,
                    error=repr(exc),
                )
                if attempt >= self.max_attempts:
                    await self._dead_letter(record, f"failed {attempt} times: {exc!r}")
                    return
                await asyncio.sleep(self._backoff(attempt if not transient else 4))

    async def _handle_once(self, record: ConsumerRecord, envelope: Envelope, handler: Handler) -> bool:
        """One transaction: record the event id, then run the handler. False if it was handled before.

        The id goes in first, skipping a conflict: a replica handling the same event concurrently makes this
        insert wait for its commit (then it is a duplicate) or its rollback (then it is ours).
        """
        async with self.sessions() as session, session.begin():
            if not await self._claim_run(session, [(record, envelope)]):
                return False
            await handler(session, envelope)
            return True

    async def _claim_run(self, session: AsyncSession, events: list[tuple[ConsumerRecord, Envelope]]) -> set[str]:
        """Record the events' ids in one statement; returns those not recorded before.

        In id order, so that two replicas claiming overlapping runs (a rebalance) wait for each other rather
        than deadlock.
        """
        if not events:
            return set()
        now = datetime.now(UTC)
        rows = sorted(
            ({"event_id": e.id, "topic": r.topic, "handled_at": now} for r, e in events),
            key=lambda row: row["event_id"],
        )
        return set(await session.scalars(_claim(session.bind.dialect.name, self.processed), rows))

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_seconds * 2 ** (attempt - 1), 10.0) * random.uniform(0.5, 1.5)

    async def _dead_letter(self, record: ConsumerRecord, error: str) -> None:
        """Park the message with why and where it came from; retried until the DLQ takes it."""
        headers = [
            *list(record.headers or ()),
            ("dlq.error", error[:2000].encode()),
            ("dlq.origin.topic", record.topic.encode()),
            ("dlq.origin.partition", str(record.partition).encode()),
            ("dlq.origin.offset", str(record.offset).encode()),
            ("dlq.service", self.service.encode()),
        ]
        while True:
            try:
                await self.producer.send_and_wait(
                    f"{record.topic}.dlq", value=record.value, key=record.key, headers=headers
                )
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("dlq.publish_failed", service=self.service, error=repr(exc))
                await asyncio.sleep(1)
        metrics.EVENTS_DEAD_LETTERED.labels(self.service, record.topic).inc()
        log.error(
            "event.dead_lettered", service=self.service, topic=record.topic, offset=record.offset, error=error[:500]
        )


@cache
def _claim(dialect_name: str, processed: Table):
    """Record event ids not seen before and return them; built once (see `ConsumerLoop._claim_run`)."""
    return (
        insert_of(dialect_name)(processed)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(processed.c.event_id)
    )
