"""VisitRequestCreate and the decision bodies: every field's rule, with the field named."""

from datetime import date, timedelta

import pytest
from pydantic import TypeAdapter, ValidationError

from services.visits.schemas import Decision, VisitRequestCreate, helsinki_today
from tests.builders import request_body


def valid() -> dict:
    start = helsinki_today() + timedelta(days=60)
    return request_body(
        organisation="Tallinn City Government",
        country="ee",
        focus_areas=["education", "climate"],
        highest_rank="mayor",
        preferred_dates=[{"start": start.isoformat(), "end": (start + timedelta(days=2)).isoformat()}],
        purpose="Learn about the Helsinki school model.",
        members=[{"name": "Mihhail Kõlvart", "title": "Mayor", "role": "head"}],
        needs={"interpreter_language": "Estonian", "press": True},
    )


def errors_for(body: dict) -> list[tuple]:
    with pytest.raises(ValidationError) as info:
        VisitRequestCreate.model_validate(body)
    return [tuple(e["loc"]) for e in info.value.errors()]


def test_a_complete_request_is_valid_and_normalised():
    request = VisitRequestCreate.model_validate(valid())
    assert request.country == "EE"
    assert request.needs.press is True


def test_optional_parts_may_be_left_out():
    body = valid()
    del body["members"], body["needs"], body["contact"]["phone"]
    assert VisitRequestCreate.model_validate(body).members == []


@pytest.mark.parametrize(
    "change,loc",
    [
        (lambda b: b.update(organisation=""), ("organisation",)),
        (lambda b: b.update(organisation="x" * 201), ("organisation",)),
        (lambda b: b.update(country="XX"), ("country",)),
        (lambda b: b.update(country="FIN"), ("country",)),
        (lambda b: b["contact"].update(email="not-an-address"), ("contact", "email")),
        (lambda b: b["contact"].update(name=""), ("contact", "name")),
        (lambda b: b["contact"].update(phone="call me"), ("contact", "phone")),
        (lambda b: b.update(language="de"), ("language",)),
        (lambda b: b.update(focus_areas=[]), ("focus_areas",)),
        (lambda b: b.update(focus_areas=["education", "climate", "design", "culture"]), ("focus_areas",)),
        (lambda b: b.update(focus_areas=["education", "education"]), ("focus_areas",)),
        (lambda b: b.update(focus_areas=["space"]), ("focus_areas", 0)),
        (lambda b: b.update(delegation_size=0), ("delegation_size",)),
        (lambda b: b.update(delegation_size=201), ("delegation_size",)),
        (lambda b: b.update(highest_rank="emperor"), ("highest_rank",)),
        (lambda b: b.update(preferred_dates=[]), ("preferred_dates",)),
        (lambda b: b.update(preferred_dates=b["preferred_dates"] * 4), ("preferred_dates",)),
        (lambda b: b["preferred_dates"][0].update(start="2020-01-01"), ("preferred_dates", 0, "start")),
        (
            lambda b: b["preferred_dates"][0].update(end=(helsinki_today() + timedelta(days=1)).isoformat()),
            ("preferred_dates", 0, "end"),
        ),
        (lambda b: b["preferred_dates"][0].update(end="9999-12-31"), ("preferred_dates", 0, "end")),
        (
            lambda b: b["preferred_dates"][0].update(end=(helsinki_today() + timedelta(days=5 * 365 + 2)).isoformat()),
            ("preferred_dates", 0, "end"),
        ),
        (
            lambda b: b["preferred_dates"][0].update(end=(helsinki_today() + timedelta(days=60 + 367)).isoformat()),
            ("preferred_dates", 0, "end"),
        ),
        (lambda b: b.update(purpose="x" * 2001), ("purpose",)),
        (lambda b: b.update(purpose=""), ("purpose",)),
        (lambda b: b.update(unexpected="field"), ("unexpected",)),
    ],
)
def test_each_invalid_field_is_named(change, loc):
    body = valid()
    change(body)
    assert loc in errors_for(body)


def test_a_date_range_may_be_a_single_day_starting_today():
    body = valid()
    body["preferred_dates"] = [{"start": helsinki_today().isoformat(), "end": helsinki_today().isoformat()}]
    assert VisitRequestCreate.model_validate(body).preferred_dates[0].start == helsinki_today()


def test_a_period_may_be_a_year_long_and_end_five_years_ahead():
    body, last = valid(), helsinki_today() + timedelta(days=5 * 365 + 1)
    body["preferred_dates"] = [{"start": (last - timedelta(days=366)).isoformat(), "end": last.isoformat()}]
    assert VisitRequestCreate.model_validate(body).preferred_dates[0].end == last


@pytest.mark.parametrize(
    "body",
    [
        {"decision": "accept", "visit_date": "2027-02-15", "host": "Deputy Mayor"},
        {"decision": "decline", "reason": "no_capacity", "message": "Full this spring."},
        {"decision": "redirect", "to_division": "urban-environment", "message": "Climate is theirs."},
        {
            "decision": "propose",
            "proposed_dates": [
                {
                    "start": (date.today() + timedelta(days=90)).isoformat(),
                    "end": (date.today() + timedelta(days=91)).isoformat(),
                }
            ],
        },
    ],
)
def test_each_decision_kind_parses(body):
    assert TypeAdapter(Decision).validate_python(body).decision == body["decision"]


def test_a_decline_needs_a_reason_from_the_fixed_list():
    with pytest.raises(ValidationError) as info:
        TypeAdapter(Decision).validate_python({"decision": "decline", "reason": "busy"})
    assert info.value.errors()[0]["loc"] == ("decline", "reason")
