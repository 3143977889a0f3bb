"""How the flat HTML form maps onto VisitRequestCreate, and errors back onto form fields."""

from pydantic import ValidationError
from starlette.datastructures import FormData

from services.visits import texts
from services.visits.pages import _minutes, form_errors, form_field, form_payload
from services.visits.schemas import VisitRequestCreate


def test_the_form_becomes_the_api_shape():
    form = FormData(
        [
            ("organisation", " Tallinn "),
            ("country", "EE"),
            ("contact_name", "Mari"),
            ("contact_email", "m@example.org"),
            ("contact_phone", ""),
            ("language", "en"),
            ("primary_focus_area", "education"),
            ("other_focus_areas", "climate"),
            ("other_focus_areas", "education"),
            ("delegation_size", "12"),
            ("highest_rank", "mayor"),
            ("preferred_1_start", "2027-02-15"),
            ("preferred_1_end", ""),
            ("preferred_2_start", ""),
            ("preferred_2_end", ""),
            ("purpose", "Schools"),
            ("members", "Mari Maasikas; Adviser\n\nJaan Tamm"),
            ("needs_press", "yes"),
        ]
    )
    payload = form_payload(form)
    assert payload["focus_areas"] == ["education", "climate"]
    assert payload["preferred_dates"] == [{"start": "2027-02-15", "end": "2027-02-15"}]
    assert payload["contact"]["phone"] is None
    assert payload["members"] == [
        {"name": "Mari Maasikas", "title": "Adviser", "role": None},
        {"name": "Jaan Tamm", "title": None, "role": None},
    ]
    assert payload["needs"] == {"interpreter_language": None, "press": True, "accessibility": None}


def test_without_a_main_topic_no_focus_area_is_sent():
    assert form_payload(FormData([("other_focus_areas", "climate")]))["focus_areas"] == []


def test_errors_land_on_the_fields_the_user_sees():
    assert form_field(("contact", "email"), "value_error") == ("contact_email", 0)
    assert form_field(("preferred_dates", 1, "end"), "value_error") == ("preferred_2_end", 2)
    assert form_field(("preferred_dates", 1, "end"), "value_error", [1, 3]) == ("preferred_3_end", 3)  # 2 left empty
    assert form_field(("preferred_dates",), "too_short") == ("preferred_1_start", 1)
    assert form_field(("focus_areas",), "too_short") == ("primary_focus_area", 0)
    assert form_field(("focus_areas",), "too_long") == ("other_focus_areas", 0)
    assert form_field(("focus_areas", 2), "literal_error") == ("other_focus_areas", 0)


def test_every_field_has_an_error_message_in_every_language():
    try:
        VisitRequestCreate.model_validate(form_payload(FormData([])))
    except ValidationError as exc:
        for lang in texts.LANGUAGES:
            errors = form_errors(exc, lang)
            assert list(errors)[:2] == ["organisation", "country"]
            assert all(errors.values())
    assert set(texts.ERRORS["fi"]) == set(texts.ERRORS["sv"]) == set(texts.ERRORS["en"])
    assert set(texts.TEXTS["fi"]) == set(texts.TEXTS["sv"]) == set(texts.TEXTS["en"])


def test_the_wait_after_too_many_requests_is_said_in_good_grammar():
    assert [_minutes(texts.TEXTS[lang], 1).rsplit(" ", 3)[-3:] for lang in ("sv", "en")] == [
        ["om", "en", "minut."],
        ["in", "a", "minute."],
    ]
    assert _minutes(texts.TEXTS["en"], 5).endswith("in 5 minutes.")
