"""Who hears what: the recipient rules table of the notifications service."""

import pytest

from services.notifications import domain
from services.notifications.events import NOTIFYING


def test_a_low_level_acceptance_goes_to_the_delegation_and_the_division_only(sample):
    assert domain.recipients(sample("visit.accepted.v1")) == ["delegation", "division"]


@pytest.mark.parametrize("rank", sorted(domain.HIGH_LEVEL_RANKS))
def test_communications_hears_of_every_accepted_level_one_or_two_visit(sample, rank):
    assert "communications" in domain.recipients(sample("visit.accepted.v1", highest_rank=rank))


def test_communications_hears_of_an_accepted_press_visit_whatever_the_rank(sample):
    event = sample("visit.accepted.v1", highest_rank="other", needs={"press": True})
    assert domain.recipients(event) == ["delegation", "division", "communications"]


def test_communications_does_not_hear_of_an_accepted_senior_officials_visit(sample):
    assert "communications" not in domain.recipients(sample("visit.accepted.v1", highest_rank="senior_official"))


def test_the_delegation_gets_a_receipt_on_submission_and_nobody_else(sample):
    assert domain.recipients(sample("visit.submitted.v1")) == ["delegation"]


def test_a_rule_routed_request_goes_to_the_division_without_bothering_the_delegation(sample):
    assert domain.recipients(sample("visit.routed.v1", routed_by="rule")) == ["division"]


def test_a_request_back_from_the_waitlist_is_told_to_the_division_and_the_delegation(sample):
    assert domain.recipients(sample("visit.routed.v1", routed_by="waitlist")) == ["division", "delegation"]


def test_a_routing_by_a_person_is_left_to_the_redirect_event(sample):
    assert domain.recipients(sample("visit.routed.v1", routed_by="person")) == []
    assert domain.recipients(sample("visit.redirected.v1")) == ["delegation", "division"]


def test_waitlisting_is_told_to_the_delegation_and_communications(sample):
    assert domain.recipients(sample("visit.waitlisted.v1")) == ["delegation", "communications"]


def test_a_decline_and_a_date_proposal_go_to_the_delegation(sample):
    assert domain.recipients(sample("visit.declined.v1")) == ["delegation"]
    assert domain.recipients(sample("visit.dates_proposed.v1")) == ["delegation"]


def test_an_escalation_reaches_the_division_communications_and_international_affairs(sample):
    assert domain.recipients(sample("visit.escalated.v1")) == ["division", "communications", "international_affairs"]


def test_cancelling_a_prominent_accepted_visit_tells_communications_and_the_protocol_office(sample):
    event = sample("visit.cancelled.v1", was_accepted=True, highest_rank="minister")
    assert domain.recipients(event) == ["delegation", "division", "communications", "protocol_office"]


def test_cancelling_a_request_never_accepted_tells_only_the_delegation_and_the_division(sample):
    event = sample("visit.cancelled.v1", was_accepted=False, highest_rank="minister")
    assert domain.recipients(event) == ["delegation", "division"]


def test_declining_a_prominent_visit_tells_communications_and_the_protocol_office_once_it_was_accepted(sample):
    accepted = sample("visit.declined.v1", was_accepted=True, highest_rank="minister")
    never_accepted = sample("visit.declined.v1", was_accepted=False, highest_rank="minister", needs={"press": True})
    assert domain.recipients(accepted) == ["delegation", "communications", "protocol_office"]
    assert domain.recipients(never_accepted) == ["delegation"]


def test_declining_an_accepted_press_visit_tells_communications_whatever_the_rank(sample):
    event = sample("visit.declined.v1", was_accepted=True, highest_rank="other", needs={"press": True})
    assert "communications" in domain.recipients(event)


def test_declining_an_accepted_low_level_visit_tells_the_protocol_office_but_not_communications(sample):
    event = sample("visit.declined.v1", was_accepted=True, highest_rank="senior_official")
    assert domain.recipients(event) == ["delegation", "protocol_office"]


def test_a_decline_after_acceptance_is_told_to_whoever_hears_the_same_cancellation(sample):
    for rank, press in (("minister", False), ("expert", True), ("expert", False)):
        declined = sample("visit.declined.v1", was_accepted=True, highest_rank=rank, needs={"press": press})
        cancelled = sample("visit.cancelled.v1", was_accepted=True, highest_rank=rank, needs={"press": press})
        staff = {"communications", "protocol_office"}
        assert staff & set(domain.recipients(declined)) == staff & set(domain.recipients(cancelled))


def test_protocol_plans_go_to_the_protocol_office(sample):
    assert domain.recipients(sample("protocol.plan_created.v1")) == ["protocol_office"]
    assert domain.recipients(sample("protocol.plan_ready.v1")) == ["protocol_office"]


def test_a_full_week_is_told_to_its_division(sample):
    assert domain.recipients(sample("capacity.week_full.v1")) == ["division"]


def test_every_rule_names_an_event_the_service_reads_and_every_such_event_has_a_rule():
    ruled = {rule.event_type for rule in domain.RULES}
    assert ruled == set(NOTIFYING)


def test_only_the_delegation_gets_the_delegation_texts_and_everyone_else_the_staff_texts():
    assert domain.audience("delegation") == "delegation"
    assert {domain.audience(k) for k in ("division", "communications", "protocol_office", "international_affairs")} == {
        "staff"
    }
    assert domain.template_name("sv", "delegation", "visit.accepted.v1") == "sv/delegation/visit.accepted.j2"
    assert domain.template_name("fi", "division", "capacity.week_full.v1") == "fi/staff/capacity.week_full.j2"


def test_a_moved_visit_is_told_to_the_delegation_the_division_and_the_protocol_office(sample):
    assert domain.recipients(sample("visit.rescheduled.v1")) == ["delegation", "division", "protocol_office"]
    prominent = sample("visit.rescheduled.v1", highest_rank="minister")
    assert domain.recipients(prominent) == ["delegation", "division", "communications", "protocol_office"]


def test_only_the_delegations_mails_about_an_agreed_visit_carry_its_calendar_file(sample):
    assert domain.with_calendar(sample("visit.accepted.v1"), "delegation")
    assert domain.with_calendar(sample("visit.rescheduled.v1"), "delegation")
    assert domain.with_calendar(sample("visit.cancelled.v1", was_accepted=True), "delegation")
    assert domain.with_calendar(sample("visit.declined.v1", was_accepted=True), "delegation")
    assert not domain.with_calendar(sample("visit.cancelled.v1", was_accepted=False), "delegation")
    assert not domain.with_calendar(sample("visit.declined.v1", was_accepted=False), "delegation")
    assert not domain.with_calendar(sample("visit.accepted.v1"), "division")
    assert not domain.with_calendar(sample("visit.submitted.v1"), "delegation")


def test_each_feed_holds_the_visits_its_rule_names():
    mine, theirs = domain.Listed("education", 4, ()), domain.Listed("culture-and-leisure", 4, ())
    assert domain.FEEDS["division"](mine, "education") and not domain.FEEDS["division"](theirs, "education")
    protocol = domain.FEEDS["protocol"]
    assert protocol(domain.Listed("education", 1, ()), None) and protocol(domain.Listed("education", 2, ()), None)
    assert not protocol(domain.Listed("education", 3, ()), None)
    assert protocol(domain.Listed("education", 3, ("HEL-2027-000001",)), None)  # in a conflict
    assert not protocol(domain.Listed("education", None, ()), None)  # no plan yet: protocol has not said
    assert domain.FEEDS["communications"](theirs, None)
