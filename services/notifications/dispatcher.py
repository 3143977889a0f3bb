"""The dispatcher: claims due deliveries, sends them over SMTP or webhooks, retries, dead-letters."""

import asyncio
import json
import random
import re
import time
from datetime import UTC, datetime, timedelta

import aiosmtplib
import httpx
import structlog
from prometheus_client import Counter
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.outbox import add_event
from shared.runtime import Runtime

from services.notifications import messages, models
from shared import metrics
from shared.tracing import sending_span
from services.notifications.config import Settings
from services.notifications.events import NotificationDelivered, NotificationFailed
from services.notifications.models import Delivery, DivisionRecipient

log = structlog.get_logger()
ADDRESS = re.compile(r"[^\s<>\"'@]+@[^\s<>\"']+")
RETRYABLE_HTTP = {408, 425, 429}
ATTEMPTS = Counter("visitdesk_notification_attempts_total", "Delivery attempts by channel and outcome",
                   ["channel", "outcome"])  # outcome: sent | retry | failed


class DeliveryError(Exception):
    """A failed attempt; `transient` ones are retried until the attempts run out."""

    def __init__(self, message: str, *, transient: bool):
        super().__init__(ADDRESS.sub("<address>", message)[:1000])  # no personal data in logs or events
        self.transient = transient


