"""Settings of the visits service, read from VISITS_* variables."""

from typing import Annotated

from fastapi import Depends
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings, app_settings

DEV_CSRF_SECRET = "visitdesk-development-only-csrf-secret"
DEV_SESSION_SECRET = "visitdesk-development-only-session-secret"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="VISITS_")

    csrf_secret: str = DEV_CSRF_SECRET  # signs the form's CSRF token and the confirmation receipt
    submit_rate_limit: int = 20  # public submissions per client address per window
    submit_rate_window_seconds: float = 600.0
    escalation_interval_seconds: float = 60.0  # how often overdue requests are looked for
    completion_interval_seconds: float = 3600.0  # how often accepted visits whose day is over are completed
    retention_interval_seconds: float = 3600.0  # how often personal data past its retention time is erased
    # How long a submission's Idempotency-Key (or form nonce) answers a retry; the retention job forgets it after.
    idempotency_key_hours: float = Field(24.0, gt=0)
    # Days personal data is kept after the visit day, or after a request was declined or cancelled.
    personal_data_retention_days: int = Field(180, ge=0)
    # Staff sign-in: this service is the provider's confidential client; its pages hold the sessions.
    oidc_client_id: str = "visitdesk"
    oidc_client_secret: str | None = None
    session_secret: str = DEV_SESSION_SECRET  # signs the staff session cookie and seals the sign-in in progress
    session_idle_seconds: int = Field(3600, gt=0)  # a session unused this long has ended
    session_max_seconds: int = Field(8 * 3600, gt=0)  # and any session this long after sign-in

    @model_validator(mode="after")
    def _production_needs_its_secrets(self):
        if self.environment == "production" and self.csrf_secret == DEV_CSRF_SECRET:
            raise ValueError("VISITS_CSRF_SECRET is required in production")
        if self.environment == "production" and self.session_secret == DEV_SESSION_SECRET:
            raise ValueError("VISITS_SESSION_SECRET is required in production")
        if self.oidc_issuer and not self.oidc_client_secret:
            raise ValueError("VISITS_OIDC_CLIENT_SECRET is required with VISITDESK_OIDC_ISSUER")
        return self


SettingsDep = Annotated[Settings, Depends(app_settings)]
