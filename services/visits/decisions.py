"""Decisions on a request: the owning division accepts, declines, redirects, proposes dates or moves an accepted
visit; the delegation answers proposed dates or cancels; staff cancel. Each is one transaction with its history,
audit row and event."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.visits import domain, events, security
from services.visits.access import Forbidden, NotFound, Stale, by_reference
from services.visits.config import Settings
from services.visits.journal import ANONYMOUS, DELEGATION, Actor, ranges, record_change, record_denied
from services.visits.models import FeeScheduleRow, VisitRequest
from services.visits.routing import divisions_by_code, leave_waitlist, route_request
from services.visits.schemas import (
    AcceptDecision,
    DeclineDecision,
    ProposalAnswer,
    ProposeDecision,
    RedirectDecision,
    RescheduleDecision,
)
from services.visits.waitlist import pass_on_offer
from shared.auth import Principal

Decision = AcceptDecision | DeclineDecision | RedirectDecision | ProposeDecision | RescheduleDecision


async def decide(
    *,
    session: AsyncSession,
    settings: Settings,
    reference: str,
    principal: Principal,
    decision: Decision,
    now: datetime,
    seen_version: int | None = None,
) -> VisitRequest:
    """Accept, decline, redirect, propose dates or move an accepted visit; the owning division's officers (and
    admins) only.

    Decisions on one request are made one at a time; with `seen_version` (If-Match), only on that version.
    """
    request = await by_reference(session, reference, lock=True)
    if not domain.can_act(principal.role, principal.division, request.division):
        await record_denied(
            session,
            actor=Actor.staff(principal),
            request=request,
            attempted=f"decide.{decision.decision}",
            why="other_division",
            now=now,
        )
        raise NotFound(reference)
    if seen_version is not None and seen_version != request.version:
        raise Stale(reference)
    actor, offer = Actor.staff(principal), (request.division, request.offered_week)
    if isinstance(decision, AcceptDecision):
        await _accept(session, settings, request, decision, actor, now)
    elif isinstance(decision, DeclineDecision):
        await _decline(session, settings, request, decision, actor, now)
    elif isinstance(decision, RedirectDecision):
        await _redirect(session, settings, request, decision, actor, now)
    elif isinstance(decision, RescheduleDecision):
        await _reschedule(session, settings, request, decision, actor, now)
    else:
        await _propose(session, settings, request, decision, actor, now)
    await pass_on_offer(session, settings, request, offer, now)
    await session.commit()
    return request


async def _accept(
    session, settings, request: VisitRequest, decision: AcceptDecision, actor: Actor, now: datetime
) -> None:
    status = domain.check_transition("accept", request.status)
    _check_visit_date(request, decision.visit_date, now)
    start, end = decision.start_time, decision.end_time
    domain.check_times(start, end)
    schedule = await session.get(FeeScheduleRow, request.division)
    if schedule is not None and start is None:
        raise domain.InvalidDecision(
            "start_time", "required with end_time: this division's fee is counted by the hour", "end_time"
        )
    visit_quote = None
    if schedule is not None and start is not None and end is not None:
        visit_quote = domain.quote(
            schedule.to_domain(), rank=request.highest_rank, visitors=request.delegation_size, start=start, end=end
        )
    request.status, request.visit_date, request.host = status, decision.visit_date, decision.host
    request.start_time, request.end_time, request.venue = start, end, decision.venue
    request.quote = visit_quote.as_json() if visit_quote else None
    await record_change(
        session,
        settings,
        request,
        events.VisitAccepted,
        action="accepted",
        actor=actor,
        now=now,
        details={"visit_date": decision.visit_date.isoformat(), "host": decision.host} | _times(request),
    )


async def _reschedule(
    session, settings, request: VisitRequest, decision: RescheduleDecision, actor: Actor, now: datetime
) -> None:
    """A new day, times, venue or host for an accepted visit; fields left out keep their values."""
    domain.check_transition("reschedule", request.status)
    given = decision.model_fields_set
    start = decision.start_time if "start_time" in given else request.start_time
    end = decision.end_time if "end_time" in given else request.end_time
    venue = decision.venue if "venue" in given else request.venue
    host = decision.host or request.host
    _check_visit_date(request, decision.visit_date, now)
    domain.check_times(start, end)
    before = (request.visit_date, request.start_time, request.end_time, request.venue, request.host)
    if (decision.visit_date, start, end, venue, host) == before:
        raise domain.InvalidDecision("visit_date", "the visit already has this date, time, venue and host")
    visit_quote = domain.Quote.from_json(request.quote) if request.quote else None
    if visit_quote is not None and (start is None or end is None):
        raise domain.InvalidDecision(
            "start_time", "required with end_time: the visit's fee is counted by the hour", "end_time"
        )
    previous = request.visit_date
    request.visit_date, request.start_time, request.end_time = decision.visit_date, start, end
    request.venue, request.host = venue, host
    if visit_quote is not None and start is not None and end is not None:
        request.quote = domain.requote(visit_quote, start=start, end=end).as_json()
    request.sequence += 1
    await record_change(
        session,
        settings,
        request,
        events.VisitRescheduled,
        action="rescheduled",
        actor=actor,
        now=now,
        details={"previous_date": previous.isoformat(), "visit_date": decision.visit_date.isoformat(), "host": host}
        | _times(request)
        | ({"message": decision.message} if decision.message else {}),
        previous_date=previous,
        message=decision.message,
    )


def _check_visit_date(request: VisitRequest, day, now: datetime) -> None:
    if day < domain.local_date(now):
        raise domain.InvalidDecision("visit_date", "must not be in the past")
    if not domain.within_any(day, request.preferred_dates + request.proposed_dates):
        raise domain.InvalidDecision("visit_date", "must fall within a preferred or proposed date range")


def _times(request: VisitRequest) -> dict[str, str | None]:
    """The visit's hours and venue as its history shows them."""
    clock = {name: getattr(request, name) for name in ("start_time", "end_time")}
    return {name: t.strftime("%H:%M") if t else None for name, t in clock.items()} | {"venue": request.venue}