class Dispatcher:
    """Claims with FOR UPDATE SKIP LOCKED (replicas share the table) and a lease against crashed senders."""

    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], settings: Settings, runtime: Runtime,
                 http: httpx.AsyncClient):
        self.sessions, self.settings, self.runtime, self.http = sessions, settings, runtime, http

    async def run(self) -> None:
        """Send due deliveries until the runtime stops; a batch in hand is finished first."""
        stopping = self.runtime.stopping
        while not stopping.is_set():
            try:
                if await self.dispatch_due():
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database away: deliveries wait, nothing is lost
                log.warning("dispatcher.failed", error=repr(exc))
            try:
                await asyncio.wait_for(stopping.wait(), timeout=self.settings.dispatcher_poll_seconds)
            except TimeoutError:
                pass

    async def dispatch_due(self) -> int:
        """Send one batch of due deliveries; returns how many were attempted."""
        claimed = await self._claim()
        outcomes = await asyncio.gather(*(self._attempt(d) for d in claimed), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, Exception):  # not recorded: the lease runs out and it is tried again
                log.warning("dispatcher.record_failed", error=repr(outcome))
        return len(claimed)

    async def _claim(self) -> list[Delivery]:
        now = datetime.now(UTC)
        async with self.sessions() as session, session.begin():
            due = list(await session.scalars(
                select(Delivery).where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
                .order_by(Delivery.next_attempt_at).limit(self.settings.dispatcher_batch_size)
                .with_for_update(skip_locked=True)))
            for delivery in due:
                delivery.attempts += 1
                delivery.next_attempt_at = now + timedelta(seconds=self.settings.send_lease_seconds)
        return due

    async def _attempt(self, delivery: Delivery) -> None:
        if delivery.attempts > self.settings.max_attempts:  # a process died while giving up on it: finish that
            given_up = f"gave up after {delivery.attempts - 1} attempts: {delivery.last_error}"
            await self._record_failure(delivery, DeliveryError(given_up, transient=False))
            return
        try:
            with sending_span(delivery.channel, delivery.event_type, delivery.traceparent):
                if delivery.channel == "webhook":
                    await self._post_webhook(delivery)
                else:
                    await self._send_email(delivery)
        except Exception as exc:  # unforeseen errors too: retried, then failed with the reason
            await self._record_failure(delivery, exc if isinstance(exc, DeliveryError)
                                       else DeliveryError(repr(exc), transient=True))
        else:
            await self._record_success(delivery)

    async def _send_email(self, delivery: Delivery) -> None:
        if not delivery.address:
            raise DeliveryError(f"no e-mail address configured for {delivery.recipient_kind} "
                                f"{delivery.division or ''}".strip(), transient=False)
        message = messages.email_message(
            delivery_id=delivery.id, sender=self.settings.smtp_from, to=delivery.address, subject=delivery.subject,
            text=delivery.body, html=delivery.body_html, language=delivery.language, reference=delivery.reference)
        s = self.settings
        try:
            await aiosmtplib.send(
                message, hostname=s.smtp_host, port=s.smtp_port, username=s.smtp_username,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                use_tls=s.smtp_tls, start_tls=s.smtp_starttls, timeout=s.smtp_timeout_seconds)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError("; ".join(f"SMTP {r.code} {r.message}" for r in exc.recipients),
                                transient=all(r.code < 500 for r in exc.recipients)) from exc
        except aiosmtplib.SMTPResponseException as exc:
            # 5xx is final, except a rejected login: that is our configuration, fixable while we retry.
            transient = exc.code < 500 or isinstance(exc, aiosmtplib.SMTPAuthenticationError)
            raise DeliveryError(f"SMTP {exc.code} {exc.message}", transient=transient) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP unreachable: {exc!r}", transient=True) from exc

    async def _post_webhook(self, delivery: Delivery) -> None:
        secret = await self._webhook_secret(delivery.division)
        if not delivery.address or not secret:
            raise DeliveryError(f"no webhook configured for division {delivery.division}", transient=False)
        body = delivery.body.encode()
        headers = {
            "Content-Type": "application/json", "User-Agent": "visitdesk-notifications/1",
            "X-Visitdesk-Signature": messages.signature(secret, int(time.time()), body),
            "Idempotency-Key": delivery.id, "X-Visitdesk-Event": delivery.event_type,
        }
        try:
            response = await self.http.post(delivery.address, content=body, headers=headers,
                                            timeout=self.settings.webhook_timeout_seconds)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook unreachable: {exc!r}", transient=True) from exc
        if not response.is_success:
            code = response.status_code
            raise DeliveryError(f"webhook answered HTTP {code}", transient=code >= 500 or code in RETRYABLE_HTTP)

    async def _webhook_secret(self, division: str | None) -> str | None:
        async with self.sessions() as session:
            row = await session.get(DivisionRecipient, division) if division else None
            return row.webhook_secret if row else None

    async def _record_success(self, delivery: Delivery) -> None:
        async with self.sessions() as session, session.begin():
            if await self._finish(session, delivery, status="sent", sent_at=datetime.now(UTC), last_error=None):
                await self._publish(session, delivery, NotificationDelivered(**self._facts(delivery)))
        ATTEMPTS.labels(delivery.channel, "sent").inc()
        metrics.DELIVERIES.labels(delivery.channel, "delivered").inc()
        log.info("delivery.sent", delivery_id=delivery.id, channel=delivery.channel, attempts=delivery.attempts)

    async def _record_failure(self, delivery: Delivery, failure: DeliveryError) -> None:
        error, transient = str(failure), failure.transient
        log.warning("delivery.attempt_failed", delivery_id=delivery.id, channel=delivery.channel,
                    attempts=delivery.attempts, transient=transient, error=error)
        if transient and delivery.attempts < self.settings.max_attempts:
            retry_at = datetime.now(UTC) + timedelta(seconds=self._backoff(delivery.attempts))
            async with self.sessions() as session, session.begin():
                await self._finish(session, delivery, status="pending", next_attempt_at=retry_at, last_error=error)
            ATTEMPTS.labels(delivery.channel, "retry").inc()
            return
        reason = f"gave up after {delivery.attempts} attempts: {error}" if transient else error
        now = datetime.now(UTC)
        async with self.sessions() as session, session.begin():
            if await self._finish(session, delivery, status="failed", failed_at=now, next_attempt_at=now,
                                  last_error=reason):
                await self._publish(session, delivery, NotificationFailed(**self._facts(delivery), error=reason))
                await self._dead_letter(delivery, reason)  # before commit: a crash here repeats it, never loses it
        ATTEMPTS.labels(delivery.channel, "failed").inc()
        metrics.DELIVERIES.labels(delivery.channel, "failed").inc()
        log.error("delivery.failed", delivery_id=delivery.id, channel=delivery.channel, error=reason)

    async def _finish(self, session: AsyncSession, delivery: Delivery, **values) -> bool:
        """Update the row only if it is still ours: pending, and not re-claimed after our lease ran out."""
        result = await session.execute(
            update(Delivery).where(Delivery.id == delivery.id, Delivery.status == "pending",
                                   Delivery.attempts == delivery.attempts).values(**values))
        return result.rowcount == 1

    def _backoff(self, attempts: int) -> float:
        delay = min(self.settings.retry_base_seconds * 2 ** (attempts - 1), self.settings.retry_max_seconds)
        return delay * random.uniform(0.5, 1.5)

    @staticmethod
    def _facts(delivery: Delivery) -> dict:
        return {"delivery_id": delivery.id, "event_id": delivery.event_id, "event_type": delivery.event_type,
                "reference": delivery.reference, "recipient": delivery.recipient_kind, "channel": delivery.channel}

    async def _publish(self, session: AsyncSession, delivery: Delivery, event) -> None:
        await add_event(session, models.outbox, event, source="notifications", key=delivery.event_key,
                        topic=self.settings.topic(event.topic))

    async def _dead_letter(self, delivery: Delivery, reason: str) -> None:
        """The failed delivery, with why and where its event came from, on `<source topic>.dlq`."""
        value = json.dumps(self._facts(delivery) | {
            "attempts": delivery.attempts, "error": reason,
            "event": json.loads(delivery.event) if delivery.event else None,
        }).encode()
        headers = [("dlq.error", reason.encode()), ("dlq.origin.topic", delivery.source_topic.encode()),
                   ("dlq.service", b"notifications"), ("dlq.delivery_id", delivery.id.encode()),
                   ("dlq.event_id", delivery.event_id.encode()), ("content-type", b"application/json")]
        await self.runtime.kafka_started.wait()
        while True:
            try:
                await self.runtime.producer.send_and_wait(f"{delivery.source_topic}.dlq", value=value,
                                                          key=delivery.event_key.encode(), headers=headers)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("dlq.publish_failed", delivery_id=delivery.id, error=repr(exc))
                await asyncio.sleep(1)
