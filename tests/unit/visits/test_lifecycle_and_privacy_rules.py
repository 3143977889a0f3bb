"""Completing visits, answering proposed dates, retention cut-offs and what erasure blanks (no I/O)."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.visits import domain, privacy
from services.visits.domain import DateRange
from services.visits.models import HistoryEntry, Member, VisitRequest
from services.visits.schemas import DivisionUpdate, ProposalAnswer, helsinki_today
from shared.events import Envelope

PROPOSED = [DateRange(date(2031, 5, 5), date(2031, 5, 9)), DateRange(date(2031, 6, 2), date(2031, 6, 6))]


def test_the_delegation_may_take_a_proposed_range_or_a_part_of_one():
    assert domain.within_one(DateRange(date(2031, 5, 5), date(2031, 5, 9)), PROPOSED)
    assert domain.within_one(DateRange(date(2031, 6, 3), date(2031, 6, 4)), PROPOSED)


def test_a_range_outside_or_across_proposals_is_not_a_proposed_one():
    assert not domain.within_one(DateRange(date(2031, 5, 8), date(2031, 5, 12)), PROPOSED)
    assert not domain.within_one(DateRange(date(2031, 5, 9), date(2031, 6, 2)), PROPOSED)


def test_only_proposed_dates_can_be_answered_and_only_accepted_visits_completed():
    assert domain.check_transition("accept_proposed", "dates_proposed") == "routed"
    assert domain.check_transition("decline_proposed", "dates_proposed") == "cancelled"
    assert domain.check_transition("complete", "accepted") == "completed"
    for action, status in (
        ("accept_proposed", "routed"),
        ("complete", "routed"),
        ("complete", "completed"),
        ("decline", "completed"),
        ("cancel", "completed"),
    ):
        with pytest.raises(domain.InvalidTransition):
            domain.check_transition(action, status)


def test_a_visit_is_over_from_the_next_day_in_helsinki():
    visit_day = date(2031, 5, 6)
    assert not domain.visit_is_over(visit_day, datetime(2031, 5, 6, 20, 59, tzinfo=UTC))  # 23:59 in Helsinki
    assert domain.visit_is_over(visit_day, datetime(2031, 5, 6, 21, 1, tzinfo=UTC))  # 00:01 the next day


def test_retention_counts_days_from_the_visit_day_or_the_end_of_the_request():
    now = datetime(2031, 12, 1, 12, 0, tzinfo=UTC)
    visited_before, ended_by = domain.retention_cutoffs(now, 180)
    assert visited_before == date(2031, 6, 4)  # a visit on 3 June is due, one on 4 June is not yet
    assert ended_by == datetime(2031, 6, 4, 12, 0, tzinfo=UTC)
    assert domain.retention_cutoffs(now, 0) == (date(2031, 12, 1), now)


def test_an_answer_is_either_a_range_or_a_no():
    start = helsinki_today() + timedelta(days=100)
    period = {"start": start.isoformat(), "end": (start + timedelta(days=1)).isoformat()}
    taken = ProposalAnswer.model_validate({"accept_proposed": period})
    assert taken.accept_proposed.to_domain() == DateRange(start, start + timedelta(days=1))
    assert ProposalAnswer.model_validate({"decline_proposed": True, "message": "Too late."}).decline_proposed
    for body in ({}, {"decline_proposed": False}, {"accept_proposed": period, "decline_proposed": True}):
        with pytest.raises(ValidationError):
            ProposalAnswer.model_validate(body)


def test_division_settings_stay_within_sensible_bounds():
    assert DivisionUpdate(lead_time_weeks=0, decision_days=1).decision_days == 1
    for bad in (
        {"lead_time_weeks": -1, "decision_days": 5},
        {"lead_time_weeks": 4, "decision_days": 0},
        {"lead_time_weeks": 53, "decision_days": 5},
    ):
        with pytest.raises(ValidationError):
            DivisionUpdate.model_validate(bad)


def _request() -> VisitRequest:
    return VisitRequest(
        id="r-1",
        contact_name="Kaja Kallas",
        contact_email="kaja@example.org",
        contact_phone="+372 555 0101",
        purpose="Meet the Mayor.",
        needs={"accessibility": "Kaja uses a wheelchair", "press": False},
        members=[
            Member(position=0, name="Kaja Kallas", title="Prime Minister", role="leader"),
            Member(position=1, name="Dr", title=None, role="aide"),
        ],
    )


def test_the_personal_values_are_contact_details_and_member_names_and_titles():
    assert privacy.personal_values(_request()) == [
        "kaja@example.org",
        "Prime Minister",
        "+372 555 0101",
        "Kaja Kallas",
    ]  # "Dr" is too short to look for


def test_scrub_blanks_every_copy_of_a_personal_value_in_nested_json():
    details = {"message": "Dear KAJA KALLAS, see you", "dates": [{"note": "call +372 555 0101"}], "size": 4}
    assert privacy.scrub(details, privacy.personal_values(_request())) == {
        "message": "Dear [erased], see you",
        "dates": [{"note": "call [erased]"}],
        "size": 4,
    }


def test_the_delegations_own_words_in_history_go_entirely():
    secrets = privacy.personal_values(_request())
    theirs = HistoryEntry(by="delegation", details={"declined_proposed": True, "message": "Our minister is ill"})
    staff = HistoryEntry(by="person", details={"reason": "other", "message": "Sorry, Kaja Kallas"})
    assert privacy.erased_history(theirs, secrets) == {"declined_proposed": True, "message": "[erased]"}
    assert privacy.erased_history(staff, secrets) == {"reason": "other", "message": "Sorry, [erased]"}


def test_an_event_payload_loses_the_contact_and_tracking_link_but_keeps_the_statistics():
    data = {
        "request_id": "r-1",
        "country": "EE",
        "contact_name": "Kaja Kallas",
        "contact_email": "kaja@example.org",
        "tracking_url": "https://x/track/HEL-1?token=abc",
        "needs": {"accessibility": "ramp", "press": True},
        "delegation_size": 4,
        "actor": "delegation",
    }
    payload = Envelope(type="visit.submitted.v1", source="visits", subject="r-1", data=data).model_dump_json()
    erased = json.loads(privacy.erased_payload(payload, privacy.personal_values(_request())))
    assert erased["data"] == data | {
        "contact_name": None,
        "contact_email": None,
        "tracking_url": None,
        "needs": {"accessibility": "[erased]", "press": True},
    }
    assert privacy.erased_payload(privacy.erased_payload(payload, []), []) == privacy.erased_payload(payload, [])


def test_only_whole_words_of_free_text_are_scrubbed_and_the_codes_stay():
    # A member called "Ann" and titled "Mayor": neither "annual" nor the rank "mayor" nor an id may suffer.
    secrets = ["Mayor", "Ann"]
    assert (
        privacy.scrub("Our annual plan; the Mayor's office; mayors", secrets)
        == "Our annual plan; the [erased]'s office; mayors"
    )
    data = {
        "request_id": "3f2a-ann0",
        "highest_rank": "mayor",
        "host": "Deputy Mayor",
        "actor": "officer-1",
        "message": "Ann, welcome",
    }
    payload = Envelope(type="visit.accepted.v1", source="visits", subject="r-1", data=data).model_dump_json()
    assert json.loads(privacy.erased_payload(payload, secrets))["data"] == data | {"message": "[erased], welcome"}
    entry = HistoryEntry(
        by="person", details={"visit_date": "2027-05-05", "host": "Deputy Mayor", "message": "Ann: annual plan"}
    )
    assert privacy.erased_history(entry, secrets) == {
        "visit_date": "2027-05-05",
        "host": "Deputy Mayor",
        "message": "[erased]: annual plan",
    }


def test_the_request_fields_count_what_is_there_to_erase():
    assert privacy.request_fields(_request()) == {
        "contact_name": 1,
        "contact_email": 1,
        "contact_phone": 1,
        "member_names": 2,
        "member_titles": 1,
        "purpose": 1,
        "accessibility_needs": 1,
    }
