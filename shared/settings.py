"""Settings every service shares; each service subclasses with its own env prefix."""

import sys
from typing import Literal, TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.requests import Request

DEV_JWT_SECRET = "visitdesk-development-only-secret-change-me"
# The provider's groups that make someone visitdesk staff, first match winning: "role", or "division_officer:<code>"
# for a division's officers. A deployment names its own directory groups in VISITDESK_OIDC_GROUPS (JSON).
DEFAULT_GROUPS = {
    "visitdesk-admins": "admin",
    "visitdesk-communications": "communications",
    "visitdesk-protocol": "protocol_officer",
    **{
        f"visitdesk-division-{code}": f"division_officer:{code}"
        for code in (
            "education",
            "urban-environment",
            "culture-and-leisure",
            "social-services-health",
            "city-executive-office",
            "economic-development",
            "forum-virium",
            "business-hub",
            "international-affairs",
        )
    },
}


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
    # The city's OpenID provider, found by its discovery document ({issuer}/.well-known/openid-configuration).
    oidc_issuer: str | None = _shared("oidc_issuer", None)
    # Where servers fetch that document when the provider is reached at another address than its public one.
    oidc_discovery_url: str | None = _shared("oidc_discovery_url", None)
    oidc_groups: dict[str, str] = _shared("oidc_groups", DEFAULT_GROUPS)
    relay_poll_seconds: float = 1.0
    consumer_max_attempts: int = 5
    consumer_backoff_seconds: float = 0.2
    consumer_concurrency: int = 4  # partitions handled side by side (SQLite: always one writer at a time)
    consumer_events_per_transaction: int = Field(default=20, ge=1)  # a fetched run of one partition's events
    max_body_bytes: int = _shared("max_body_bytes", 64 * 1024)

    @field_validator("oidc_groups")
    @classmethod
    def _groups_grant_known_roles(cls, groups: dict[str, str]) -> dict[str, str]:
        from shared.auth import group_grants  # auth builds on these settings

        group_grants(groups)
        return groups

    @model_validator(mode="after")
    def _production_needs_real_secrets(self):
        if self.environment == "production":
            if self.oidc_issuer is None:
                raise ValueError("VISITDESK_OIDC_ISSUER is required in production")
        return self

    @property
    def discovery_url(self) -> str | None:
        """Where the provider's discovery document is read, or None without a provider."""
        if self.oidc_issuer is None:
            return None
        return self.oidc_discovery_url or f"{self.oidc_issuer.rstrip('/')}/.well-known/openid-configuration"

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
