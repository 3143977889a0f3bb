"""The limit body admins send, and the visits.v1 events capacity reads (contract with the producer)."""

from datetime import date

import pytest
from pydantic import ValidationError

from services.capacity import events as capacity_events
from services.capacity.schemas import LimitUpdate
from services.visits import events as visits_events
from shared.events import Envelope
from tests.builders import visit_state


@pytest.mark.parametrize(("body", "limit"), [('{"limit": 0}', 0), ('{"limit": 6}', 6), ('{"limit": null}', None)])
def test_a_limit_is_a_non_negative_whole_number_or_null(body, limit):
    assert LimitUpdate.model_validate_json(body).limit == limit


@pytest.mark.parametrize(
    "body", ['{"limit": -1}', '{"limit": 2.5}', '{"limit": "6"}', '{"limit": true}', "{}", '{"limit": 6, "week": 3}']
)
def test_anything_else_is_rejected(body):
    with pytest.raises(ValidationError):
        LimitUpdate.model_validate_json(body)


def _visit_state(**changes) -> dict:
    state = visit_state(
        "visit.accepted.v1",
        request_id="0b4c5e1e-8a0f-4a53-9d43-1f5c2b7e9a10",
        reference="VD-2027-0001",
        preferred_dates=[{"start": date(2027, 2, 15), "end": date(2027, 2, 19)}],
        visit_date=date(2027, 2, 16),
        host="Principal",
    )
    return state | changes


@pytest.mark.parametrize(
    ("producer", "consumer", "extra"),
    [
        (visits_events.VisitAccepted, capacity_events.VisitAccepted, {}),
        (visits_events.VisitCancelled, capacity_events.VisitCancelled, {"was_accepted": True}),
        (
            visits_events.VisitDeclined,
            capacity_events.VisitDeclined,
            {"was_accepted": True, "reason": "no_capacity", "message": "full"},
        ),
    ],
)
def test_capacity_reads_what_visits_publishes(producer, consumer, extra):
    envelope = Envelope.wrap(producer(**_visit_state(), **extra), source="visits", subject="r")
    parsed = Envelope.model_validate_json(envelope.model_dump_json()).parse(consumer)
    assert envelope.type == consumer.type
    assert (parsed.request_id, parsed.division, parsed.visit_date) == (
        "0b4c5e1e-8a0f-4a53-9d43-1f5c2b7e9a10",
        "education",
        date(2027, 2, 16),
    )


def test_an_acceptance_without_a_visit_date_is_rejected():
    with pytest.raises(ValidationError):
        capacity_events.VisitAccepted.model_validate(_visit_state(visit_date=None))


def test_capacity_reads_a_rescheduled_visit_from_what_visits_publishes():
    state = {
        "request_id": "r-1",
        "reference": "HEL-1",
        "status": "accepted",
        "division": "education",
        "info_divisions": [],
        "focus_areas": ["education"],
        "organisation": "Examplia",
        "country": "EE",
        "language": "en",
        "contact_name": None,
        "contact_email": None,
        "highest_rank": "expert",
        "delegation_size": 5,
        "preferred_dates": [{"start": "2031-05-01", "end": "2031-05-09"}],
        "visit_date": "2031-05-06",
        "needs": {},
        "flags": [],
        "tracking_url": None,
        "actor": "officer-1",
    }
    event = visits_events.VisitRescheduled(**state, previous_date="2031-05-04", message="")
    wire = Envelope.model_validate_json(Envelope.wrap(event, source="visits", subject="r-1").model_dump_json())
    assert wire.type == capacity_events.VisitRescheduled.type
    moved = wire.parse(capacity_events.VisitRescheduled)
    assert (moved.request_id, moved.division, str(moved.visit_date)) == ("r-1", "education", "2031-05-06")
