"""Events capacity publishes on capacity.v1, and the slim copies of the visits.v1 events it reads."""

from datetime import date
from typing import ClassVar

from shared.events import Event

TOPIC = "capacity.v1"
VISITS_TOPIC = "visits.v1"


class _ReservationChanged(Event):
    """Keyed by request_id; `reserved` and `limit` describe the week after the change."""

    topic: ClassVar[str] = TOPIC
    request_id: str
    reference: str
    division: str
    iso_week: str
    reserved: int
    limit: int | None


class CapacityReserved(_ReservationChanged):
    type: ClassVar[str] = "capacity.reserved.v1"


class CapacityReleased(_ReservationChanged):
    type: ClassVar[str] = "capacity.released.v1"


class _WeekChanged(Event):
    """Keyed by "division:iso_week"."""

    topic: ClassVar[str] = TOPIC
    division: str
    iso_week: str
    reserved: int
    limit: int | None


class WeekFilled(_WeekChanged):
    type: ClassVar[str] = "capacity.week_full.v1"


class WeekReopened(_WeekChanged):
    type: ClassVar[str] = "capacity.week_reopened.v1"


# What capacity reads from visits.v1: only the fields below, whatever else the producer sends.
class VisitState(Event):
    topic: ClassVar[str] = VISITS_TOPIC
    request_id: str
    reference: str
    division: str
    visit_date: date | None = None


class VisitAccepted(VisitState):
    type: ClassVar[str] = "visit.accepted.v1"
    visit_date: date  # an acceptance without a date cannot reserve anything: it is dead-lettered


class VisitRescheduled(VisitAccepted):
    """An accepted visit moved to another day: its reservation moves with it."""

    type: ClassVar[str] = "visit.rescheduled.v1"


class VisitCancelled(VisitState):
    type: ClassVar[str] = "visit.cancelled.v1"
    was_accepted: bool = False


class VisitDeclined(VisitState):
    type: ClassVar[str] = "visit.declined.v1"
    was_accepted: bool = False
