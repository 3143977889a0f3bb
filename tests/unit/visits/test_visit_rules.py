"""The visit rules in domain.py: routing, flags, transitions, working days, weeks and access."""

from datetime import UTC, date, datetime

import pytest

from services.visits import domain
from services.visits.domain import DateRange

RULES = {
    "smart-city": "forum-virium",
    "climate": "urban-environment",
    "innovation": "economic-development",
    "mobility": "urban-environment",
    "education": "education",
    "participation": "city-executive-office",
    "culture": "culture-and-leisure",
    "design": "city-executive-office",
}
DIVISIONS = set(RULES.values()) | {"international-affairs", "business-hub", "social-services-health"}


@pytest.mark.parametrize("area,division", RULES.items())
def test_the_primary_focus_area_picks_the_owning_division(area, division):
    assert domain.route([area], RULES, DIVISIONS) == domain.Routing(division, [])


def test_other_focus_areas_go_to_their_divisions_for_information_once_each():
    routing = domain.route(["education", "climate", "mobility"], RULES, DIVISIONS)
    assert routing == domain.Routing("education", ["urban-environment"])


def test_the_owner_is_not_also_told_for_information():
    assert domain.route(["participation", "design"], RULES, DIVISIONS).info_divisions == []


def test_an_unmapped_primary_focus_area_goes_to_international_affairs():
    rules = {k: v for k, v in RULES.items() if k != "design"}
    assert domain.route(["design", "culture"], rules, DIVISIONS) == domain.Routing(
        "international-affairs", ["culture-and-leisure"]
    )


def test_a_rule_pointing_at_an_unknown_division_falls_back_to_international_affairs():
    assert domain.route(["culture"], {"culture": "gone"}, DIVISIONS).division == "international-affairs"


def test_short_notice_is_measured_from_the_earliest_preferred_day():
    today = date(2027, 1, 4)
    later = DateRange(date(2027, 2, 22), date(2027, 2, 26))
    assert domain.is_short_notice([later, DateRange(date(2027, 1, 20), date(2027, 1, 21))], today, 4)
    assert not domain.is_short_notice([later], today, 4)
    assert domain.is_short_notice([later], today, 8)  # education's eight weeks


def test_short_notice_boundary_is_exactly_the_lead_time():
    today = date(2027, 1, 4)
    assert not domain.is_short_notice([DateRange(date(2027, 2, 1), date(2027, 2, 1))], today, 4)
    assert domain.is_short_notice([DateRange(date(2027, 1, 31), date(2027, 2, 1))], today, 4)


def test_organisation_names_differing_in_case_and_spacing_are_the_same():
    assert domain.organisation_key("  City of  TALLINN ") == domain.organisation_key("city of tallinn")
    assert domain.organisation_key("Ｔａｌｌｉｎｎ") == "tallinn"


def test_the_duplicate_window_reaches_back_24_months():
    assert domain.duplicate_window_start(datetime(2027, 5, 10, 12, tzinfo=UTC)) == datetime(2025, 5, 10, 12, tzinfo=UTC)
    assert domain.duplicate_window_start(datetime(2028, 2, 29, tzinfo=UTC)) == datetime(2026, 2, 28, tzinfo=UTC)


@pytest.mark.parametrize(
    "action,status,after",
    [
        ("accept", "routed", "accepted"),
        ("accept", "dates_proposed", "accepted"),
        ("decline", "accepted", "declined"),
        ("decline", "waitlisted", "declined"),
        ("redirect", "routed", "routed"),
        ("propose", "routed", "dates_proposed"),
        ("cancel", "accepted", "cancelled"),
        ("cancel", "waitlisted", "cancelled"),
    ],
)
def test_allowed_transitions(action, status, after):
    assert domain.check_transition(action, status) == after


@pytest.mark.parametrize(
    "action,status",
    [
        ("accept", "declined"),
        ("accept", "waitlisted"),
        ("accept", "accepted"),
        ("decline", "cancelled"),
        ("redirect", "accepted"),
        ("propose", "cancelled"),
        ("cancel", "cancelled"),
        ("cancel", "declined"),
    ],
)
def test_other_transitions_are_conflicts(action, status):
    with pytest.raises(domain.InvalidTransition):
        domain.check_transition(action, status)


def test_working_days_skip_weekends():
    assert domain.add_working_days(date(2027, 2, 5), 5) == date(2027, 2, 12)  # Friday -> next Friday


def test_working_days_skip_finnish_public_holidays():
    # Easter 2027: Good Friday 26 March and Easter Monday 29 March are holidays.
    assert domain.add_working_days(date(2027, 3, 24), 5) == date(2027, 4, 2)
    # Christmas 2026: Christmas Eve (Thu) and Christmas Day (Fri) are holidays; then New Year and Epiphany.
    assert domain.add_working_days(date(2026, 12, 22), 5) == date(2026, 12, 31)
    assert domain.add_working_days(date(2026, 12, 31), 3) == date(2027, 1, 7)


def test_a_request_is_overdue_the_day_after_its_deadline_in_helsinki():
    deadline = date(2027, 2, 12)
    assert not domain.is_overdue(deadline, datetime(2027, 2, 12, 21, 59, tzinfo=UTC))
    assert domain.is_overdue(deadline, datetime(2027, 2, 12, 22, 0, tzinfo=UTC))  # midnight in Helsinki


def test_a_range_touches_every_iso_week_it_spans():
    assert DateRange(date(2027, 2, 14), date(2027, 2, 22)).iso_weeks() == ["2027-W06", "2027-W07", "2027-W08"]
    assert DateRange(date(2026, 12, 31), date(2027, 1, 1)).iso_weeks() == ["2026-W53"]


def test_waitlisting_needs_every_preferred_week_full():
    preferred = [DateRange(date(2027, 2, 15), date(2027, 2, 16)), DateRange(date(2027, 3, 1), date(2027, 3, 2))]
    assert not domain.all_weeks_full(preferred, {"2027-W07"})
    assert domain.all_weeks_full(preferred, {"2027-W07", "2027-W09"})


def test_nearest_open_weeks_start_from_the_first_preferred_date():
    preferred = [DateRange(date(2027, 2, 15), date(2027, 2, 16))]
    assert domain.nearest_open_weeks(preferred, {"2027-W07", "2027-W09"}) == ["2027-W08", "2027-W10", "2027-W11"]


def test_references_are_zero_padded_per_year():
    assert domain.reference(2026, 123) == "HEL-2026-000123"


def test_division_officers_see_their_own_and_for_information_requests_only():
    assert domain.can_view("division_officer", "education", "education", [])
    assert domain.can_view("division_officer", "culture-and-leisure", "education", ["culture-and-leisure"])
    assert not domain.can_view("division_officer", "forum-virium", "education", ["culture-and-leisure"])
    assert domain.can_view("communications", None, "education", [])


def test_only_the_owning_division_or_an_admin_may_act():
    assert domain.can_act("division_officer", "education", "education")
    assert domain.can_act("admin", None, "education")
    assert not domain.can_act("division_officer", "culture-and-leisure", "education")
    assert not domain.can_act("communications", None, "education")
