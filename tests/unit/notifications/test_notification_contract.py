"""Notifications reads the times, revisions, fees and plan updates that visits and protocol publish."""

from datetime import date, time
from decimal import Decimal

from services.notifications import events as notifications
from services.protocol import events as protocol
from services.visits import domain
from services.visits import events as visits
from shared.events import Envelope

STATE = {
    "request_id": "r-1",
    "reference": "HEL-1",
    "status": "accepted",
    "division": "education",
    "info_divisions": [],
    "focus_areas": ["education"],
    "organisation": "Examplia",
    "country": "EE",
    "language": "fi",
    "contact_name": "Kaja",
    "contact_email": "kaja@example.org",
    "highest_rank": "expert",
    "delegation_size": 12,
    "preferred_dates": [visits.DateRange(start=date(2031, 5, 1), end=date(2031, 5, 9))],
    "visit_date": date(2031, 5, 4),
    "host": "Rehtori",
    "start_time": time(9, 0),
    "end_time": time(12, 0),
    "venue": "Kallion lukio",
    "sequence": 2,
    "needs": visits.Needs(),
    "flags": [],
    "tracking_url": None,
    "actor": "officer-1",
}
SCHEDULE = domain.FeeSchedule("EUR", Decimal("35.75"), Decimal("0"), Decimal("25.5"), 14, Decimal("50"))
QUOTE = domain.quote(SCHEDULE, rank="expert", visitors=12, start=time(9), end=time(12))


def _wire(event, source="visits") -> Envelope:
    return Envelope.model_validate_json(Envelope.wrap(event, source=source, subject="r-1").model_dump_json())


def test_an_acceptance_is_read_with_its_hours_venue_revision_and_quote_in_decimals():
    accepted = _wire(visits.VisitAccepted(**STATE, quote=QUOTE.as_json())).parse(notifications.VisitAccepted)
    assert (accepted.start_time, accepted.end_time, accepted.venue, accepted.sequence) == (
        time(9),
        time(12),
        "Kallion lukio",
        2,
    )
    assert (accepted.quote.net, accepted.quote.gross) == (Decimal("1287.00"), Decimal("1615.19"))
    assert accepted.quote.terms.late_cancellation_percent == Decimal("50")


def test_a_move_and_a_late_cancellation_are_read_with_what_the_mails_say():
    moved = visits.VisitRescheduled(**STATE, previous_date=date(2031, 5, 3), message="Toinen sali.")
    read = _wire(moved).parse(notifications.VisitRescheduled)
    assert (read.previous_date, read.message) == (date(2031, 5, 3), "Toinen sali.")
    fee = domain.late_fee(QUOTE, visit_date=date(2031, 5, 4), today=date(2031, 5, 1))
    cancelled = visits.VisitCancelled(**STATE | {"status": "cancelled"}, was_accepted=True, late_fee=fee.as_json())
    assert _wire(cancelled).parse(notifications.VisitCancelled).late_fee.gross == Decimal("807.59")


def test_a_plan_update_is_read_with_its_level_conflicts_and_status():
    update = protocol.PlanUpdated(
        request_id="r-1",
        reference="HEL-1",
        division="education",
        level=2,
        host="Deputy Mayor",
        visit_date=date(2031, 5, 4),
        items=[],
        conflicts=["HEL-2"],
        status="cancelled",
    )
    read = _wire(update, source="protocol").parse(notifications.ProtocolPlanUpdated)
    assert (read.level, read.conflicts, read.status) == (2, ["HEL-2"], "cancelled")
