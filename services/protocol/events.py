"""Events the protocol service publishes on protocol.v1, and slim copies of the visits.v1 events it reads."""

from datetime import date, time
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from shared.events import Event

TOPIC = "protocol.v1"
VISITS_TOPIC = "visits.v1"


class PlanItem(BaseModel):
    model_config = ConfigDict(frozen=True)
    key: str
    owner: str
    required: bool
    state: str


class PlanCreated(Event):
    """A plan exists for an accepted visit; `status` (draft|ready|cancelled) is an addition to the contract."""

    topic: ClassVar[str] = TOPIC
    type: ClassVar[str] = "protocol.plan_created.v1"
    request_id: str
    reference: str
    division: str
    level: int
    host: str
    visit_date: date
    items: list[PlanItem]
    conflicts: list[str]
    status: str


class PlanUpdated(PlanCreated):
    """The plan's date, status or conflicts changed."""

    type: ClassVar[str] = "protocol.plan_updated.v1"


class PlanReady(Event):
    topic: ClassVar[str] = TOPIC
    type: ClassVar[str] = "protocol.plan_ready.v1"
    request_id: str
    reference: str
    division: str
    level: int
    visit_date: date


# Slim copies of what protocol reads from visits.v1 (the producer's full models live in services/visits).
class Needs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    interpreter_language: str | None = None
    press: bool = False


class VisitAccepted(Event):
    topic: ClassVar[str] = VISITS_TOPIC
    type: ClassVar[str] = "visit.accepted.v1"
    request_id: str
    reference: str
    division: str
    highest_rank: str
    visit_date: date | None = None
    start_time: time | None = None
    end_time: time | None = None
    venue: str | None = None
    needs: Needs


class VisitRescheduled(VisitAccepted):
    """The accepted visit moved: the plan takes its new day, times and venue."""

    type: ClassVar[str] = "visit.rescheduled.v1"


class VisitEnded(Event):
    """visit.cancelled.v1 and visit.declined.v1: either ends the plan, if there is one."""

    topic: ClassVar[str] = VISITS_TOPIC
    request_id: str
    reference: str


class VisitPersonalDataErased(Event):
    topic: ClassVar[str] = VISITS_TOPIC
    type: ClassVar[str] = "visit.personal_data_erased.v1"
    request_id: str
    reference: str
