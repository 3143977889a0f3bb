"""Settings of the notifications service, read from NOTIFICATIONS_* variables."""

from typing import Annotated, Literal

from fastapi import Depends
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings, app_settings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_")

    # Outgoing mail; the defaults reach `python -m visitdesk.mailsink --port 1025` in `make dev`.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_tls: bool = False  # implicit TLS from the first byte (usually port 465)
    smtp_starttls: bool = False  # upgrade a plain connection (usually port 587); required when set
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "Helsingin kaupunki / visitdesk <no-reply@visitdesk.invalid>"
    smtp_timeout_seconds: float = 30.0
    webhook_timeout_seconds: float = 10.0

    # Who hears what beyond the delegation and the divisions (whose addresses live in the database).
    staff_language: Literal["fi", "sv", "en"] = "fi"
    communications_email: str = "communications@visitdesk.invalid"
    international_affairs_email: str = "international-affairs@visitdesk.invalid"
    protocol_office_email: str = "protocol@visitdesk.invalid"

    # Where calendar clients reach this service: the base of the feeds' secret addresses.
    calendar_base_url: str = "http://127.0.0.1:8003"

    # Delivery: exponential backoff with jitter between attempts, then failed + DLQ.
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    max_attempts: int = 8
    dispatcher_poll_seconds: float = 1.0
    dispatcher_batch_size: int = 20
    # Dispatch loops per process: one e-mail no longer waits for the batch sent just before it (PostgreSQL only;
    # on SQLite one loop, as it has no SKIP LOCKED to keep two from claiming the same row).
    dispatchers: int = Field(default=2, ge=1)
    # A batch's e-mails share this many SMTP connections (one after another on each), not one per message;
    # they stay open between batches until idle this long (servers allow at least 300 s, RFC 5321 4.5.3.2.7).
    smtp_connections: int = Field(default=2, ge=1)
    smtp_idle_seconds: float = Field(default=30.0, ge=0)
    # A claimed delivery is re-claimable after this long (a dispatcher died mid-send).
    send_lease_seconds: float = 300.0


SettingsDep = Annotated[Settings, Depends(app_settings)]
