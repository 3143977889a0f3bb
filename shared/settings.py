"""Settings every service shares; each service subclasses with its own env prefix."""

import sys
from typing import Literal, TypeVar

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.requests import Request

DEV_JWT_SECRET = "visitdesk-development-only-secret-change-me"


def _shared(name: str, default):
    return Field(default, validation_alias=f"VISITDESK_{name.upper()}")


class ServiceSettings(BaseSettings):
    """Deployment-wide settings come from VISITDESK_*; a service's own from its prefix (VISITS_DATABASE_URL)."""

    model_config = SettingsConfigDict(populate_by_name=True)

    database_url: str
    environment: Literal["development", "production"] = _shared("environment", "development")
    kafka_bootstrap: str = _shared("kafka_bootstrap", "127.0.0.1:9092")
    topic_prefix: str = _shared("topic_prefix", "")
    public_base_url: str = _shared("public_base_url", "http://127.0.0.1:8001")
    log_level: str = _shared("log_level", "INFO")
    jwt_secret: str = _shared("jwt_secret", DEV_JWT_SECRET)
    jwt_issuer: str = _shared("jwt_issuer", "visitdesk-dev")
    jwt_audience: str = _shared("jwt_audience", "visitdesk")
    oidc_jwks_url: str | None = _shared("oidc_jwks_url", None)
    relay_poll_seconds: float = 1.0
    consumer_max_attempts: int = 5
    consumer_backoff_seconds: float = 0.2
    consumer_concurrency: int = 4  # partitions handled side by side (SQLite: always one writer at a time)
    consumer_events_per_transaction: int = Field(default=20, ge=1)  # a fetched run of one partition's events
    max_body_bytes: int = _shared("max_body_bytes", 64 * 1024)

    @model_validator(mode="after")
    def _production_needs_real_secrets(self):
        if self.environment == "production":
            if self.oidc_jwks_url is None:
                raise ValueError("VISITDESK_OIDC_JWKS_URL is required in production")
        return self

    def topic(self, name: str) -> str:
        """The real topic name for a logical one (tests isolate runs by prefix)."""
        return f"{self.topic_prefix}{name}"


S = TypeVar("S", bound=ServiceSettings)


def load_settings(cls: type[S]) -> S:
    """Build settings or stop the process with one line naming the bad setting."""
    try:
        return cls()
    except ValidationError as exc:
        prefix = cls.model_config.get("env_prefix", "")
        first = exc.errors()[0]
        name = "".join(str(p) for p in first["loc"][:1]).upper()
        name = name if name.startswith("VISITDESK_") or not name else f"{prefix.upper()}{name}"
        sys.exit(f"visitdesk: setting {name or 'configuration'}: {first['msg']}")


async def app_settings(request: Request) -> ServiceSettings:
    """The settings the app was built with; each service's config.py types it as its own `SettingsDep`."""
    # async: FastAPI runs a plain `def` dependency in its thread pool, a thread hop on every request.
    return request.app.state.settings
