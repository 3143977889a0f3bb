"""The CloudEvents-style envelope every topic carries, and W3C trace context."""

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

SPEC_VERSION = "1.0"


class Event(BaseModel):
    """Base of every event payload: small, frozen, past tense; `type` names it on the wire."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    type: ClassVar[str]
    topic: ClassVar[str]


class Envelope(BaseModel):
    """`{id, type, source, time, subject, specversion, data}` as in DESIGN.md."""

    model_config = ConfigDict(frozen=True)
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    type: str
    source: str
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str
    specversion: str = SPEC_VERSION
    data: dict[str, Any]

    @classmethod
    def wrap(cls, event: Event, *, source: str, subject: str) -> "Envelope":
        """Wrap a payload; `subject` is the request id (also the Kafka key)."""
        return cls(type=event.type, source=source, subject=subject, data=event.model_dump(mode="json"))

    def parse(self, model: type[Event]) -> Event:
        return model.model_validate(self.data)


def new_traceparent() -> str:
    """A traceparent starting a new trace, for events written outside any span."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
