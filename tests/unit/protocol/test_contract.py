"""Protocol's slim copies of visits.v1 read what the visits service actually publishes."""

from datetime import date, time

from services.protocol import events as protocol
from services.visits import events as visits
from shared.events import Envelope
from tests.builders import visit_state

STATE = visit_state(
    "visit.accepted.v1",
    request_id="r-1",
    reference="HEL-1",
    highest_rank="minister",
    delegation_size=5,
    preferred_dates=[{"start": date(2031, 5, 1), "end": date(2031, 5, 9)}],
    visit_date=date(2031, 5, 4),
    host="Director",
    needs={"interpreter_language": "ja", "press": True},
)


def _through_the_wire(event) -> Envelope:
    return Envelope.model_validate_json(Envelope.wrap(event, source="visits", subject="r-1").model_dump_json())


def test_an_accepted_visit_is_read_with_its_rank_date_and_needs():
    accepted = _through_the_wire(visits.VisitAccepted(**STATE)).parse(protocol.VisitAccepted)
    assert (accepted.highest_rank, accepted.visit_date) == ("minister", date(2031, 5, 4))
    assert (accepted.needs.interpreter_language, accepted.needs.press) == ("ja", True)


def test_cancelled_declined_and_erased_visits_are_read_by_request():
    for event in (
        visits.VisitCancelled(**STATE, was_accepted=True),
        visits.VisitDeclined(**STATE, reason="other", message="no", was_accepted=True),
    ):
        assert _through_the_wire(event).parse(protocol.VisitEnded).request_id == "r-1"
    erased = visits.VisitPersonalDataErased(request_id="r-1", reference="HEL-1")
    assert _through_the_wire(erased).parse(protocol.VisitPersonalDataErased).reference == "HEL-1"


def test_a_rescheduled_visit_is_read_with_its_new_day_hours_and_venue():
    event = visits.VisitRescheduled(
        **STATE | {"start_time": time(14, 0), "end_time": time(15, 30), "venue": "Kaupungintalo", "sequence": 1},
        previous_date=date(2031, 5, 3),
        message="",
    )
    wire = _through_the_wire(event)
    assert (wire.data["start_time"], wire.data["end_time"]) == ("14:00", "15:30")
    moved = wire.parse(protocol.VisitRescheduled)
    assert (moved.visit_date, moved.start_time, moved.end_time, moved.venue) == (
        date(2031, 5, 4),
        time(14, 0),
        time(15, 30),
        "Kaupungintalo",
    )
