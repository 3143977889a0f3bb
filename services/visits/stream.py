"""The live queue: every replica tails visits.v1 on its own and fans each change out to its SSE subscribers.

A message's SSE id is the stream position after it, one next-offset per partition ("0-15.1-22.2-7").
Offsets are the same on every replica, so a browser that reconnects to another replica with
`Last-Event-ID` still gets exactly what it missed, from the ring buffer of recent changes; when the
buffer no longer reaches back that far it gets a `reset` and reloads the snapshot.
"""

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.visits import domain
from services.visits.config import Settings
from services.visits.models import VisitRequest
from shared.kafka import start_until_connected

log = structlog.get_logger()
BUFFER_SIZE = 1000  # changes kept for resuming; at a few hundred changes a day, days of history
KEEPALIVE_SECONDS = 15.0
MAX_PENDING = 2 * BUFFER_SIZE  # a subscriber this far behind is cut off with a reset instead of growing memory
RESET = object()
_requests = VisitRequest.__table__
RECEIVED_AND_DEADLINE = select(_requests.c.id, _requests.c.created_at, _requests.c.decision_deadline).where(
    _requests.c.id.in_(bindparam("ids", expanding=True))
)  # built once: it runs for every batch of events
LEVELS = {"head_of_state": 1, "head_of_government": 1, "minister": 2, "ambassador": 2, "mayor": 2, "senior_official": 3}
WAITING, UPCOMING_DAYS = ("submitted", "routed", "redirected", "dates_proposed"), 30


class Needs(BaseModel):
    press: bool = False


class QueueChange(BaseModel):
    """The fields of a visit.* event the queue shows: a whitelist, so no contact data can reach a browser."""

    model_config = ConfigDict(extra="ignore")
    request_id: str
    reference: str
    status: str
    division: str
    focus_areas: list[str]
    country: str
    highest_rank: str
    needs: Needs = Needs()
    flags: list[str] = []
    visit_date: date | None = None
    start_time: str | None = None  # "HH:MM", Helsinki
    end_time: str | None = None
    venue: str | None = None
    from_division: str | None = None
    decision_deadline: date | None = None


def rank_level(rank: str) -> int:
    """The protocol level of DESIGN.md: 1 heads of state or government, 2 ministers, ambassadors, mayors."""
    return LEVELS.get(rank, 4)


def section(status: str, flags: list[str], visit_date: date | None, today: date) -> str | None:
    """Which table of the dashboard a request belongs in, or None when it has left the queue."""
    if status in WAITING:
        return "overdue" if "escalated" in flags else "waiting"
    if status == "waitlisted":
        return "waitlisted"
    if status == "accepted" and visit_date is not None and 0 <= (visit_date - today).days <= UPCOMING_DAYS:
        return "upcoming"
    return None


def queue_item(
    *,
    reference: str,
    status: str,
    division: str,
    focus_areas: list[str],
    country: str,
    highest_rank: str,
    press: bool,
    flags: list[str],
    visit_date: date | None,
    start_time: str | None,
    end_time: str | None,
    venue: str | None,
    decision_deadline: date | None,
    created_at: datetime | None,
    today: date,
) -> dict:
    """One row of the queue, the same in the snapshot and in the stream."""
    return {
        "reference": reference,
        "status": status,
        "division": division,
        "focus_areas": focus_areas,
        "country": country,
        "rank_level": rank_level(highest_rank),
        "press": press,
        "flags": flags,
        "visit_date": visit_date,
        "start_time": start_time,
        "end_time": end_time,
        "venue": venue,
        "decision_deadline": decision_deadline,
        "created_at": created_at,
        "section": section(status, flags, visit_date, today),
    }


@dataclass(frozen=True)
class Change:
    partition: int
    offset: int
    type: str
    division: str
    from_division: str | None
    item: dict


def format_position(position: dict[int, int]) -> str:
    return ".".join(f"{p}-{o}" for p, o in sorted(position.items()))


def parse_position(text: str | None) -> dict[int, int] | None:
    """A `Last-Event-ID` we made, or None."""
    try:
        pairs = [part.split("-") for part in (text or "").split(".")]
        return {int(p): int(o) for p, o in pairs if int(p) >= 0 and int(o) >= 0}
    except ValueError:
        return None


