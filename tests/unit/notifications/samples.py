"""Sample events of every type notifications reads, built through its own event models, and their rendering."""

from services.notifications import domain
from services.notifications.events import NOTIFYING
from tests import builders

VISIT = builders.visit_state(
    "visit.accepted.v1",
    request_id="5b0c1f3e-8f7a-4d55-9a51-0d1f2e3c4b5a",
    reference="HEL-2027-0042",
    info_divisions=["culture-and-leisure"],
    focus_areas=["education", "culture"],
    preferred_dates=[{"start": "2027-03-01", "end": "2027-03-05"}],
    visit_date="2027-03-03",
    host="Deputy Mayor",
    tracking_url="https://visitdesk.example/track/HEL-2027-0042?token=s3cret",
)
QUOTE = {  # 12 visitors for 3 hours at 35.75 € per visitor and hour, VAT 25.5 %, half of the net after the free 14 days
    "currency": "EUR",
    "visitors": 12,
    "hours": "3.00",
    "price_per_visitor_hour": "35.75",
    "minimum_net": "0.00",
    "net": "1287.00",
    "vat_percent": "25.5",
    "vat": "328.19",
    "gross": "1615.19",
    "terms": {"free_until_days": 14, "late_cancellation_percent": "50"},
}
LATE_FEE = {
    "currency": "EUR",
    "percent": "50",
    "net": "643.50",
    "vat_percent": "25.5",
    "vat": "164.09",
    "gross": "807.59",
}
EXTRA = {
    "visit.routed.v1": {"routed_by": "rule"},
    "visit.waitlisted.v1": {"nearest_open_weeks": ["2027-W11", "2027-W12"]},
    "visit.declined.v1": {"reason": "no_capacity", "message": "Tervetuloa ensi vuonna."},
    "visit.redirected.v1": {"from_division": "culture-and-leisure", "message": "Kuuluu teille."},
    "visit.dates_proposed.v1": {"proposed_dates": [{"start": "2027-04-05", "end": "2027-04-09"}], "message": ""},
    "visit.cancelled.v1": {"was_accepted": True},
    "visit.rescheduled.v1": {"status": "accepted", "previous_date": "2027-03-02", "message": "", "sequence": 1},
    "visit.escalated.v1": {"deadline": "2027-01-15"},
}
OTHERS = {
    "capacity.week_full.v1": {"division": "education", "iso_week": "2027-W09", "reserved": 6, "limit": 6},
    "protocol.plan_ready.v1": {
        "request_id": VISIT["request_id"],
        "reference": VISIT["reference"],
        "division": "education",
        "level": 2,
        "visit_date": "2027-03-03",
    },
    "protocol.plan_created.v1": {
        "request_id": VISIT["request_id"],
        "reference": VISIT["reference"],
        "division": "education",
        "level": 2,
        "host": "Deputy Mayor",
        "visit_date": "2027-03-03",
        "conflicts": ["HEL-2027-0040"],
        "items": [
            {"key": "host", "owner": "protocol", "required": True, "state": "open"},
            {"key": "gift", "owner": "protocol", "required": False, "state": "done"},
        ],
    },
}


def build(event_type: str, **changes):
    """An event of `event_type` as its producer would send it, with `changes` applied."""
    data = OTHERS.get(event_type) or VISIT | {"status": event_type.split(".")[1]} | EXTRA.get(event_type, {})
    return NOTIFYING[event_type].model_validate(data | changes)


def render(renderer, event, recipient, lang):
    """The message `recipient` gets in `lang` about `event`."""
    context = event.model_dump() | {"lang": lang, "recipient": recipient, "event_type": event.type}
    return renderer.render(domain.template_name(lang, recipient, event.type), context)
