"""Use cases of the visits service: one transaction each, with its audit row and outbox event."""

import asyncio
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from contextvars import Context
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import structlog
from opentelemetry import context as otel_context
from prometheus_client import Counter, Histogram
from sqlalchemy import bindparam, delete, func, select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.visits import domain, events, security
from services.visits.config import Settings
from services.visits.journal import (
    ANONYMOUS, DELEGATION, RULE, SYSTEM, Actor, Deferred, ranges, record_change, record_denied, record_setting,
)
from services.visits.models import (
    DivisionRow, FullWeek, HistoryEntry, Member, ReferenceCounter, RequestFocusArea, RoutingRule, SubmissionKey,
    VisitRequest, WaitlistEntry,
)
from services.visits.schemas import (
    AcceptDecision, DeclineDecision, DivisionUpdate, HistoryOut, ProposalAnswer, ProposeDecision, RedirectDecision,
    VisitRequestCreate,
)
from shared.auth import Principal
from shared.db import column_values, database_unavailable, insert_of

log = structlog.get_logger()


class NotFound(Exception):
    """No such request, or the caller may not know it exists."""


class Forbidden(Exception):
    """The caller is known but their role may not do this."""


class Unknown(Exception):
    """No such focus area or division to configure."""


# ---------------------------------------------------------------- submission

class KeyReused(Exception):
    """The idempotency key came before with a different body."""


@dataclass(frozen=True)
class Submission:
    """What a submission answers; a retry with the same idempotency key gets it again."""

    reference: str
    status: str
    division: str
    flags: list[str]
    token: str

    def answer(self) -> dict[str, Any]:
        """What is kept for a retry: everything but the token, which is derived again from the key."""
        return {"reference": self.reference, "status": self.status, "division": self.division, "flags": self.flags}


@dataclass(frozen=True)
class IdempotencyKey:
    """A namespaced key ("api:...", "form:...") and the body it came with, both only as hashes."""

    hash: str
    fingerprint: str

    @classmethod
    def of(cls, key: str, data: VisitRequestCreate) -> "IdempotencyKey":
        body = json.dumps(data.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return cls(hashlib.sha256(key.encode()).hexdigest(), hashlib.sha256(body.encode()).hexdigest())


@dataclass(eq=False)
class Pending:
    """One submission on its way into a transaction, and the future its caller awaits."""

    data: VisitRequestCreate
    now: datetime
    key: IdempotencyKey | None
    answer: asyncio.Future
    trace: otel_context.Context  # the caller's request: its events continue that trace, not the writer's
    reference: str = ""

    # A caller that has gone (a dropped connection) has a done future: its submission is kept all the same.
    def resolve(self, submission: Submission) -> None:
        if not self.answer.done():
            self.answer.set_result(submission)

    def fail(self, exc: BaseException) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)

    def replay(self, settings: Settings, first: SubmissionKey) -> None:
        """Answer as the key's first submission did, or KeyReused for another body."""
        try:
            self.resolve(_replay(settings, self.key, first))
        except KeyReused as exc:
            self.fail(exc)


MOST_PER_TRANSACTION = 32
INTAKE_BATCH = Histogram("visitdesk_intake_batch_size", "Submissions written in one transaction",
                         buckets=(1, 2, 4, 8, 16, MOST_PER_TRANSACTION))
INTAKE_SPLIT = Counter("visitdesk_intake_batches_split_total", "Shared transactions that failed and were retried "
                       "one submission at a time")


