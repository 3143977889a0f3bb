"""The dispatcher: claims due deliveries, sends them over SMTP or webhooks, retries, dead-letters."""

import asyncio
import json
import random
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial

import httpx
import structlog
from prometheus_client import Counter
from sqlalchemy import and_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications import messages, models
from services.notifications.config import Settings
from services.notifications.events import NotificationDelivered, NotificationFailed
from services.notifications.mailer import DeliveryError, SmtpConnection
from services.notifications.models import Delivery, DivisionRecipient
from shared import metrics
from shared.db import database_unavailable
from shared.outbox import add_event
from shared.runtime import Runtime
from shared.tracing import sending_span
from shared.wakeups import WakeChannel

log = structlog.get_logger()
RETRYABLE_HTTP = {408, 425, 429}
ATTEMPTS = Counter(
    "visitdesk_notification_attempts_total", "Delivery attempts by channel and outcome", ["channel", "outcome"]
)  # outcome: sent | retry | failed
Result = tuple[Delivery, DeliveryError | None]  # None: sent
HANDOVER_FRESH_SECONDS = 5.0  # a handed-over delivery still unsent after this is claimed afresh instead
# Its lease: enough for the fresh window and a batch's sends, and how long a crash can hold it up.
HANDOVER_LEASE_SECONDS = 60.0


class Handover:
    """Deliveries planned in this process reach its dispatch loops as the planning commits, already leased.

    Planning leases them (attempts 1, re-claimable after a lease of at most a minute, so that a crash holds them up
    no longer than that) in its own transaction and the commit hands
    them over: no claim transaction between planning and sending. Bounded: while `limit` handed-over deliveries
    wait (a transaction in progress may add its own to that), new ones are planned unleased and claimed, as are
    other replicas', retries and anything left over.
    One that waited longer than `fresh_seconds` (behind slow sends) is given back and claimed like any other,
    which reads it anew: an erasure meanwhile has cancelled it.
    """

    def __init__(self, settings: Settings):
        self.channel = WakeChannel()  # also wakes the loops for unleased work planned here
        self.lease_seconds = min(HANDOVER_LEASE_SECONDS, settings.send_lease_seconds)
        self.fresh_seconds = min(HANDOVER_FRESH_SECONDS, self.lease_seconds / 2)
        self.limit = settings.dispatcher_batch_size * settings.dispatchers

    def lease(self, deliveries: list[Delivery]) -> float | None:
        """Lease `deliveries`, not yet inserted, to this process if there is room; when (monotonic), else None."""
        if len(self.channel.handed) >= self.limit:
            return None
        now = datetime.now(UTC)
        for delivery in deliveries:
            delivery.attempts, delivery.next_attempt_at = 1, now + timedelta(seconds=self.lease_seconds)
        return time.monotonic()

    def hand_over_on_commit(self, session: AsyncSession, inserted: list[Delivery], leased_at: float | None) -> None:
        """On commit: leased deliveries to an idle dispatch loop; unleased ones wake every loop to claim them."""
        self.channel.wake_on_commit(session, [(leased_at, d) for d in inserted] if leased_at else ())

    def take(self, limit: int) -> tuple[list[Delivery], list[Delivery], float]:
        """Up to `limit` handed-over deliveries, oldest first: (fresh, stale, when the fresh ones' lease ends)."""
        fresh, stale, lease_ends, now = [], [], float("inf"), time.monotonic()
        while self.channel.handed and len(fresh) + len(stale) < limit:
            leased_at, delivery = self.channel.handed.popleft()
            if now - leased_at <= self.fresh_seconds:
                fresh.append(delivery)
                lease_ends = min(lease_ends, leased_at + self.lease_seconds)
            else:
                stale.append(delivery)
        return fresh, stale, lease_ends

    async def give_back(
        self, sessions: async_sessionmaker[AsyncSession], deliveries: list[Delivery] | None = None
    ) -> int:
        """Leases of handed-over deliveries not sent (by default all still waiting: at shutdown), claimable now."""
        if deliveries is None:
            deliveries = [delivery for _, delivery in self.channel.handed]
            self.channel.handed.clear()
        if not deliveries:
            return 0
        async with sessions() as session, session.begin():
            result = await session.execute(
                update(Delivery)
                .where(_still_ours(deliveries))
                .values(attempts=Delivery.attempts - 1, next_attempt_at=datetime.now(UTC))
                .execution_options(synchronize_session=False)
            )
        return result.rowcount


def _still_ours(deliveries: list[Delivery]):
    """Rows still pending with the attempts they had in hand: no one re-claimed them after a lease ran out."""
    return and_(
        Delivery.status == "pending",
        tuple_(Delivery.id, Delivery.attempts).in_([(d.id, d.attempts) for d in deliveries]),
    )


