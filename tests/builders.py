"""What the tests send and receive, built in one place: a delegation's request (the API's body and the form's
fields) and the visit.* events the visits service publishes.

Each builder gives a valid value; a test names only the fields it is about, so a new required field is added
here once rather than in every test.
"""

import uuid
from datetime import date, timedelta
from typing import Any

from services.visits.schemas import helsinki_today
from shared.events import Envelope
from tests.support import unique


def future(days: int) -> str:
    """The ISO date `days` after today in Helsinki."""
    return (helsinki_today() + timedelta(days=days)).isoformat()


def next_monday(weeks_ahead: int) -> date:
    """The Monday `weeks_ahead` weeks from this week's."""
    today = date.today()
    return today + timedelta(days=7 * weeks_ahead - today.weekday())


def request_body(**changes: Any) -> dict[str, Any]:
    """A valid submission (POST /api/v1/requests), far enough ahead for every division's lead time."""
    body = {
        "organisation": unique("Delegation "),
        "country": "EE",
        "contact": {"name": "Mari Maasikas", "email": "mari@example.org", "phone": "+372 640 4141"},
        "language": "en",
        "focus_areas": ["education"],
        "delegation_size": 12,
        "highest_rank": "expert",
        "preferred_dates": [{"start": future(100), "end": future(104)}],
        "purpose": "Learn how Helsinki schools support teachers.",
        "members": [{"name": "Mari Maasikas", "title": "Head of education", "role": "leader"}],
        "needs": {"interpreter_language": None, "press": False, "accessibility": None},
    }
    return body | changes


def form_fields(body: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """The public form's fields carrying a request body, as a browser posts them; `fields` add or replace some
    (the form's own: csrf_token, lang, submission_id)."""
    body = body or request_body()
    contact, needs, focus = body["contact"], body.get("needs") or {}, body["focus_areas"]
    form = {
        "organisation": body["organisation"],
        "country": body["country"],
        "contact_name": contact["name"],
        "contact_email": contact["email"],
        "contact_phone": contact.get("phone") or "",
        "language": body["language"],
        "primary_focus_area": focus[0] if focus else "",
        "other_focus_areas": focus[1:],
        "delegation_size": str(body["delegation_size"]),
        "highest_rank": body["highest_rank"],
        "members": "\n".join(_member_line(member) for member in body.get("members") or []),
        "purpose": body["purpose"],
        "website": "",  # the honeypot a person leaves empty
    }
    dates = body["preferred_dates"]
    for n in (1, 2, 3):
        period = dates[n - 1] if n <= len(dates) else {}
        form |= {f"preferred_{n}_start": period.get("start", ""), f"preferred_{n}_end": period.get("end", "")}
    if needs.get("press"):
        form["needs_press"] = "yes"
    for need in ("interpreter_language", "accessibility"):
        if needs.get(need):
            form[f"needs_{need}"] = needs[need]
    return form | fields


def _member_line(member: dict[str, Any]) -> str:
    return "; ".join(member.get(part) or "" for part in ("name", "title", "role")).rstrip("; ")


def visit_state(event_type: str = "visit.submitted.v1", **changes: Any) -> dict[str, Any]:
    """The data of a visit.* event as the visits service publishes it: the request's whole state after the change
    (its status from the event's type), and any event-specific fields given in `changes`."""
    state = {
        "request_id": str(uuid.uuid4()),
        "reference": f"HEL-2031-{uuid.uuid4().int % 10**6:06d}",
        "status": event_type.split(".")[1],
        "division": "education",
        "info_divisions": [],
        "focus_areas": ["education"],
        "organisation": "Skolverket",
        "country": "SE",
        "language": "sv",
        "contact_name": "Anna Lind",
        "contact_email": "anna.lind@example.se",
        "highest_rank": "expert",
        "delegation_size": 12,
        "preferred_dates": [{"start": "2031-03-03", "end": "2031-03-07"}],
        "visit_date": None,
        "host": None,
        "needs": {"interpreter_language": None, "press": False, "accessibility": None},
        "flags": [],
        "tracking_url": None,
        "actor": "officer-1",
    }
    return state | {name: value.isoformat() if isinstance(value, date) else value for name, value in changes.items()}


def visit_envelope(event_type: str, *, envelope_id: str | None = None, **changes: Any) -> Envelope:
    """A visits.v1 envelope of `event_type`, its subject the request as the visits relay keys it."""
    data = visit_state(event_type, **changes)
    envelope = Envelope(type=event_type, source="visits", subject=data["request_id"], data=data)
    return envelope.model_copy(update={"id": envelope_id}) if envelope_id else envelope


def one_day(day: date | str) -> list[dict[str, str]]:
    """Preferred dates of a single day."""
    return [{"start": str(day), "end": str(day)}]
