"""Outgoing SMTP: one connection carries a run of messages; every failure says whether a retry can help."""

import re
import time

import aiosmtplib

from services.notifications.config import Settings
from services.notifications.messages import OutgoingEmail

ADDRESS = re.compile(r"[^\s<>\"'@]+@[^\s<>\"']+")


class DeliveryError(Exception):
    """A failed attempt; `transient` ones are retried until the attempts run out."""

    def __init__(self, message: str, *, transient: bool):
        super().__init__(ADDRESS.sub("<address>", message)[:1000])  # no personal data in logs or events
        self.transient = transient


class SmtpConnection:
    """Opened at the first message, reopened when the server has closed it, kept between runs until `close`.

    A refused message leaves the connection usable (aiosmtplib resets the envelope), so one bad recipient
    costs only its own message. When a fresh connection cannot carry even one message (refused, timed out,
    closed), the rest of the run fails the same way without trying: they would only wait out the same timeouts.
    """

    def __init__(self, settings: Settings, local_hostname: str | None = None):
        s = settings
        self.client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            local_hostname=local_hostname,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            use_tls=s.smtp_tls,
            start_tls=s.smtp_starttls,
            timeout=s.smtp_timeout_seconds,
        )
        self.carried = 0  # messages accepted over the current connection
        self.unreachable: DeliveryError | None = None
        self.used_at = time.monotonic()

    def new_run(self) -> "SmtpConnection":
        """A run of messages begins: the last run's verdict on reachability no longer holds."""
        self.unreachable = None
        return self

    async def close(self) -> None:
        """QUIT, or just drop the connection when the server does not answer within a few seconds."""
        if self.client.is_connected:
            try:
                await self.client.quit(timeout=min(5.0, self.client.timeout or 5.0))
            except (aiosmtplib.SMTPException, OSError):
                pass
            finally:
                self.client.close()

    async def send(self, message: OutgoingEmail) -> None:
        """Send one message; raises DeliveryError when the server did not accept it."""
        if self.unreachable is not None:
            raise self.unreachable
        try:
            await self._send(message)
        except Exception as exc:
            error = _classified(exc)
            if not self.client.is_connected and self.carried == 0:
                self.unreachable = error
            raise error from exc
        finally:
            self.used_at = time.monotonic()
        self.carried += 1

    async def _send(self, message: OutgoingEmail) -> None:
        if not self.client.is_connected:
            await self._connect()
        try:
            await self._transmit(message)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPResponseException) as exc:
            if self.carried == 0 or not _closed_by_server(exc):
                raise
            # It closed a connection that carried earlier messages (idle or per-connection limits) without a
            # 250 for this one, so this one was not accepted: a new connection sends it, as a retry would later.
            await self._connect()
            await self._transmit(message)

    async def _transmit(self, message: OutgoingEmail) -> None:
        await self.client.sendmail(
            message.sender, [message.recipient], message.data, mail_options=["SMTPUTF8"] if message.smtputf8 else None
        )

    async def _connect(self) -> None:
        self.carried = 0
        await self.client.connect()


def _closed_by_server(exc: Exception) -> bool:
    return isinstance(exc, aiosmtplib.SMTPServerDisconnected) or (
        isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code == 421
    )


def _classified(exc: Exception) -> DeliveryError:
    """Why a send failed, and whether trying again later can help."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return DeliveryError(
            "; ".join(f"SMTP {r.code} {r.message}" for r in exc.recipients),
            transient=all(r.code < 500 for r in exc.recipients),
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        # 5xx is final, except a rejected login: that is our configuration, fixable while we retry.
        transient = exc.code < 500 or isinstance(exc, aiosmtplib.SMTPAuthenticationError)
        return DeliveryError(f"SMTP {exc.code} {exc.message}", transient=transient)
    if isinstance(exc, (aiosmtplib.SMTPException, OSError)):
        return DeliveryError(f"SMTP unreachable: {exc!r}", transient=True)
    return DeliveryError(repr(exc), transient=True)  # unforeseen: retried, then failed with the reason