class Dispatcher:
    """Sends what the handover brings, else claims with FOR UPDATE SKIP LOCKED (replicas share the table);
    a lease on every delivery in hand against crashed senders."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        runtime: Runtime,
        http: httpx.AsyncClient,
        handover: Handover | None = None,
    ):
        self.sessions, self.settings, self.runtime, self.http = sessions, settings, runtime, http
        self.handover = handover or Handover(settings)
        self.wakeup = asyncio.Event()
        self.local_hostname: str | None = None
        self.lanes: list[SmtpConnection] = []  # open SMTP connections, kept while there is mail to send

    async def run(self) -> None:
        """Send due deliveries until the runtime stops; a batch in hand is finished first.

        Sleeps until a transaction here plans deliveries, or the poll (retries, other replicas' work) or stop.
        """
        stopping = self.runtime.stopping
        try:
            with self.handover.channel.subscribed(self.wakeup):
                while not stopping.is_set():
                    self.wakeup.clear()  # before claiming: a commit while we work brings us straight back
                    try:
                        if await self.dispatch_due():
                            continue
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:  # database away: deliveries wait, nothing is lost
                        log.warning("dispatcher.failed", error=repr(exc))
                    await self._close_idle_lanes()
                    await self.handover.channel.sleep(
                        self.wakeup, stopping, timeout=self.settings.dispatcher_poll_seconds
                    )
        finally:
            await self._close_lanes()

    async def _close_idle_lanes(self) -> None:
        idle_since = time.monotonic() - self.settings.smtp_idle_seconds
        if self.lanes and max(lane.used_at for lane in self.lanes) <= idle_since:
            await self._close_lanes()

    async def _close_lanes(self) -> None:
        closing, self.lanes = self.lanes, []
        await asyncio.gather(*(lane.close() for lane in closing))

    async def dispatch_due(self) -> int:
        """Send one batch, handed over or else claimed, and record the outcomes; returns how many were attempted."""
        claimed, stale, lease_ends = self.handover.take(self.settings.dispatcher_batch_size)
        if stale:
            await self.handover.give_back(self.sessions, stale)
        if not claimed:
            lease_ends = time.monotonic() + self.settings.send_lease_seconds
            claimed = await self._claim()
        if claimed:
            await self._record(await self._send(claimed, lease_ends), lease_ends)
        return len(claimed)

    async def _claim(self) -> list[Delivery]:
        """Take the due rows no one else holds and lease them, in one statement; oldest due first."""
        now = datetime.now(UTC)
        due = (
            select(Delivery.id)
            .where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
            .order_by(Delivery.next_attempt_at)
            .limit(self.settings.dispatcher_batch_size)
            .with_for_update(skip_locked=True)
        )
        lease = (
            update(Delivery)
            .where(Delivery.id.in_(due))
            .values(
                attempts=Delivery.attempts + 1,
                next_attempt_at=now + timedelta(seconds=self.settings.send_lease_seconds),
            )
            .returning(Delivery)
            .execution_options(synchronize_session=False)
        )
        async with self.sessions() as session, session.begin():
            claimed = list(await session.scalars(lease))
        return sorted(claimed, key=lambda d: d.created_at)

    async def _send(self, claimed: list[Delivery], lease_ends: float) -> list[Result]:
        """Webhooks side by side; e-mails over a few SMTP connections, one message after another on each."""
        outcome: dict[str, DeliveryError | None] = {}
        due = []
        for delivery in claimed:
            if delivery.attempts > self.settings.max_attempts:  # a process died while giving up on it: finish that
                given_up = f"gave up after {delivery.attempts - 1} attempts: {delivery.last_error}"
                outcome[delivery.id] = DeliveryError(given_up, transient=False)
            else:
                due.append(delivery)
        webhooks = [d for d in due if d.channel == "webhook"]
        emails = [d for d in due if d.channel != "webhook"]
        lanes = min(self.settings.smtp_connections, len(emails))
        await asyncio.gather(
            *(self._post_webhook(d, outcome) for d in webhooks),
            *(self._send_emails(i, emails[i::lanes], outcome, lease_ends) for i in range(lanes)),
        )
        return [(d, outcome[d.id]) for d in claimed]

    async def _send_emails(
        self, lane: int, deliveries: list[Delivery], outcome: dict[str, DeliveryError | None], lease_ends: float
    ) -> None:
        smtp = (await self._lane(lane)).new_run()
        for i, delivery in enumerate(deliveries):
            if i and time.monotonic() > lease_ends - self._lease_margin():  # slow server: others may claim it now
                outcome[delivery.id] = DeliveryError("not sent: the batch's lease ran out first", transient=True)
            else:
                outcome[delivery.id] = await _attempt(delivery, partial(self._send_email, smtp))

    async def _lane(self, number: int) -> SmtpConnection:
        """The lane's connection, kept from earlier batches: no connect and EHLO in front of each e-mail."""
        if self.local_hostname is None:  # aiosmtplib would look it up (a DNS query) for every connection
            self.local_hostname = await asyncio.to_thread(socket.getfqdn)
        while len(self.lanes) <= number:
            self.lanes.append(SmtpConnection(self.settings, self.local_hostname))
        return self.lanes[number]

    async def _send_email(self, smtp: SmtpConnection, delivery: Delivery) -> None:
        if not delivery.address:
            raise DeliveryError(
                f"no e-mail address configured for {delivery.recipient_kind} {delivery.division or ''}".strip(),
                transient=False,
            )
        await smtp.send(
            messages.email_message(
                delivery_id=delivery.id,
                sender=self.settings.smtp_from,
                to=delivery.address,
                subject=delivery.subject,
                text=delivery.body,
                html=delivery.body_html,
                language=delivery.language,
                reference=delivery.reference,
                calendar=delivery.calendar,
            )
        )

    async def _post_webhook(self, delivery: Delivery, outcome: dict[str, DeliveryError | None]) -> None:
        outcome[delivery.id] = await _attempt(delivery, self._webhook)

    async def _webhook(self, delivery: Delivery) -> None:
        secret = await self._webhook_secret(delivery.division)
        if not delivery.address or not secret:
            raise DeliveryError(f"no webhook configured for division {delivery.division}", transient=False)
        body = delivery.body.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "visitdesk-notifications/1",
            "X-Visitdesk-Signature": messages.signature(secret, int(time.time()), body),
            "Idempotency-Key": delivery.id,
            "X-Visitdesk-Event": delivery.event_type,
        }
        try:
            response = await self.http.post(
                delivery.address, content=body, headers=headers, timeout=self.settings.webhook_timeout_seconds
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook unreachable: {exc!r}", transient=True) from exc
        if not response.is_success:
            code = response.status_code
            raise DeliveryError(f"webhook answered HTTP {code}", transient=code >= 500 or code in RETRYABLE_HTTP)

    async def _webhook_secret(self, division: str | None) -> str | None:
        async with self.sessions() as session:
            row = await session.get(DivisionRecipient, division) if division else None
            return row.webhook_secret if row else None

    async def _record(self, results: list[Result], lease_ends: float) -> None:
        """Sent and to-retry rows in one transaction, then each failure with its DLQ record."""
        sent = [d for d, error in results if error is None]
        retries, failures = [], []
        for delivery, error in results:
            if error is not None:
                log.warning(
                    "delivery.attempt_failed",
                    delivery_id=delivery.id,
                    channel=delivery.channel,
                    attempts=delivery.attempts,
                    transient=error.transient,
                    error=str(error),
                )
                retry = error.transient and delivery.attempts < self.settings.max_attempts
                (retries if retry else failures).append((delivery, error))
        if sent or retries:
            await self._persist(
                partial(self._record_sent_and_retries, sent, retries), lease_ends, rows=len(sent) + len(retries)
            )
        for delivery, error in failures:
            await self._persist(partial(self._record_failure, delivery, error), lease_ends, rows=1)

    async def _persist(self, write: Callable[[], Awaitable[None]], lease_ends: float, *, rows: int) -> None:
        """Write outcomes until it commits: if the database blinks after a send, a second send would follow.

        Tries until the lease is nearly over (then another dispatcher may claim the rows and try them again);
        a late commit is still safe, since each update is guarded by the row's status and attempts.
        """
        margin = self._lease_margin()
        delay, tries = 0.1, 0
        while True:
            tries += 1
            try:
                async with asyncio.timeout(max(lease_ends - margin - time.monotonic(), 1.0)):
                    await write()
                if tries > 1:
                    log.info("delivery.record_recovered", tries=tries, rows=rows)
                return
            except Exception as exc:
                if not database_unavailable(exc):  # not recorded: the lease runs out and it is tried again
                    log.error("delivery.record_failed", tries=tries, rows=rows, error=repr(exc))
                    return
                left = lease_ends - margin - time.monotonic()
                if left <= 0:
                    log.error("delivery.record_abandoned", tries=tries, rows=rows, error=repr(exc))
                    return
                log.warning(
                    "delivery.record_retrying", tries=tries, rows=rows, retry_in=round(delay, 2), error=repr(exc)
                )
                await asyncio.sleep(min(delay, left))
                delay = min(delay * 2, 2.0)

    async def _record_sent_and_retries(
        self, sent: list[Delivery], retries: list[tuple[Delivery, DeliveryError]]
    ) -> None:
        now = datetime.now(UTC)
        async with self.sessions() as session, session.begin():
            finished = await self._finish_sent(session, sent, now)
            for delivery in sent:
                if delivery.id in finished:
                    await self._publish(session, delivery, NotificationDelivered(**self._facts(delivery)))
            for delivery, error in retries:
                retry_at = now + timedelta(seconds=self._backoff(delivery.attempts))
                await self._finish(session, delivery, status="pending", next_attempt_at=retry_at, last_error=str(error))
        for delivery in sent:
            ATTEMPTS.labels(delivery.channel, "sent").inc()
            metrics.DELIVERIES.labels(delivery.channel, "delivered").inc()
            log.info("delivery.sent", delivery_id=delivery.id, channel=delivery.channel, attempts=delivery.attempts)
        for delivery, _ in retries:
            ATTEMPTS.labels(delivery.channel, "retry").inc()

    async def _finish_sent(self, session: AsyncSession, sent: list[Delivery], now: datetime) -> set[str]:
        """Mark sent in one statement the rows still ours (pending, attempts as claimed); returns their ids."""
        if not sent:
            return set()
        statement = (
            update(Delivery)
            .where(_still_ours(sent))
            .values(status="sent", sent_at=now, last_error=None)
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        )
        return set(await session.scalars(statement))

    async def _record_failure(self, delivery: Delivery, failure: DeliveryError) -> None:
        error = str(failure)
        reason = f"gave up after {delivery.attempts} attempts: {error}" if failure.transient else error
        now = datetime.now(UTC)
        async with self.sessions() as session, session.begin():
            if await self._finish(
                session, delivery, status="failed", failed_at=now, next_attempt_at=now, last_error=reason
            ):
                await self._publish(session, delivery, NotificationFailed(**self._facts(delivery), error=reason))
                await self._dead_letter(delivery, reason)  # before commit: a crash here repeats it, never loses it
        ATTEMPTS.labels(delivery.channel, "failed").inc()
        metrics.DELIVERIES.labels(delivery.channel, "failed").inc()
        log.error("delivery.failed", delivery_id=delivery.id, channel=delivery.channel, error=reason)

    async def _finish(self, session: AsyncSession, delivery: Delivery, **values) -> bool:
        """Update the row only if it is still ours: pending, and not re-claimed after our lease ran out."""
        result = await session.execute(update(Delivery).where(_still_ours([delivery])).values(**values))
        return result.rowcount == 1

    def _lease_margin(self) -> float:
        return min(10.0, self.settings.send_lease_seconds / 10)

    def _backoff(self, attempts: int) -> float:
        delay = min(self.settings.retry_base_seconds * 2 ** (attempts - 1), self.settings.retry_max_seconds)
        return delay * random.uniform(0.5, 1.5)

    @staticmethod
    def _facts(delivery: Delivery) -> dict:
        return {
            "delivery_id": delivery.id,
            "event_id": delivery.event_id,
            "event_type": delivery.event_type,
            "reference": delivery.reference,
            "recipient": delivery.recipient_kind,
            "channel": delivery.channel,
        }

    async def _publish(self, session: AsyncSession, delivery: Delivery, event_) -> None:
        await add_event(
            session,
            models.outbox,
            event_,
            source="notifications",
            key=delivery.event_key,
            topic=self.settings.topic(event_.topic),
        )

    async def _dead_letter(self, delivery: Delivery, reason: str) -> None:
        """The failed delivery, with why and where its event came from, on `<source topic>.dlq`."""
        value = json.dumps(
            self._facts(delivery)
            | {
                "attempts": delivery.attempts,
                "error": reason,
                "event": json.loads(delivery.event) if delivery.event else None,
            }
        ).encode()
        headers = [
            ("dlq.error", reason.encode()),
            ("dlq.origin.topic", delivery.source_topic.encode()),
            ("dlq.service", b"notifications"),
            ("dlq.delivery_id", delivery.id.encode()),
            ("dlq.event_id", delivery.event_id.encode()),
            ("content-type", b"application/json"),
        ]
        await self.runtime.kafka_started.wait()
        while True:
            try:
                await self.runtime.producer.send_and_wait(
                    f"{delivery.source_topic}.dlq", value=value, key=delivery.event_key.encode(), headers=headers
                )
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("dlq.publish_failed", delivery_id=delivery.id, error=repr(exc))
                await asyncio.sleep(1)


async def _attempt(delivery: Delivery, send: Callable[[Delivery], Awaitable[None]]) -> DeliveryError | None:
    """One send in the trace of its event; None when it went, else why not (unforeseen errors: retried)."""
    try:
        with sending_span(delivery.channel, delivery.event_type, delivery.traceparent):
            await send(delivery)
    except DeliveryError as exc:
        return exc
    except Exception as exc:
        return DeliveryError(repr(exc), transient=True)
    return None
