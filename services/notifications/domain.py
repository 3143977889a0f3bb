"""Who hears what: every recipient rule of the service, in one table."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from services.notifications.events import RecipientKind
from shared.events import Event

Audience = Literal["delegation", "staff"]

# Levels 1–2 of the protocol ladder (DESIGN.md "Protocol"): the visits Communications must know of.
HIGH_LEVEL_RANKS = frozenset({"head_of_state", "head_of_government", "minister", "ambassador", "mayor"})


def always(_event: Event) -> bool:
    """Every event of the type."""
    return True


def never(_event: Event) -> bool:
    """No event of the type."""
    return False


def high_level_or_press(event: Event) -> bool:
    """A level 1–2 guest, or guests who want the press there."""
    return event.highest_rank in HIGH_LEVEL_RANKS or event.needs.press


def back_from_waitlist(event: Event) -> bool:
    """A waitlisted request that a reopened week let through."""
    return event.routed_by == "waitlist"


def not_a_redirect(event: Event) -> bool:
    """Routed by a rule, from the waitlist or by the delegation taking proposed dates; not by a person."""
    # A person's routing is a redirect, and visit.redirected.v1 already tells the new division, with the message.
    return event.routed_by != "person"


def was_accepted(event: Event) -> bool:
    """The visit had been accepted before this change."""
    return event.was_accepted


def was_accepted_and_prominent(event: Event) -> bool:
    """An accepted visit Communications was told of."""
    return event.was_accepted and high_level_or_press(event)


@dataclass(frozen=True)
class Rule:
    event_type: str
    recipient: RecipientKind
    when: Callable[[Event], bool] = always
    calendar: Callable[[Event], bool] = never  # when the e-mail carries the visit as an .ics attachment


# Read a row as: on <event>, <recipient> hears, when <condition>, with the visit's .ics attached when <calendar>.
# The division is the request's owning division after the change (for a redirect: the new one). Staff e-mails go
# in the staff language (setting, Finnish by default); the delegation's in the request's language.
RULES: tuple[Rule, ...] = (
    Rule("visit.submitted.v1", "delegation"),  # receipt with reference and tracking link
    Rule("visit.routed.v1", "division", not_a_redirect),  # new, back from the waitlist, or proposed dates taken
    Rule("visit.routed.v1", "delegation", back_from_waitlist),  # "a place opened, the division is deciding"
    Rule("visit.waitlisted.v1", "delegation"),  # with the nearest open weeks
    Rule("visit.waitlisted.v1", "communications"),
    Rule("visit.accepted.v1", "delegation", calendar=always),
    Rule("visit.accepted.v1", "division"),  # the division's own record, and its webhook
    Rule("visit.accepted.v1", "communications", high_level_or_press),
    Rule("visit.rescheduled.v1", "delegation", calendar=always),  # the new day, times or venue, and an updated .ics
    Rule("visit.rescheduled.v1", "division"),
    Rule("visit.rescheduled.v1", "communications", high_level_or_press),  # they were told it is coming
    Rule("visit.rescheduled.v1", "protocol_office"),  # its protocol plan is re-dated
    Rule("visit.declined.v1", "delegation", calendar=was_accepted),  # the .ics says the visit is off
    Rule("visit.declined.v1", "communications", was_accepted_and_prominent),  # as for a cancelled accepted visit
    Rule("visit.declined.v1", "protocol_office", was_accepted),  # its protocol plan is cancelled
    Rule("visit.dates_proposed.v1", "delegation"),
    Rule("visit.redirected.v1", "delegation"),  # "your request moved to X"
    Rule("visit.redirected.v1", "division"),
    Rule("visit.cancelled.v1", "delegation", calendar=was_accepted),  # the .ics says the visit is off
    Rule("visit.cancelled.v1", "division"),
    Rule("visit.cancelled.v1", "communications", was_accepted_and_prominent),  # they were told it is coming
    Rule("visit.cancelled.v1", "protocol_office", was_accepted),  # a protocol plan exists for it
    Rule("visit.escalated.v1", "division"),
    Rule("visit.escalated.v1", "communications"),
    Rule("visit.escalated.v1", "international_affairs"),
    Rule("protocol.plan_created.v1", "protocol_office"),
    Rule("protocol.plan_ready.v1", "protocol_office"),
    Rule("capacity.week_full.v1", "division"),
)


def recipients(event: Event) -> list[RecipientKind]:
    """The recipient kinds that hear `event`, in rule order."""
    return [rule.recipient for rule in RULES if rule.event_type == event.type and rule.when(event)]


def with_calendar(event: Event, recipient: RecipientKind) -> bool:
    """Whether `recipient`'s e-mail about `event` carries the visit's .ics."""
    return any(
        rule.event_type == event.type and rule.recipient == recipient and rule.when(event) and rule.calendar(event)
        for rule in RULES
    )


# ---------------------------------------------------------------- calendar feeds

FeedKind = Literal["division", "protocol", "communications"]
FEED_KINDS: tuple[FeedKind, ...] = ("division", "protocol", "communications")
CANCELLED_KEPT = timedelta(days=30)  # a called-off visit stays in the feeds, STATUS:CANCELLED, this long
PAST_KEPT = timedelta(days=365)  # visits further back leave the feeds (calendars keep their own copies)


@dataclass(frozen=True)
class Listed:
    """What the feed rules read of a visit; `level` and `conflicts` are its protocol plan's, once protocol has one."""

    division: str
    level: int | None
    conflicts: tuple[str, ...]


def own_division(visit: Listed, division: str | None) -> bool:
    """The visits the division hosts."""
    return visit.division == division


def high_level_or_in_conflict(visit: Listed, _division: str | None) -> bool:
    """Protocol levels 1–2, and any visit whose plan clashes with another (as protocol's plans say)."""
    return visit.level is not None and (visit.level <= 2 or bool(visit.conflicts))


def every_visit(_visit: Listed, _division: str | None) -> bool:
    """The whole city's accepted visits."""
    return True


# Which accepted visits each feed holds.
FEEDS: dict[FeedKind, Callable[[Listed, str | None], bool]] = {
    "division": own_division,
    "protocol": high_level_or_in_conflict,
    "communications": every_visit,
}


def audience(recipient: RecipientKind) -> Audience:
    """Which set of texts a recipient reads."""
    return "delegation" if recipient == "delegation" else "staff"


def template_name(language: str, recipient: RecipientKind, event_type: str) -> str:
    """`fi/staff/visit.accepted.j2`: one template per language, audience and event type."""
    return f"{language}/{audience(recipient)}/{event_type.removesuffix('.v1')}.j2"
