"""Request and response bodies of the protocol API."""

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from services.protocol.domain import GiftDirection, ItemState, ValueBand

EARLIEST_GIFT = dt.date(2000, 1, 1)  # older dates are typing errors: the register starts with this service


class ItemPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    key: str
    owner: str
    required: bool
    state: str
    note: str | None
    updated_by: str | None
    updated_at: dt.datetime


# A local time of day in Helsinki, "HH:MM" on the wire.
ClockTime = Annotated[dt.time, PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str)]


class PlanSummary(BaseModel):
    """A plan as the calendar shows it."""

    model_config = ConfigDict(from_attributes=True)
    reference: str
    division: str
    level: int
    host: str
    visit_date: dt.date
    start_time: ClockTime | None
    end_time: ClockTime | None
    venue: str | None
    status: str
    conflict: bool
    conflicts: list[str]


class PlanPublic(PlanSummary):
    items: list[ItemPublic]


class ItemUpdate(BaseModel):
    """`note` left out keeps the current note; `null` clears it."""

    model_config = ConfigDict(extra="forbid")
    state: ItemState
    note: str | None = Field(None, max_length=2000)


class GiftCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    direction: GiftDirection
    description: str = Field(min_length=1, max_length=2000)
    value_band: ValueBand
    giver: str = Field(min_length=1, max_length=200)
    recipient: str = Field(min_length=1, max_length=200)
    date: dt.date | None = Field(
        None, ge=EARLIEST_GIFT, description="on or after 2000-01-01; the visit date when left out"
    )


class GiftPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    reference: str
    direction: str
    description: str
    value_band: str
    giver: str
    recipient: str
    date: dt.date
    recorded_by: str
