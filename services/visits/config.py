"""Settings of the visits service, read from VISITS_* variables."""

from typing import Annotated

from fastapi import Depends
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings, app_settings

DEV_CSRF_SECRET = "visitdesk-development-only-csrf-secret"


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

    @model_validator(mode="after")
    def _production_needs_a_csrf_secret(self):
        if self.environment == "production" and self.csrf_secret == DEV_CSRF_SECRET:
            raise ValueError("VISITS_CSRF_SECRET is required in production")
        return self


SettingsDep = Annotated[Settings, Depends(app_settings)]