@dataclass(eq=False)
class Subscriber:
    """One open stream: what it may see, and where in each partition it is."""

    division: str | None  # a division officer's own division; None sees everything
    since: dict[int, int]  # the next offset per partition: where the caller is, moved on by each change offered
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    cut_off: bool = False

    def offer(self, change: Change) -> None:
        if self.cut_off or change.offset < self.since.get(change.partition, 0):
            return
        # Each message's id is the caller's own position, not this replica's: resumed here from a replica that was
        # further along, a caller must not be sent back in the partitions this one has yet to catch up on.
        self.since[change.partition] = change.offset + 1
        message = self._message(change)
        if message is None:
            return
        if self.queue.qsize() >= MAX_PENDING:
            self.cut_off = True
            message = RESET
        self.queue.put_nowait(message)

    def _message(self, change: Change) -> tuple[str, str, dict] | None:
        if self.division is None or change.division == self.division:
            event, data = "change", {"type": change.type, "item": change.item}
        elif change.from_division == self.division:  # redirected away: only say it left
            event, data = "remove", {"type": change.type, "reference": change.item["reference"]}
        else:
            return None
        return format_position(self.since), event, data


class QueueStream:
    """Tails visits.v1 outside any consumer group (each replica sees every event) and fans out."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        *,
        buffer_size: int = BUFFER_SIZE,
        keepalive_seconds: float = KEEPALIVE_SECONDS,
    ):
        self.settings, self.sessions = settings, sessions
        self.buffer: deque[Change] = deque()
        self.buffer_size, self.keepalive_seconds = buffer_size, keepalive_seconds
        self.position: dict[int, int] | None = None  # next offset per partition, once assigned
        self.floor: dict[int, int] = {}  # the oldest offset per partition the buffer can still replay
        self.subscribers: set[Subscriber] = set()

    def position_id(self) -> str | None:
        return format_position(self.position) if self.position is not None else None

    def subscribe(self, *, last_event_id: str | None, division: str | None) -> Subscriber | None:
        """A subscriber with the changes it missed already queued; None when they are gone (reset)."""
        if not last_event_id:
            since = dict(self.position or {})
        else:
            since = parse_position(last_event_id)
            if since is None or self.position is None or not self._reaches_back_to(since):
                return None
        subscriber = Subscriber(division=division, since=since)
        for change in self.buffer:
            subscriber.offer(change)
        self.subscribers.add(subscriber)
        return subscriber

    def _reaches_back_to(self, since: dict[int, int]) -> bool:
        return all(since.get(p, -1) >= floor for p, floor in self.floor.items())

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def publish(
        self, partition: int, offset: int, type_: str, change: QueueChange, created_at: datetime | None, today: date
    ) -> Change:
        """Remember a change and offer it to every subscriber."""
        self.position[partition] = offset + 1
        item = queue_item(
            reference=change.reference,
            status=change.status,
            division=change.division,
            focus_areas=change.focus_areas,
            country=change.country,
            highest_rank=change.highest_rank,
            press=change.needs.press,
            flags=change.flags,
            visit_date=change.visit_date,
            start_time=change.start_time,
            end_time=change.end_time,
            venue=change.venue,
            decision_deadline=change.decision_deadline,
            created_at=created_at,
            today=today,
        )
        entry = Change(
            partition, offset, type_, change.division, change.from_division, json.loads(json.dumps(item, default=_iso))
        )
        self.buffer.append(entry)
        while len(self.buffer) > self.buffer_size:
            gone = self.buffer.popleft()
            self.floor[gone.partition] = gone.offset + 1
        for subscriber in list(self.subscribers):
            subscriber.offer(entry)
            if subscriber.cut_off:  # its reset is queued; a stream that never started would not unsubscribe
                self.subscribers.discard(subscriber)
        return entry

    # ------------------------------------------------------------ the Kafka side

    async def run(self, kafka_started: asyncio.Event, producer: AIOKafkaProducer) -> None:
        """Tail the topic for the process's life; after a failure start again from the end."""
        await kafka_started.wait()
        while True:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.settings.kafka_bootstrap,
                group_id=None,
                enable_auto_commit=False,
                isolation_level="read_committed",
                retry_backoff_ms=200,
            )
            try:
                await start_until_connected(consumer, "queue-stream")
                await self._assign_at_end(consumer, producer)
                await self._tail(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker went away: what was missed meanwhile is a reset for browsers
                log.warning("queue_stream.failed", error=repr(exc))
                await asyncio.sleep(1)
            finally:
                await consumer.stop()

    async def _assign_at_end(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer) -> None:
        topic = self.settings.topic("visits.v1")
        # The producer's metadata call is the public way to learn a topic's partitions without a group.
        partitions = [TopicPartition(topic, p) for p in sorted(await producer.partitions_for(topic))]
        consumer.assign(partitions)
        if self.position is None:
            await consumer.seek_to_end(*partitions)
            self.position = {tp.partition: await consumer.position(tp) for tp in partitions}
            self.floor = dict(self.position)
        else:  # back after a failure: carry on where we were, so nobody misses anything
            for tp in partitions:
                consumer.seek(tp, self.position.setdefault(tp.partition, 0))
        log.info("queue_stream.assigned", topic=topic, position=format_position(self.position))

    async def _tail(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=1000, max_records=200)
            records = [r for rs in batches.values() for r in rs]  # each partition's own order is kept
            changes = [(record, _decode(record.value)) for record in records]
            known = await self._lookup([c.request_id for _, (_, c) in changes if c is not None])
            today = domain.local_date(datetime.now(UTC))
            for record, (type_, change) in changes:
                if change is None:
                    self.position[record.partition] = record.offset + 1
                    continue
                created_at, deadline = known.get(change.request_id, (None, None))
                if change.decision_deadline is None:
                    change = change.model_copy(update={"decision_deadline": deadline})
                self.publish(record.partition, record.offset, type_, change, created_at, today)

    async def _lookup(self, request_ids: list[str]) -> dict[str, tuple[datetime, date | None]]:
        """Received time and deadline, which the events do not carry: one primary-key read per batch."""
        if not request_ids:
            return {}
        try:
            async with self.sessions() as session:
                rows = await session.execute(RECEIVED_AND_DEADLINE, {"ids": list(set(request_ids))})
                return {row.id: (row.created_at, row.decision_deadline) for row in rows}
        except Exception as exc:  # the database is away: the change still goes out, without those two dates
            log.warning("queue_stream.lookup_failed", error=repr(exc))
            return {}


def _decode(value: bytes | None) -> tuple[str, QueueChange | None]:
    """(event type, change) for a visit.* event with a request state; (type, None) for anything else."""
    try:
        envelope = json.loads(value or b"")
        return envelope["type"], QueueChange.model_validate(envelope["data"])
    except (ValueError, KeyError, TypeError, ValidationError):
        return "", None


# ------------------------------------------------------------ the SSE side


def sse(event: str, data: dict, id_: str | None = None) -> str:
    head = f"id: {id_}\n" if id_ else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'), default=_iso)}\n\n"


async def messages(stream: QueueStream, subscriber: Subscriber | None) -> AsyncIterator[str]:
    """The text of one SSE response: what was missed, `ready`, then changes as they come, keep-alives between."""
    if subscriber is None:
        yield sse("reset", {"reason": "too old to resume; reload the snapshot"})
        return
    try:
        missed = [subscriber.queue.get_nowait() for _ in range(subscriber.queue.qsize())]
        ready = _ready_position(stream, subscriber)  # computed with nothing left queued: it covers all of `missed`
        # The reconnection delay rides on the first message: a block of its own would be an event without data.
        opening = "retry: 3000\n" + "".join(_text(m) for m in missed)
        if RESET in missed:
            yield opening
            return
        yield opening + sse("ready", {"position": ready, "missed": len(missed)}, ready)
        while True:
            try:
                message = await asyncio.wait_for(subscriber.queue.get(), stream.keepalive_seconds)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            yield _text(message)
            if message is RESET:
                return
    finally:
        stream.unsubscribe(subscriber)


def _text(message) -> str:
    if message is RESET:
        return sse("reset", {"reason": "fell behind; reload the snapshot"})
    id_, event, data = message
    return sse(event, data, id_)


def _ready_position(stream: QueueStream, subscriber: Subscriber) -> str | None:
    """Where the stream stands: the later of the caller's position and ours, per partition."""
    if stream.position is None:
        return None
    merged = {p: max(o, subscriber.since.get(p, 0)) for p, o in stream.position.items()}
    return format_position(merged)


def _iso(value: date | datetime) -> str:
    return value.isoformat()
