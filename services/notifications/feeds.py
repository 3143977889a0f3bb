"""Calendar feeds: read models of accepted visits (from visits.v1) and of their protocol plans (from protocol.v1),
the feeds' secret addresses, and each feed as an iCalendar document.

Notifications keeps every calendar of the city, as it keeps every e-mail: one place turns a visit into a VEVENT
(the feeds and the delegation's .ics alike), and each rule it applies is answered on its owner's events: visits
numbers the revisions (SEQUENCE), protocol gives the level and the conflicts.
"""

import hashlib
import secrets
import uuid
from datetime import UTC, datetime

import structlog
from jinja2.environment import TemplateModule
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications import calendars, domain
from services.notifications.events import (
    ProtocolPlanCreated,
    VisitAccepted,
    VisitCancelled,
    VisitDeclined,
    VisitEvent,
    VisitRescheduled,
)
from services.notifications.messages import Renderer
from services.notifications.models import DIVISIONS, CalendarFeed, CalendarPlan, CalendarVisit
from shared.auth import Principal
from shared.events import Envelope

log = structlog.get_logger()
FEED_PATH = "/calendars/feed.ics"


class FeedError(Exception):
    """A feed request refused; the API maps each kind to a status code."""


class FeedNotFound(FeedError):
    pass


class FeedForbidden(FeedError):
    pass


class InvalidFeed(FeedError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


# ---------------------------------------------------------------- the read models


async def visit_scheduled(*, session: AsyncSession, envelope: Envelope) -> None:
    """An accepted or rescheduled visit: its calendar entry as it now stands."""
    event = envelope.parse(VisitRescheduled if envelope.type == VisitRescheduled.type else VisitAccepted)
    row = await session.get(CalendarVisit, event.request_id)
    if row is not None and row.sequence > event.sequence:
        return  # an older revision, replayed: the entry already shows a later one
    row = row or CalendarVisit(request_id=event.request_id)
    row.reference, row.division, row.organisation = event.reference, event.division, event.organisation
    row.country, row.delegation_size, row.visit_date = event.country, event.delegation_size, event.visit_date
    row.start_time, row.end_time, row.venue = event.start_time, event.end_time, event.venue
    row.sequence, row.cancelled_at, row.updated_at = event.sequence, None, envelope.time
    session.add(row)


async def visit_called_off(*, session: AsyncSession, envelope: Envelope) -> None:
    """A cancelled or declined visit that had been accepted stays in the feeds, cancelled, for a while."""
    event: VisitEvent = envelope.parse(VisitCancelled if envelope.type == VisitCancelled.type else VisitDeclined)
    row = await session.get(CalendarVisit, event.request_id)
    if not event.was_accepted or row is None or row.sequence > event.sequence:
        return
    row.sequence, row.cancelled_at, row.updated_at = event.sequence, envelope.time, envelope.time


async def plan_changed(*, session: AsyncSession, envelope: Envelope) -> None:
    """A protocol plan's level and conflicts, for the protocol feed."""
    plan = envelope.parse(ProtocolPlanCreated)
    row = await session.get(CalendarPlan, plan.request_id) or CalendarPlan(request_id=plan.request_id, conflicts=[])
    row.level, row.updated_at = plan.level, envelope.time
    if plan.status != "cancelled":  # a cancelled plan clears its conflicts; the feed still shows the visit called off
        row.conflicts = plan.conflicts
    session.add(row)


# ---------------------------------------------------------------- the feeds' addresses


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feed_url(base_url: str, token: str) -> str:
    # The token in the query, where the tracing already redacts tokens (a path would reach the span names' store).
    return f"{base_url.rstrip('/')}{FEED_PATH}?token={token}"


async def create_feed(
    *, session: AsyncSession, principal: Principal, kind: domain.FeedKind, division: str | None, now: datetime
) -> tuple[CalendarFeed, str]:
    """A new secret address for a feed, and its token (shown this once: only its hash is kept).

    Admins create any feed; a division officer only its own division's.
    """
    if kind == "division":
        division = division or principal.division
        if division not in DIVISIONS:
            raise InvalidFeed("division", "a division's feed needs a known division")
    elif division is not None:
        raise InvalidFeed("division", f"a {kind} feed is not a division's")
    if principal.role != "admin" and not (kind == "division" and division == principal.division):
        raise FeedForbidden("only admins create feeds other than their own division's")
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed(
        id=str(uuid.uuid4()),
        kind=kind,
        division=division,
        token_hash=hash_token(token),
        created_at=now,
        created_by=principal.sub,
    )
    session.add(feed)
    await session.commit()
    log.info("notifications.calendar_feed_created", feed_id=feed.id, kind=kind, division=division)
    return feed, token


async def list_feeds(*, session: AsyncSession, principal: Principal) -> list[CalendarFeed]:
    """Feeds newest first, revoked ones too; a division officer sees its division's."""
    query = select(CalendarFeed).order_by(CalendarFeed.created_at.desc(), CalendarFeed.id)
    if principal.role != "admin":
        query = query.where(CalendarFeed.kind == "division", CalendarFeed.division == principal.division)
    return list(await session.scalars(query))


async def revoke_feed(*, session: AsyncSession, principal: Principal, feed_id: str, now: datetime) -> CalendarFeed:
    """The address stops working at once (404); revoking twice changes nothing."""
    feed = await session.get(CalendarFeed, feed_id, with_for_update=True)
    own = feed is not None and feed.kind == "division" and feed.division == principal.division
    if feed is None or not (principal.role == "admin" or own):
        raise FeedNotFound(feed_id)
    if feed.revoked_at is None:
        feed.revoked_at, feed.revoked_by = now, principal.sub
        await session.commit()
        log.info("notifications.calendar_feed_revoked", feed_id=feed.id, kind=feed.kind, division=feed.division)
    return feed


async def feed_by_token(*, session: AsyncSession, token: str) -> CalendarFeed:
    """The live feed the token opens; FeedNotFound for an unknown or revoked one."""
    feed = await session.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == hash_token(token)))
    if feed is None or feed.revoked_at is not None:
        raise FeedNotFound("no such feed")
    return feed


