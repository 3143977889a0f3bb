"""Request and response bodies of the capacity API."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Limit = Annotated[int, Field(ge=0, le=10_000, strict=True)] | None
# Any well-formed code, not only the nine seeded: a division visits adds later is reserved for and readable.
DivisionCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,49}$")]


class LimitUpdate(BaseModel):
    """`{"limit": n}` with n >= 0, or `{"limit": null}` for unlimited."""

    model_config = ConfigDict(extra="forbid")
    limit: Limit


class DefaultLimitUpdate(BaseModel):
    """`{"limit": n}` with n >= 1, or `{"limit": null}` for unlimited: a division's default for every week.

    Not 0: a default of 0 would make every week full, and weeks nobody has reserved in yet are never announced
    to visits, which would keep routing requests into them. A single week is closed with its own limit of 0.
    """

    model_config = ConfigDict(extra="forbid")
    limit: Annotated[int, Field(ge=1, le=10_000, strict=True)] | None


class ReservationPublic(BaseModel):
    reference: str
    request_id: str


class WeekCapacityPublic(BaseModel):
    """One division's week; `limit` and `free` are null when unlimited."""

    division: str
    iso_week: str
    limit: int | None
    limit_source: Literal["week", "default"]  # "week" once an admin set this week's own limit
    reserved: int
    free: int | None
    full: bool
    over_capacity: bool
    requests: list[ReservationPublic]


class DivisionLimitPublic(BaseModel):
    division: str
    limit: int | None
