"""Idempotency keys: which keys are valid, what is stored of them, and the tracking token derived from one."""

from datetime import timedelta

import pytest

from services.visits import domain, security
from services.visits.schemas import VisitRequestCreate, helsinki_today
from services.visits.submission import IdempotencyKey
from tests.builders import request_body


def body(**changes) -> VisitRequestCreate:
    day = (helsinki_today() + timedelta(days=90)).isoformat()
    fields = {"organisation": "Tallinn City", "preferred_dates": [{"start": day, "end": day}]}
    return VisitRequestCreate.model_validate(request_body(**fields | changes))


@pytest.mark.parametrize(
    "key",
    [
        "a",
        "x" * 200,
        "8e03978e-40d5-43e8-bc93-6894a57f9324",
        '"8e03978e-40d5-43e8-bc93-6894a57f9324"',
        "with spaces ~!",
    ],
)
def test_keys_of_1_to_200_printable_characters_are_valid(key):
    assert security.valid_idempotency_key(key)


@pytest.mark.parametrize("key", [None, "", "x" * 201, "tab\there", "new\nline", "café", 42])
def test_empty_long_non_printable_or_non_text_keys_are_not(key):
    assert not security.valid_idempotency_key(key)


def test_the_fingerprint_is_of_the_validated_body_so_spacing_and_case_do_not_matter():
    assert IdempotencyKey.of("api:k", body()) == IdempotencyKey.of(
        "api:k", body(organisation="  Tallinn City ", country="ee")
    )
    other = IdempotencyKey.of("api:k", body(delegation_size=6))
    assert other.fingerprint != IdempotencyKey.of("api:k", body()).fingerprint


def test_only_hashes_are_kept_and_the_namespace_separates_api_keys_from_form_nonces():
    api, form = IdempotencyKey.of("api:same", body()), IdempotencyKey.of("form:same", body())
    assert api.hash != form.hash and "same" not in api.hash and len(api.hash) == 64


def test_the_tracking_token_of_a_keyed_submission_is_the_same_each_time_and_secret_bound():
    token = security.keyed_tracking_token("secret", "0" * 64, "HEL-2027-000001")
    assert token == security.keyed_tracking_token("secret", "0" * 64, "HEL-2027-000001")
    assert token != security.keyed_tracking_token("other secret", "0" * 64, "HEL-2027-000001")
    assert token != security.keyed_tracking_token("secret", "1" * 64, "HEL-2027-000001")
    assert token != security.keyed_tracking_token("secret", "0" * 64, "HEL-2027-000002")  # the key, used again
    assert len(token) == len(security.new_tracking_token()) and "=" not in token


def test_loading_the_holidays_covers_this_year_and_the_next():
    today = helsinki_today()
    domain.load_holidays(today)
    assert not domain.is_working_day(today.replace(month=12, day=25))
    assert not domain.is_working_day(today.replace(year=today.year + 1, month=1, day=1))