# ---------------------------------------------------------------- a feed as iCalendar


async def render_feed(
    *, session: AsyncSession, feed: CalendarFeed, renderer: Renderer, language: str, now: datetime
) -> bytes:
    """The feed's visits: accepted ones from a year back on, called-off ones for 30 days after."""
    rule = domain.FEEDS[feed.kind]
    query = (
        select(CalendarVisit, CalendarPlan)
        .outerjoin(CalendarPlan, CalendarPlan.request_id == CalendarVisit.request_id)
        .where(
            CalendarVisit.visit_date >= now.astimezone(calendars.HELSINKI).date() - domain.PAST_KEPT,
            or_(CalendarVisit.cancelled_at.is_(None), CalendarVisit.cancelled_at >= now - domain.CANCELLED_KEPT),
        )
        .order_by(CalendarVisit.visit_date, CalendarVisit.reference)
    )
    if feed.kind == "division":  # the rule decides; this only spares reading the other divisions' rows
        query = query.where(CalendarVisit.division == feed.division)
    words = renderer.calendar_words(language)
    entries = []
    for visit, plan in await session.execute(query):
        listed = domain.Listed(visit.division, plan.level if plan else None, tuple(plan.conflicts) if plan else ())
        if rule(listed, feed.division):
            entries.append(_entry(visit, plan if feed.kind == "protocol" else None, words))
    return calendars.calendar(
        entries,
        name=str(words.feed_name(feed.kind, feed.division)),
        language=language,
        calendar_uid=f"{feed.id}@visitdesk",
    )


def _entry(visit: CalendarVisit, plan: CalendarPlan | None, words: TemplateModule) -> calendars.Entry:
    """No personal data: the reference, the organisation, its country and size, the place and time."""
    changed = max(visit.updated_at, plan.updated_at) if plan else visit.updated_at
    return calendars.Entry(
        reference=visit.reference,
        visit_date=visit.visit_date,
        start_time=visit.start_time,
        end_time=visit.end_time,
        venue=visit.venue,
        sequence=visit.sequence,
        cancelled=visit.cancelled_at is not None,
        changed_at=changed if changed.tzinfo else changed.replace(tzinfo=UTC),  # SQLite keeps no offset
        summary=str(words.staff_summary(visit.reference, visit.organisation, visit.country, visit.delegation_size)),
        description=str(
            words.staff_description(visit.division, plan.level if plan else None, plan.conflicts if plan else [])
        ),
    )
