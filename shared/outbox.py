"""Transactional outbox: events are rows written with the change, then published by a relay."""

import asyncio
import zlib
from datetime import UTC, datetime
from functools import cache

import structlog
from aiokafka import AIOKafkaProducer
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    func,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared import metrics
from shared.events import Envelope, Event, new_traceparent
from shared.tracing import traceparent_now
from shared.wakeups import WakeChannel, sleep_until

log = structlog.get_logger()
NOTIFY_CHANNEL = "visitdesk_outbox"
STAGED = WakeChannel()  # this process's relays, woken by the commit that staged events


def outbox_table(metadata: MetaData) -> Table:
    """The outbox of one service; `seq` orders publication, `sent_at` marks it done."""
    return Table(
        "outbox",
        metadata,
        Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("type", String(100), nullable=False),
        Column("payload", Text, nullable=False),
        Column("traceparent", String(55), nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("sent_at", DateTime(timezone=True), nullable=True),
        Index(
            "ix_outbox_unsent", "seq", postgresql_where=text("sent_at IS NULL"), sqlite_where=text("sent_at IS NULL")
        ),
    )


# Built once: a statement built per call costs more CPU than running it.
WAKE_RELAYS = select(func.pg_notify(bindparam("channel"), bindparam("topic")))


async def add_event(
    session: AsyncSession, outbox: Table, event_: Event, *, source: str, key: str, topic: str
) -> Envelope:
    """Stage `event_` in the caller's transaction; it is published only if that commits."""
    envelope = Envelope.wrap(event_, source=source, subject=key)
    await stage_rows(session, outbox, [outbox_row(envelope, topic=topic)])
    return envelope


def outbox_row(envelope: Envelope, *, topic: str) -> dict:
    """The envelope's outbox row, keyed by its subject, for `stage_rows` (several events in one statement)."""
    return {
        "event_id": envelope.id,
        "topic": topic,
        "key": envelope.subject,
        "type": envelope.type,
        "payload": envelope.model_dump_json(),
        "traceparent": traceparent_now(),
    }


async def stage_rows(session: AsyncSession, outbox: Table, rows: list[dict]) -> None:
    """Insert outbox rows (published in this order) in the caller's transaction and wake the relays on commit."""
    await session.execute(_insert(outbox), rows)
    if STAGED.wake_on_commit(session) and session.bind.dialect.name == "postgresql":
        # One NOTIFY per transaction wakes other processes' relays; this process's wake on the commit itself.
        await session.execute(WAKE_RELAYS, {"channel": NOTIFY_CHANNEL, "topic": rows[-1]["topic"]})


@cache
def _insert(outbox: Table):
    return outbox.insert().inline()  # the new row's seq is not needed back


class OutboxRelay:
    """Publishes unsent rows in `seq` order; one publisher per database at a time."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        outbox: Table,
        producer: AIOKafkaProducer,
        service: str,
        poll_seconds: float = 1.0,
        batch_size: int = 200,
    ):
        self.engine, self.outbox, self.producer, self.service = engine, outbox, producer, service
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.poll_seconds, self.batch_size = poll_seconds, batch_size
        self.wakeup = asyncio.Event()
        self.healthy = False
        self.stopping = False
        # Built once: the relay runs them for every batch, on the way from a commit to Kafka.
        self._lead = select(func.pg_try_advisory_xact_lock(0x76697369, zlib.crc32(service.encode()) & 0x7FFFFFFF))
        self._unsent = (
            select(outbox)
            .where(outbox.c.sent_at.is_(None))
            .order_by(outbox.c.seq)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
        self._mark_sent = (
            update(outbox)
            .where(outbox.c.seq.in_(bindparam("seqs", expanding=True)))
            .values(sent_at=bindparam("sent_at"))
        )

    def stop(self) -> None:
        """Publish what is committed by now, then return from `run`."""
        self.stopping = True
        self.wakeup.set()

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen()) if self.engine.dialect.name == "postgresql" else None
        backoff = 0.1
        try:
            with STAGED.subscribed(self.wakeup):
                while True:
                    self.wakeup.clear()
                    try:
                        published = await self.publish_batch()
                        self.healthy, backoff = True, 0.1
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:  # broker or database away: rows stay unsent, retry later
                        self.healthy = False
                        log.warning("outbox.publish_failed", service=self.service, error=repr(exc), retry_in=backoff)
                        if self.stopping:
                            return
                        await asyncio.sleep(backoff)
                        backoff = min(backoff * 2, 5.0)
                        continue
                    if published < self.batch_size:
                        if self.stopping:
                            return
                        await sleep_until(self.wakeup, timeout=self.poll_seconds)
        finally:
            if listener:
                listener.cancel()

    async def publish_batch(self) -> int:
        """Publish one batch of unsent rows and mark them sent; returns how many."""
        async with self.sessions() as session, session.begin():
            if not await self._take_lead(session):
                return 0
            rows = (await session.execute(self._unsent)).all()
            await self._record_backlog(session, rows)
            if not rows:
                return 0
            futures = [
                await self.producer.send(
                    row.topic,
                    value=row.payload.encode(),
                    key=row.key.encode(),
                    headers=[
                        ("traceparent", (row.traceparent or new_traceparent()).encode()),
                        ("content-type", b"application/cloudevents+json"),
                    ],
                )
                for row in rows
            ]
            await asyncio.gather(*futures)
            await session.execute(self._mark_sent, {"seqs": [r.seq for r in rows], "sent_at": datetime.now(UTC)})
        metrics.OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        return len(rows)

    async def _take_lead(self, session: AsyncSession) -> bool:
        # Replicas share the table; one publisher at a time keeps each key's events in order.
        if session.bind.dialect.name != "postgresql":
            return True
        return bool(await session.scalar(self._lead))

    async def _record_backlog(self, session: AsyncSession, rows: list) -> None:
        """Backlog gauges; counted in the database only when a full batch says more is waiting."""
        if len(rows) < self.batch_size:  # this batch is all that was unsent
            count, oldest = len(rows), rows[0].created_at if rows else None
        else:
            unsent = self.outbox.c.sent_at.is_(None)
            count, oldest = (
                await session.execute(select(func.count(), func.min(self.outbox.c.created_at)).where(unsent))
            ).one()
        metrics.OUTBOX_BACKLOG.labels(self.service).set(count)
        age = 0.0
        if oldest is not None:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            age = max((datetime.now(UTC) - oldest).total_seconds(), 0.0)
        metrics.OUTBOX_OLDEST_AGE.labels(self.service).set(age)

    async def _listen(self) -> None:
        """Wake on NOTIFY from other processes (replicas, CLI jobs) writing to the same outbox."""
        while True:
            try:
                async with self.engine.connect() as conn:
                    raw = (await conn.get_raw_connection()).driver_connection
                    await raw.add_listener(NOTIFY_CHANNEL, lambda *_: self.wakeup.set())
                    while not raw.is_closed():
                        await asyncio.sleep(5)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox.listen_failed", service=self.service, error=repr(exc))
                await asyncio.sleep(2)