async def _decline(
    session, settings, request: VisitRequest, decision: DeclineDecision, actor: Actor, now: datetime
) -> None:
    was_accepted = request.status == "accepted"
    request.status = domain.check_transition("decline", request.status)
    request.decline_reason, request.ended_at = decision.reason, now
    if was_accepted:  # a new revision: calendars show the visit called off
        request.sequence += 1
    await leave_waitlist(session, request)
    await record_change(
        session,
        settings,
        request,
        events.VisitDeclined,
        action="declined",
        actor=actor,
        now=now,
        details={"reason": decision.reason, "message": decision.message},
        reason=decision.reason,
        message=decision.message,
        was_accepted=was_accepted,
    )


async def _redirect(
    session, settings, request: VisitRequest, decision: RedirectDecision, actor: Actor, now: datetime
) -> None:
    domain.check_transition("redirect", request.status)
    divisions = await divisions_by_code(session)
    if decision.to_division not in divisions:
        raise domain.InvalidDecision("to_division", "unknown division")
    if decision.to_division == request.division:
        raise domain.InvalidDecision("to_division", "the request is already with this division")
    from_division, target = request.division, divisions[decision.to_division]
    request.status, request.division = "redirected", target.code
    request.proposed_dates = []  # the old division's proposal goes with it: the new one decides on the preferred
    request.info_divisions = [d for d in request.info_divisions if d != target.code]
    request.short_notice = domain.is_short_notice(
        request.preferred_dates, domain.local_date(request.created_at), target.lead_time_weeks
    )
    await record_change(
        session,
        settings,
        request,
        events.VisitRedirected,
        action="redirected",
        actor=actor,
        now=now,
        details={"from_division": from_division, "to_division": target.code, "message": decision.message},
        from_division=from_division,
        message=decision.message,
        redirected_by="person",
    )
    await route_request(session, settings, request, target, actor=actor, by="person", now=now)


async def _propose(
    session, settings, request: VisitRequest, decision: ProposeDecision, actor: Actor, now: datetime
) -> None:
    request.status = domain.check_transition("propose", request.status)
    request.proposed_dates = [r.to_domain() for r in decision.proposed_dates]
    # The division has answered: the request waits on the delegation, with no decision due until it does (its
    # answer routes the request again, on a fresh deadline); nor is it overdue any more.
    request.decision_deadline = request.escalated_at = None
    await leave_waitlist(session, request)
    proposed = ranges(request.proposed_dates)
    await record_change(
        session,
        settings,
        request,
        events.VisitDatesProposed,
        action="dates_proposed",
        actor=actor,
        now=now,
        details={"proposed_dates": proposed, "message": decision.message},
        proposed_dates=proposed,
        message=decision.message,
    )


