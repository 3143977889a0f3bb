"""Request and response bodies of the notifications API."""

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, EmailStr, Field, SecretStr, UrlConstraints, field_validator

DivisionCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,99}$")]


class DivisionRecipientUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailStr
    webhook_url: Annotated[AnyHttpUrl, UrlConstraints(max_length=2000)] | None = None
    webhook_secret: SecretStr | None = Field(None, min_length=16, max_length=200)


class DivisionRecipientPublic(BaseModel):
    """A division's recipients; the webhook secret is write-only."""

    model_config = ConfigDict(from_attributes=True)
    division: str
    email: str
    webhook_url: str | None
    webhook_secret_set: bool
    updated_at: datetime
    updated_by: str

    @classmethod
    def of(cls, row) -> "DivisionRecipientPublic":
        return cls(
            division=row.division,
            email=row.email,
            webhook_url=row.webhook_url,
            webhook_secret_set=bool(row.webhook_secret),
            updated_at=row.updated_at,
            updated_by=row.updated_by,
        )


class DeliveryPublic(BaseModel):
    """One line of the delivery log; bodies stay in the database."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    event_id: str
    event_type: str
    reference: str | None
    division: str | None
    recipient_kind: str
    channel: str
    address: str | None
    language: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    failed_at: datetime | None

    @field_validator("address")
    @classmethod
    def _webhook_origin_only(cls, value: str | None) -> str | None:
        # Webhook URLs often carry their own secret in the path or query; staff need only where it goes.
        if value and value.startswith(("http://", "https://")):
            parts = urlsplit(value)
            port = f":{parts.port}" if parts.port else ""
            return f"{parts.scheme}://{parts.hostname}{port}/…"
        return value


class CalendarFeedCreate(BaseModel):
    """A division's feed (a division officer's own by default), or the protocol or Communications feed (admins)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["division", "protocol", "communications"]
    division: DivisionCode | None = None


class CalendarFeedPublic(BaseModel):
    """A feed without its address: the secret in it is shown only once, when the feed is created."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    kind: str
    division: str | None
    created_at: datetime
    revoked_at: datetime | None


class CalendarFeedCreated(CalendarFeedPublic):
    url: str = Field(description="the secret address to subscribe to; keep it, it is not shown again")