class Intake:
    """Submissions that arrive while a transaction is being written wait for it and go into the next one together.

    Under load one transaction carries many submissions, and its statements (the reads, the inserts, the
    commit) are shared between them; a lone submission waits for nothing, it is written at once. A transaction
    that fails is tried again one submission at a time, so one bad submission never fails the others.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings):
        self.sessions, self.settings = sessions, settings
        self.waiting: list[Pending] = []
        self.writer: asyncio.Task | None = None

    async def submit(self, data: VisitRequestCreate, *, now: datetime,
                     idempotency_key: str | None = None) -> Submission:
        """Store a request, route it (or waitlist it) and publish both events; a key seen before gets its first
        answer."""
        key = IdempotencyKey.of(idempotency_key, data) if idempotency_key else None
        pending = Pending(data, now, key, asyncio.get_running_loop().create_future(), otel_context.get_current())
        self.waiting.append(pending)
        if self.writer is None:  # in a context of its own: not that of the request that happened to start it
            self.writer = asyncio.create_task(self._write_waiting(), name="visits-intake", context=Context())
        return await pending.answer

    async def _write_waiting(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[:MOST_PER_TRANSACTION], self.waiting[MOST_PER_TRANSACTION:]
                INTAKE_BATCH.observe(len(batch))
                try:
                    await _submit_all(self.sessions, self.settings, batch)
                except Exception as exc:  # never leave a caller waiting
                    for pending in batch:
                        pending.fail(exc)
                except BaseException:  # cancelled: nobody is left to write what waits either
                    for pending in batch + self.waiting:
                        pending.fail(RuntimeError("intake stopped"))
                    self.waiting = []
                    raise
        finally:
            self.writer = None

    async def drain(self) -> None:
        """Let the submissions in hand be written (on shutdown)."""
        while self.writer is not None:
            await asyncio.shield(self.writer)


async def _submit_all(sessions: async_sessionmaker[AsyncSession], settings: Settings, batch: list[Pending]) -> None:
    """Answer every pending submission: a retried key gets its first answer, the others are stored together."""
    batch, again = _first_of_each_key(batch)  # a double click: the first is stored, the others answer as it did
    firsts = await _reserve(sessions, batch)
    fresh = []
    for pending in batch:
        first = firsts.get(pending.key.hash) if pending.key else None
        if first is not None:
            pending.replay(settings, first)
        else:
            fresh.append(pending)
    if fresh:
        await _store_together(sessions, settings, fresh)
    if again:
        await _submit_all(sessions, settings, again)


def _first_of_each_key(batch: list[Pending]) -> tuple[list[Pending], list[Pending]]:
    """The batch without the submissions whose idempotency key came earlier in it, and those."""
    seen: set[str] = set()
    first, again = [], []
    for pending in batch:
        (again if pending.key and pending.key.hash in seen else first).append(pending)
        if pending.key:
            seen.add(pending.key.hash)
    return first, again


async def _reserve(sessions: async_sessionmaker[AsyncSession], batch: list[Pending]) -> dict[str, SubmissionKey]:
    """The first submissions of keys seen before; a reference for each of the others. Before their transaction.

    Bumped inside that transaction, the year's counter row would stay locked until it commits, and concurrent
    submissions would queue on it. Here the bump is one autocommitted statement a year; the price is a gap in
    the numbers when a submission fails after it, which is accepted.
    """
    async with sessions() as session:
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        hashes = [p.key.hash for p in batch if p.key]
        firsts = ({first.key_hash: first for first in await session.scalars(
            select(SubmissionKey).where(SubmissionKey.key_hash.in_(hashes)))} if hashes else {})
        by_year: dict[int, list[Pending]] = {}
        for pending in batch:
            if not (pending.key and pending.key.hash in firsts):
                by_year.setdefault(domain.local_date(pending.now).year, []).append(pending)
        for year, pendings in by_year.items():
            last = await session.scalar(_bump_reference(session.bind.dialect.name),
                                        {"year": year, "count": len(pendings)})
            for number, pending in enumerate(pendings, start=last - len(pendings) + 1):
                pending.reference = domain.reference(year, number)
        return firsts


def _replay(settings: Settings, key: IdempotencyKey, first: SubmissionKey) -> Submission:
    if first.fingerprint != key.fingerprint:
        raise KeyReused()
    token = security.keyed_tracking_token(settings.csrf_secret, key.hash, first.answer["reference"])
    return Submission(**first.answer, token=token)


async def _store_together(sessions: async_sessionmaker[AsyncSession], settings: Settings,
                          batch: list[Pending]) -> None:
    """One transaction for the batch; when it fails, one for each submission, so only a bad one fails."""
    async with sessions() as session:
        try:
            submissions = await _store(session, settings, batch)
        except Exception as exc:
            await session.rollback()
            if database_unavailable(exc):  # trying each alone would only wait out the same outage again
                for pending in batch:
                    pending.fail(exc)
                return
            if len(batch) > 1:
                INTAKE_SPLIT.inc()
                log.info("visits.intake_batch_split", size=len(batch), error=type(exc).__name__)
            else:
                pending = batch[0]
                first = (await session.get(SubmissionKey, pending.key.hash)
                         if isinstance(exc, IntegrityError) and pending.key else None)
                if first is None:
                    pending.fail(exc)
                else:  # a concurrent submission with this key committed first: answer as it did
                    pending.replay(settings, first)
                return
        else:
            for pending, submission in zip(batch, submissions, strict=True):
                pending.resolve(submission)
            return
    for pending in batch:
        await _store_together(sessions, settings, [pending])


async def _store(session: AsyncSession, settings: Settings, batch: list[Pending]) -> list[Submission]:
    """The batch's transaction: three reads, the requests' rows, then history, audit and outbox rows."""
    divisions, rules = await _divisions_and_rules(session)
    tokens = [security.keyed_tracking_token(settings.csrf_secret, p.key.hash, p.reference) if p.key
              else security.new_tracking_token() for p in batch]
    requests = [_new_request(p.data, p.reference, token, p.now, divisions, rules) for p, token in zip(batch, tokens)]
    earlier = await _earlier_requests(session, requests, since=min(domain.duplicate_window_start(p.now) for p in batch))
    no_room = await _weeks_without_room(session, {r.division for r in requests})
    journal = Deferred.begin(session)  # the history rows point at the requests: written after them
    submissions = []
    with session.no_autoflush:
        for pending, request, token in zip(batch, requests, tokens):
            traced = otel_context.attach(pending.trace)  # its events continue the caller's trace
            try:
                submissions.append(await _record_submission(session, settings, pending, request, token, divisions,
                                                            earlier, no_room))
            finally:
                otel_context.detach(traced)
        await _insert_new_requests(session, requests)  # already routed (or waitlisted): no UPDATE after
        await journal.write(session)
    for pending, request, submission in zip(batch, requests, submissions):
        if pending.key is not None:
            session.add(SubmissionKey(key_hash=pending.key.hash, fingerprint=pending.key.fingerprint,
                                      request_id=request.id, answer=submission.answer(), created_at=pending.now))
    await session.commit()
    return submissions


async def _record_submission(session: AsyncSession, settings: Settings, pending: Pending, request: VisitRequest,
                             token: str, divisions: dict[str, domain.Division],
                             earlier: dict[tuple[str, str], list[tuple[datetime, str]]],
                             no_room: dict[str, set[str]]) -> Submission:
    """One submission of the batch: flagged, recorded as submitted, then routed or waitlisted (in memory)."""
    request.duplicate_of = _latest(earlier, request, since=domain.duplicate_window_start(pending.now))
    earlier.setdefault((request.organisation_key, request.primary_focus_area), []).append(
        (request.created_at, request.reference))  # later ones in the batch see this one
    url = tracking_url(settings, request.reference, token)
    # Only the events of this transaction carry the link: afterwards just its hash is left.
    await record_change(session, settings, request, events.VisitSubmitted, action="submitted",
                        actor=DELEGATION, now=pending.now, tracking_url=url)
    full = no_room.get(request.division, set())
    if domain.all_weeks_full(request.preferred_dates, full):
        await _waitlist(session, settings, request, full, now=pending.now, tracking_url=url)
    else:
        await _route(session, settings, request, divisions[request.division], actor=RULE, by="rule",
                     now=pending.now, tracking_url=url, waitlisted=False)
    return Submission(request.reference, request.status, request.division, request.flags, token)


def _new_request(data: VisitRequestCreate, reference: str, token: str, now: datetime,
                 divisions: dict[str, domain.Division], rules: dict[str, str]) -> VisitRequest:
    """The request, routed in memory and flagged for short notice (duplicates are flagged with the batch's reads)."""
    routing = domain.route(data.focus_areas, rules, divisions)
    preferred = [r.to_domain() for r in data.preferred_dates]
    return VisitRequest(
        id=str(uuid.uuid4()), reference=reference, status="submitted", division=routing.division,
        info_divisions=routing.info_divisions, primary_focus_area=data.focus_areas[0],
        organisation=data.organisation, organisation_key=domain.organisation_key(data.organisation),
        country=data.country, language=data.language, contact_name=data.contact.name,
        contact_email=str(data.contact.email), contact_phone=data.contact.phone, highest_rank=data.highest_rank,
        delegation_size=data.delegation_size, preferred_dates=preferred, proposed_dates=[], purpose=data.purpose,
        needs=data.needs.model_dump(), tracking_token_hash=security.hash_token(token), created_at=now,
        updated_at=now, short_notice=domain.is_short_notice(preferred, domain.local_date(now),
                                                            divisions[routing.division].lead_time_weeks),
        focus_area_rows=[RequestFocusArea(position=i, focus_area=a) for i, a in enumerate(data.focus_areas)],
        members=[Member(position=i, **m.model_dump()) for i, m in enumerate(data.members)],
    )


async def _insert_new_requests(session: AsyncSession, requests: list[VisitRequest]) -> None:
    """The requests, their focus areas and members as three statements, not through the session's unit of work.

    Everything about a new request is known at once; the unit of work's bookkeeping for it (30 columns, two
    cascading collections) cost more CPU than the inserts. The objects stay out of the session.
    """
    await session.execute(INSERT_REQUEST, [column_values(request) for request in requests])
    await session.execute(INSERT_FOCUS_AREA, [
        {"request_id": request.id, "position": row.position, "focus_area": row.focus_area}
        for request in requests for row in request.focus_area_rows])
    members = [{"request_id": request.id, "position": m.position, "name": m.name, "title": m.title, "role": m.role}
               for request in requests for m in request.members]
    if members:
        await session.execute(INSERT_MEMBER, members)


def tracking_url(settings: Settings, reference: str, token: str) -> str:
    """The delegation's private page; the token in it is the only key."""
    return f"{settings.public_base_url.rstrip('/')}/track/{reference}?token={token}"


# The submission's statements are built once and kept: building a statement and its cache key costs more than
# running it (the duplicate check: 0.98 ms of CPU built each time, 0.27 ms kept; see bench/README.md).
_requests, _divisions_table, _rules, _full_weeks_table, _waitlist_table = (
    VisitRequest.__table__, DivisionRow.__table__, RoutingRule.__table__, FullWeek.__table__, WaitlistEntry.__table__)
EARLIER_REQUESTS = (
    select(_requests.c.organisation_key, _requests.c.primary_focus_area, _requests.c.created_at,
           _requests.c.reference)
    .where(_requests.c.organisation_key.in_(bindparam("organisation_keys", expanding=True)),
           _requests.c.created_at >= bindparam("since")))
DIVISIONS_AND_RULES = select(
    _divisions_table.c.code, _divisions_table.c.lead_time_weeks, _divisions_table.c.decision_deadline_days,
    _rules.c.focus_area).outerjoin(_rules, _rules.c.division == _divisions_table.c.code)
INSERT_REQUEST = _requests.insert()
INSERT_FOCUS_AREA = RequestFocusArea.__table__.insert()
INSERT_MEMBER = Member.__table__.insert()
# A week has no room for a new request when it is full, or when earlier requests are waiting for it: a place
# that opens there goes to them first.
WEEKS_WITHOUT_ROOM = union(
    select(_full_weeks_table.c.division, _full_weeks_table.c.iso_week)
    .where(_full_weeks_table.c.division.in_(bindparam("divisions", expanding=True))),
    select(_waitlist_table.c.division, _waitlist_table.c.iso_week)
    .where(_waitlist_table.c.division.in_(bindparam("divisions", expanding=True))))


@cache
def _bump_reference(dialect_name: str):
    """The year's counter, created at `count` or incremented by it, returning the last number handed out."""
    table = ReferenceCounter.__table__
    return (insert_of(dialect_name)(table).values(year=bindparam("year"), last_value=bindparam("count"))
            .on_conflict_do_update(index_elements=["year"],
                                   set_={"last_value": table.c.last_value + bindparam("count")})
            .returning(table.c.last_value))


async def _earlier_requests(session: AsyncSession, requests: list[VisitRequest], *,
                            since: datetime) -> dict[tuple[str, str], list[tuple[datetime, str]]]:
    """Requests since `since` by the organisations of `requests`, by organisation and primary focus area."""
    earlier: dict[tuple[str, str], list[tuple[datetime, str]]] = {}
    rows = await session.execute(EARLIER_REQUESTS, {
        "organisation_keys": sorted({r.organisation_key for r in requests}), "since": since})
    for organisation_key, focus_area, created_at, reference in rows:
        earlier.setdefault((organisation_key, focus_area), []).append((created_at, reference))
    return earlier


def _latest(earlier: dict[tuple[str, str], list[tuple[datetime, str]]], request: VisitRequest, *,
            since: datetime) -> str | None:
    """The latest earlier request by the same organisation on the same primary focus area, 24 months back."""
    same = earlier.get((request.organisation_key, request.primary_focus_area), [])
    found = [(at, reference) for at, reference in same if at >= since]
    return max(found)[1] if found else None


async def _divisions(session: AsyncSession) -> dict[str, domain.Division]:
    rows = await session.scalars(select(DivisionRow))
    return {r.code: domain.Division(r.code, r.lead_time_weeks, r.decision_deadline_days) for r in rows}


async def _divisions_and_rules(session: AsyncSession) -> tuple[dict[str, domain.Division], dict[str, str]]:
    """Every division and the focus areas routed to it, in one query (every rule names a division)."""
    divisions, rules = {}, {}
    for code, lead_time_weeks, decision_days, focus_area in await session.execute(DIVISIONS_AND_RULES):
        divisions[code] = domain.Division(code, lead_time_weeks, decision_days)
        if focus_area is not None:
            rules[focus_area] = code
    return divisions, rules


async def _weeks_without_room(session: AsyncSession, divisions: set[str]) -> dict[str, set[str]]:
    weeks: dict[str, set[str]] = {}
    for division, week in await session.execute(WEEKS_WITHOUT_ROOM, {"divisions": sorted(divisions)}):
        weeks.setdefault(division, set()).add(week)
    return weeks


# ---------------------------------------------------------------- state changes shared by the use cases

async def _route(session: AsyncSession, settings: Settings, request: VisitRequest, division: domain.Division, *,
                 actor: Actor, by: str, now: datetime, tracking_url: str | None = None,
                 details: dict | None = None, waitlisted: bool = True, message: str = "") -> None:
    """Hand the request to its division with a fresh decision deadline."""
    request.status = "routed"
    request.decision_deadline = domain.add_working_days(domain.local_date(now), division.decision_deadline_days)
    request.escalated_at = None
    if waitlisted:  # a request submitted in this transaction has no waitlist rows to leave
        await _leave_waitlist(session, request)
    await record_change(session, settings, request, events.VisitRouted, action="routed", actor=actor, by=by, now=now,
                        tracking_url=tracking_url, details={"routed_by": by, **(details or {})}, routed_by=by,
                        message=message)


async def _waitlist(session: AsyncSession, settings: Settings, request: VisitRequest, full_weeks: set[str], *,
                    now: datetime, tracking_url: str | None) -> None:
    """Every preferred week is full: wait for one to reopen, and tell the delegation what is open."""
    request.status, request.decision_deadline = "waitlisted", None
    for week in domain.preferred_weeks(request.preferred_dates):
        session.add(WaitlistEntry(request_id=request.id, iso_week=week, division=request.division,
                                  waitlisted_at=now))
    nearest = domain.nearest_open_weeks(request.preferred_dates, full_weeks)
    await record_change(session, settings, request, events.VisitWaitlisted, action="waitlisted", actor=RULE, now=now,
                        tracking_url=tracking_url, details={"nearest_open_weeks": nearest}, nearest_open_weeks=nearest)


async def _leave_waitlist(session: AsyncSession, request: VisitRequest) -> None:
    await session.execute(delete(WaitlistEntry).where(WaitlistEntry.request_id == request.id))


# ---------------------------------------------------------------- reading

async def _by_reference(session: AsyncSession, reference: str, *, lock: bool = False) -> VisitRequest:
    query = select(VisitRequest).where(VisitRequest.reference == reference)
    request = await session.scalar(query.with_for_update() if lock else query)
    if request is None:
        raise NotFound(reference)
    return request


async def visible_request(*, session: AsyncSession, reference: str, principal: Principal | None,
                          token: str | None, attempted: str, now: datetime) -> VisitRequest:
    """The request if the caller may see it: staff by role and division, the delegation by its token."""
    request = await _by_reference(session, reference)
    if principal is not None:
        allowed = domain.can_view(principal.role, principal.division, request.division, request.info_divisions)
        actor, why = Actor.staff(principal), "other_division"
    elif token:
        allowed, actor, why = security.token_matches(token, request.tracking_token_hash), ANONYMOUS, "bad_token"
    else:
        allowed, actor, why = False, ANONYMOUS, "no_credentials"
    if not allowed:
        await record_denied(session, actor=actor, request=request, attempted=attempted, why=why, now=now)
        raise NotFound(reference)
    return request


async def request_history(*, session: AsyncSession, reference: str, principal: Principal | None,
                          token: str | None, now: datetime) -> list[HistoryEntry]:
    """What happened to a request, oldest first."""
    request = await visible_request(session=session, reference=reference, principal=principal, token=token,
                                    attempted="history", now=now)
    return await history_of(session=session, request=request)


async def history_of(*, session: AsyncSession, request: VisitRequest) -> list[HistoryEntry]:
    return list(await session.scalars(select(HistoryEntry).where(HistoryEntry.request_id == request.id)
                                      .order_by(HistoryEntry.id)))


# What staff write for each other stays with staff: the redirecting division's note is for the division it hands
# the request to (the delegation's e-mail about the move leaves it out too), and an escalation is internal.
STAFF_ONLY_ACTIONS = {"escalated"}
STAFF_ONLY_DETAILS = {"redirected": {"message"}}


def as_the_delegation_sees_it(entries: list[HistoryEntry]) -> list[HistoryOut]:
    """The history for the delegation's page and its API view: no staff names, notes or escalations."""
    return [HistoryOut(at=e.at, action=e.action, by=e.by, actor=None, status=e.status, division=e.division,
                       details={k: v for k, v in e.details.items() if k not in STAFF_ONLY_DETAILS.get(e.action, ())})
            for e in entries if e.action not in STAFF_ONLY_ACTIONS]


# ---------------------------------------------------------------- decisions and cancellation

async def decide(*, session: AsyncSession, settings: Settings, reference: str, principal: Principal,
                 decision: AcceptDecision | DeclineDecision | RedirectDecision | ProposeDecision,
                 now: datetime) -> VisitRequest:
    """Accept, decline, redirect or propose dates; only the owning division's officers (and admins)."""
    request = await _by_reference(session, reference, lock=True)
    if not domain.can_act(principal.role, principal.division, request.division):
        await record_denied(session, actor=Actor.staff(principal), request=request,
                            attempted=f"decide.{decision.decision}", why="other_division", now=now)
        raise NotFound(reference)
    actor, offer = Actor.staff(principal), (request.division, request.offered_week)
    if isinstance(decision, AcceptDecision):
        await _accept(session, settings, request, decision, actor, now)
    elif isinstance(decision, DeclineDecision):
        await _decline(session, settings, request, decision, actor, now)
    elif isinstance(decision, RedirectDecision):
        await _redirect(session, settings, request, decision, actor, now)
    else:
        await _propose(session, settings, request, decision, actor, now)
    await _pass_on_offer(session, settings, request, offer, now)
    await session.commit()
    return request


async def _accept(session, settings, request: VisitRequest, decision: AcceptDecision, actor: Actor,
                  now: datetime) -> None:
    status = domain.check_transition("accept", request.status)
    if decision.visit_date < domain.local_date(now):
        raise domain.InvalidDecision("visit_date", "must not be in the past")
    if not domain.within_any(decision.visit_date, request.preferred_dates + request.proposed_dates):
        raise domain.InvalidDecision("visit_date", "must fall within a preferred or proposed date range")
    request.status, request.visit_date, request.host = status, decision.visit_date, decision.host
    await record_change(session, settings, request, events.VisitAccepted, action="accepted", actor=actor, now=now,
                        details={"visit_date": decision.visit_date.isoformat(), "host": decision.host})


async def _decline(session, settings, request: VisitRequest, decision: DeclineDecision, actor: Actor,
                   now: datetime) -> None:
    was_accepted = request.status == "accepted"
    request.status = domain.check_transition("decline", request.status)
    request.decline_reason, request.ended_at = decision.reason, now
    await _leave_waitlist(session, request)
    await record_change(session, settings, request, events.VisitDeclined, action="declined", actor=actor, now=now,
                        details={"reason": decision.reason, "message": decision.message}, reason=decision.reason,
                        message=decision.message, was_accepted=was_accepted)


async def _redirect(session, settings, request: VisitRequest, decision: RedirectDecision, actor: Actor,
                    now: datetime) -> None:
    domain.check_transition("redirect", request.status)
    divisions = await _divisions(session)
    if decision.to_division not in divisions:
        raise domain.InvalidDecision("to_division", "unknown division")
    if decision.to_division == request.division:
        raise domain.InvalidDecision("to_division", "the request is already with this division")
    from_division, target = request.division, divisions[decision.to_division]
    request.status, request.division = "redirected", target.code
    request.proposed_dates = []  # the old division's proposal goes with it: the new one decides on the preferred
    request.info_divisions = [d for d in request.info_divisions if d != target.code]
    request.short_notice = domain.is_short_notice(request.preferred_dates, domain.local_date(request.created_at),
                                                  target.lead_time_weeks)
    await record_change(session, settings, request, events.VisitRedirected, action="redirected", actor=actor, now=now,
                        details={"from_division": from_division, "to_division": target.code,
                                 "message": decision.message},
                        from_division=from_division, message=decision.message, redirected_by="person")
    await _route(session, settings, request, target, actor=actor, by="person", now=now)


async def _propose(session, settings, request: VisitRequest, decision: ProposeDecision, actor: Actor,
                   now: datetime) -> None:
    request.status = domain.check_transition("propose", request.status)
    request.proposed_dates = [r.to_domain() for r in decision.proposed_dates]
    # The division has answered: the request waits on the delegation, with no decision due until it does (its
    # answer routes the request again, on a fresh deadline); nor is it overdue any more.
    request.decision_deadline = request.escalated_at = None
    await _leave_waitlist(session, request)
    proposed = ranges(request.proposed_dates)
    await record_change(session, settings, request, events.VisitDatesProposed, action="dates_proposed", actor=actor,
                        now=now, details={"proposed_dates": proposed, "message": decision.message},
                        proposed_dates=proposed, message=decision.message)


async def cancel_request(*, session: AsyncSession, settings: Settings, reference: str,
                         principal: Principal | None, token: str | None, now: datetime) -> VisitRequest:
    """The delegation (with its token) or the owning division's staff call the visit off."""
    if principal is not None and principal.role not in ("admin", "division_officer"):
        raise Forbidden(f"role {principal.role} may not cancel requests")
    request = await _by_reference(session, reference, lock=True)
    if principal is not None:
        actor = Actor.staff(principal)
        if not domain.can_act(principal.role, principal.division, request.division):
            await record_denied(session, actor=actor, request=request, attempted="cancel", why="other_division",
                                now=now)
            raise NotFound(reference)
    else:
        actor = DELEGATION
        if not token or not security.token_matches(token, request.tracking_token_hash):
            await record_denied(session, actor=ANONYMOUS, request=request, attempted="cancel", why="bad_token", now=now)
            raise NotFound(reference)
    was_accepted, offer = request.status == "accepted", (request.division, request.offered_week)
    request.status, request.ended_at = domain.check_transition("cancel", request.status), now
    await _leave_waitlist(session, request)
    await record_change(session, settings, request, events.VisitCancelled, action="cancelled", actor=actor, now=now,
                        was_accepted=was_accepted)
    await _pass_on_offer(session, settings, request, offer, now)
    await session.commit()
    return request


# ---------------------------------------------------------------- the delegation's answer to proposed dates

async def answer_proposal(*, session: AsyncSession, settings: Settings, reference: str, token: str | None,
                          answer: ProposalAnswer, now: datetime) -> VisitRequest:
    """The delegation (with its token) takes one of the proposed ranges, or turns them all down."""
    request = await _by_reference(session, reference, lock=True)
    if not token or not security.token_matches(token, request.tracking_token_hash):
        await record_denied(session, actor=ANONYMOUS, request=request, attempted="respond",
                            why="bad_token" if token else "no_credentials", now=now)
        raise NotFound(reference)
    if answer.accept_proposed is not None:
        await _take_proposed(session, settings, request, answer.accept_proposed.to_domain(), answer.message, now)
    else:
        await _turn_down_proposed(session, settings, request, answer.message, now)
    await session.commit()
    return request


async def _take_proposed(session: AsyncSession, settings: Settings, request: VisitRequest,
                         picked: domain.DateRange, message: str, now: datetime) -> None:
    """The picked range becomes the preferred dates and the division decides again, on a fresh deadline.

    The delegation's words, if any, stay in the request's history (erased with its personal data).
    """
    domain.check_transition("accept_proposed", request.status)
    if not domain.within_one(picked, request.proposed_dates):
        raise domain.InvalidDecision("accept_proposed", "must lie within one of the proposed date ranges")
    request.preferred_dates, request.proposed_dates = [picked], []
    division = (await _divisions(session))[request.division]
    await _route(session, settings, request, division, actor=DELEGATION, by="delegation", now=now,
                 details={"accepted_dates": ranges([picked])} | ({"message": message} if message else {}),
                 message=message)


async def _turn_down_proposed(session: AsyncSession, settings: Settings, request: VisitRequest, message: str,
                              now: datetime) -> None:
    """None of the proposed dates suit the delegation: the request is cancelled, in its own words."""
    request.status, request.ended_at = domain.check_transition("decline_proposed", request.status), now
    await record_change(session, settings, request, events.VisitCancelled, action="cancelled", actor=DELEGATION,
                        now=now, details={"declined_proposed": True, "message": message}, message=message,
                        declined_proposed=True)


# ---------------------------------------------------------------- scheduled jobs

async def escalate_overdue(*, session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Flag routed requests whose decision deadline has passed, once each; returns how many."""
    overdue = list(await session.scalars(
        select(VisitRequest)
        .where(VisitRequest.status == "routed", VisitRequest.escalated_at.is_(None),
               VisitRequest.decision_deadline < domain.local_date(now))
        .order_by(VisitRequest.decision_deadline).limit(500).with_for_update(skip_locked=True)))
    for request in overdue:
        request.escalated_at = now
        deadline = request.decision_deadline
        await record_change(session, settings, request, events.VisitEscalated, action="escalated", actor=SYSTEM,
                            now=now, details={"deadline": deadline.isoformat()}, deadline=deadline)
    await session.commit()
    return len(overdue)


async def forget_submission_keys(*, session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Drop idempotency keys older than `idempotency_key_hours`; a retry after that is a new submission."""
    cutoff = now - timedelta(hours=settings.idempotency_key_hours)
    result = await session.execute(delete(SubmissionKey).where(SubmissionKey.created_at < cutoff))
    await session.commit()
    return result.rowcount


async def complete_past_visits(*, session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Mark accepted visits completed once their day is over (the day after); returns how many."""
    due = list(await session.scalars(
        select(VisitRequest)
        .where(VisitRequest.status == "accepted", VisitRequest.visit_date < domain.local_date(now))
        .order_by(VisitRequest.visit_date).limit(500).with_for_update(skip_locked=True)))
    for request in due:
        request.status, request.ended_at = domain.check_transition("complete", request.status), now
        await record_change(session, settings, request, events.VisitCompleted, action="completed", actor=SYSTEM,
                            now=now, details={"visit_date": request.visit_date.isoformat()})
    await session.commit()
    return len(due)


Job = Callable[..., Awaitable[int]]


async def run_periodically(job: Job, name: str, sessions: async_sessionmaker[AsyncSession], settings: Settings,
                           every: float) -> None:
    """Run `job` every `every` seconds for the life of the process; a failed round is retried next round."""
    while True:
        try:
            async with sessions() as session:
                count = await job(session=session, settings=settings, now=datetime.now(UTC))
            if count:
                log.info(f"visits.{name}", count=count)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database may be away. The type only: a message could quote row values.
            log.warning("visits.job_failed", job=name, error=type(exc).__name__)
        await asyncio.sleep(every)


async def escalation_loop(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """Look for overdue requests every `escalation_interval_seconds`."""
    await run_periodically(escalate_overdue, "escalated", sessions, settings, settings.escalation_interval_seconds)


async def completion_loop(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """Complete visits whose day is over every `completion_interval_seconds`."""
    await run_periodically(complete_past_visits, "completed", sessions, settings,
                           settings.completion_interval_seconds)


# ---------------------------------------------------------------- routing rules and divisions (admins)

async def routing_rules(*, session: AsyncSession) -> list[RoutingRule]:
    """The rules in the order of the focus areas."""
    rules = {r.focus_area: r for r in await session.scalars(select(RoutingRule))}
    return [rules[area] for area in domain.FOCUS_AREAS if area in rules]


async def set_routing_rule(*, session: AsyncSession, principal: Principal, focus_area: str, division: str,
                           now: datetime) -> RoutingRule:
    """Send new requests on `focus_area` to `division`; requests already routed stay where they are."""
    if focus_area not in domain.FOCUS_AREAS:
        raise Unknown(f"no focus area {focus_area!r}")
    if await session.get(DivisionRow, division) is None:
        raise domain.InvalidDecision("division", "unknown division")
    rule = await session.get(RoutingRule, focus_area, with_for_update=True)
    before = rule.division if rule else None
    if before != division:
        rule = rule or RoutingRule(focus_area=focus_area)
        rule.division = division
        session.add(rule)
        record_setting(session, principal, action="routing_rule.changed", now=now,
                       details={"focus_area": focus_area, "from_division": before, "to_division": division})
        await session.commit()
    return rule


async def divisions(*, session: AsyncSession) -> list[DivisionRow]:
    return list(await session.scalars(select(DivisionRow).order_by(DivisionRow.code)))


async def update_division(*, session: AsyncSession, principal: Principal, code: str, change: DivisionUpdate,
                          now: datetime) -> DivisionRow:
    """Lead time and decision deadline; they apply to requests routed from now on."""
    division = await session.get(DivisionRow, code, with_for_update=True)
    if division is None:
        raise Unknown(f"no division {code!r}")
    before = {"lead_time_weeks": division.lead_time_weeks, "decision_days": division.decision_deadline_days}
    after = change.model_dump()
    if before != after:
        division.lead_time_weeks, division.decision_deadline_days = change.lead_time_weeks, change.decision_days
        record_setting(session, principal, action="division.changed", now=now,
                       details={"division": code, "before": before, "after": after})
        await session.commit()
    return division


# ---------------------------------------------------------------- capacity read model (called by the consumer)

async def mark_week_full(*, session: AsyncSession, division: str, iso_week: str, now: datetime) -> None:
    """Remember a full week; the consumer loop owns the transaction."""
    if await session.get(FullWeek, (division, iso_week)) is None:
        session.add(FullWeek(division=division, iso_week=iso_week, since=now))


async def reopen_week(*, session: AsyncSession, settings: Settings, division: str, iso_week: str,
                      free: int | None, now: datetime) -> list[VisitRequest]:
    """Forget a full week and offer its `free` places (None: no limit) to the requests waiting longest for it,
    less the places already offered; the consumer loop owns the transaction."""
    await session.execute(delete(FullWeek).where(FullWeek.division == division, FullWeek.iso_week == iso_week))
    if free is not None:
        free -= await session.scalar(select(func.count()).select_from(VisitRequest).where(
            VisitRequest.division == division, VisitRequest.offered_week == iso_week))
    return await _offer_week(session, settings, division, iso_week, places=free, now=now)


async def _offer_week(session: AsyncSession, settings: Settings, division: str, iso_week: str, *,
                      places: int | None, now: datetime) -> list[VisitRequest]:
    """Route the oldest requests waiting for an open week, one per place (None: all); each holds its place."""
    if (places is not None and places <= 0) or await session.get(FullWeek, (division, iso_week)) is not None:
        return []
    request_ids = (await session.scalars(
        select(WaitlistEntry.request_id).where(WaitlistEntry.division == division, WaitlistEntry.iso_week == iso_week)
        .order_by(WaitlistEntry.waitlisted_at, WaitlistEntry.request_id).limit(places))).all()
    divisions, offered = await _divisions(session), []
    for request_id in request_ids:
        request = await session.get(VisitRequest, request_id, with_for_update=True)
        request.offered_week = iso_week
        await _route(session, settings, request, divisions[request.division], actor=SYSTEM, by="waitlist", now=now)
        offered.append(request)
    return offered


async def _pass_on_offer(session: AsyncSession, settings: Settings, request: VisitRequest,
                         offer: tuple[str, str | None], now: datetime) -> None:
    """A request that held a freed week and has been decided on: unless it took that week, the next in line gets it.

    `offer` is the request's (division, offered week) before the decision; a redirect changes the division.
    """
    division, week = offer
    if week is None:
        return
    request.offered_week = None
    took_it = (request.status == "accepted" and request.division == division
               and domain.iso_week(request.visit_date) == week)
    if not took_it:
        await _offer_week(session, settings, division, week, places=1, now=now)