async def cancel_request(
    *,
    session: AsyncSession,
    settings: Settings,
    reference: str,
    principal: Principal | None,
    token: str | None,
    now: datetime,
) -> VisitRequest:
    """The delegation (with its token) or the owning division's staff call the visit off."""
    if principal is not None and principal.role not in ("admin", "division_officer"):
        raise Forbidden(f"role {principal.role} may not cancel requests")
    request = await by_reference(session, reference, lock=True)
    if principal is not None:
        actor = Actor.staff(principal)
        if not domain.can_act(principal.role, principal.division, request.division):
            await record_denied(
                session, actor=actor, request=request, attempted="cancel", why="other_division", now=now
            )
            raise NotFound(reference)
    else:
        actor = DELEGATION
        if not token or not security.token_matches(token, request.tracking_token_hash):
            await record_denied(session, actor=ANONYMOUS, request=request, attempted="cancel", why="bad_token", now=now)
            raise NotFound(reference)
    was_accepted, offer = request.status == "accepted", (request.division, request.offered_week)
    request.status, request.ended_at = domain.check_transition("cancel", request.status), now
    if was_accepted:  # a new revision: calendars show the visit called off
        request.sequence += 1
    fee = _late_fee(request, now) if was_accepted else None
    request.late_fee = fee.as_json() if fee else None
    await leave_waitlist(session, request)
    await record_change(
        session,
        settings,
        request,
        events.VisitCancelled,
        action="cancelled",
        actor=actor,
        now=now,
        details={"late_fee": request.late_fee} if fee else None,
        was_accepted=was_accepted,
        late_fee=request.late_fee,
    )
    await pass_on_offer(session, settings, request, offer, now)
    await session.commit()
    return request


def _late_fee(request: VisitRequest, now: datetime) -> domain.LateFee | None:
    """What calling the accepted visit off now costs under its quote's terms (whoever calls it off)."""
    visit_quote = domain.Quote.from_json(request.quote) if request.quote else None
    return domain.late_fee(visit_quote, visit_date=request.visit_date, today=domain.local_date(now))


# ---------------------------------------------------------------- the delegation's answer to proposed dates


async def answer_proposal(
    *,
    session: AsyncSession,
    settings: Settings,
    reference: str,
    token: str | None,
    answer: ProposalAnswer,
    now: datetime,
) -> VisitRequest:
    """The delegation (with its token) takes one of the proposed ranges, or turns them all down."""
    request = await by_reference(session, reference, lock=True)
    if not token or not security.token_matches(token, request.tracking_token_hash):
        await record_denied(
            session,
            actor=ANONYMOUS,
            request=request,
            attempted="respond",
            why="bad_token" if token else "no_credentials",
            now=now,
        )
        raise NotFound(reference)
    if answer.accept_proposed is not None:
        await _take_proposed(session, settings, request, answer.accept_proposed.to_domain(), answer.message, now)
    else:
        await _turn_down_proposed(session, settings, request, answer.message, now)
    await session.commit()
    return request


async def _take_proposed(
    session: AsyncSession,
    settings: Settings,
    request: VisitRequest,
    picked: domain.DateRange,
    message: str,
    now: datetime,
) -> None:
    """The picked range becomes the preferred dates and the division decides again, on a fresh deadline.

    The delegation's words, if any, stay in the request's history (erased with its personal data).
    """
    domain.check_transition("accept_proposed", request.status)
    if not domain.within_one(picked, request.proposed_dates):
        raise domain.InvalidDecision("accept_proposed", "must lie within one of the proposed date ranges")
    request.preferred_dates, request.proposed_dates = [picked], []
    division = (await divisions_by_code(session))[request.division]
    await route_request(
        session,
        settings,
        request,
        division,
        actor=DELEGATION,
        by="delegation",
        now=now,
        details={"accepted_dates": ranges([picked])} | ({"message": message} if message else {}),
        message=message,
    )


async def _turn_down_proposed(
    session: AsyncSession, settings: Settings, request: VisitRequest, message: str, now: datetime
) -> None:
    """None of the proposed dates suit the delegation: the request is cancelled, in its own words."""
    request.status, request.ended_at = domain.check_transition("decline_proposed", request.status), now
    await record_change(
        session,
        settings,
        request,
        events.VisitCancelled,
        action="cancelled",
        actor=DELEGATION,
        now=now,
        details={"declined_proposed": True, "message": message},
        message=message,
        declined_proposed=True,
    )
