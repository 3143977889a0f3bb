"""Intake: how submissions are written, fast. Submissions that arrive while a transaction is being written wait
for it and go into the next one together, so under load the reads, inserts and commit are shared; a lone
submission is written at once. What each submission is lives in `submission.py`; this module is the machinery
the intake benchmark justifies (bench/README.md), kept apart from the use cases.
"""

import asyncio
from contextvars import Context
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import structlog
from opentelemetry import context as otel_context
from prometheus_client import Counter, Histogram
from sqlalchemy import bindparam, select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.visits import domain, security
from services.visits.config import Settings
from services.visits.journal import Deferred
from services.visits.models import (
    DivisionRow,
    FullWeek,
    Member,
    ReferenceCounter,
    RequestFocusArea,
    RoutingRule,
    SubmissionKey,
    VisitRequest,
    WaitlistEntry,
)
from services.visits.schemas import VisitRequestCreate
from services.visits.submission import (
    Earlier,
    IdempotencyKey,
    KeyReused,
    Submission,
    new_request,
    record_submission,
)
from shared.db import column_values, database_unavailable, insert_of

log = structlog.get_logger()


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
INTAKE_BATCH = Histogram(
    "visitdesk_intake_batch_size",
    "Submissions written in one transaction",
    buckets=(1, 2, 4, 8, 16, MOST_PER_TRANSACTION),
)
INTAKE_SPLIT = Counter(
    "visitdesk_intake_batches_split_total", "Shared transactions that failed and were retried one submission at a time"
)


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

    async def submit(
        self, data: VisitRequestCreate, *, now: datetime, idempotency_key: str | None = None
    ) -> Submission:
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
        firsts = (
            {
                first.key_hash: first
                for first in await session.scalars(select(SubmissionKey).where(SubmissionKey.key_hash.in_(hashes)))
            }
            if hashes
            else {}
        )
        by_year: dict[int, list[Pending]] = {}
        for pending in batch:
            if not (pending.key and pending.key.hash in firsts):
                by_year.setdefault(domain.local_date(pending.now).year, []).append(pending)
        for year, pendings in by_year.items():
            last = await session.scalar(
                _bump_reference(session.bind.dialect.name), {"year": year, "count": len(pendings)}
            )
            for number, pending in enumerate(pendings, start=last - len(pendings) + 1):
                pending.reference = domain.reference(year, number)
        return firsts


def _replay(settings: Settings, key: IdempotencyKey, first: SubmissionKey) -> Submission:
    if first.fingerprint != key.fingerprint:
        raise KeyReused()
    token = security.keyed_tracking_token(settings.csrf_secret, key.hash, first.answer["reference"])
    return Submission(**first.answer, token=token)


async def _store_together(sessions: async_sessionmaker[AsyncSession], settings: Settings, batch: list[Pending]) -> None:
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
                first = (
                    await session.get(SubmissionKey, pending.key.hash)
                    if isinstance(exc, IntegrityError) and pending.key
                    else None
                )
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
    tokens = [
        security.keyed_tracking_token(settings.csrf_secret, p.key.hash, p.reference)
        if p.key
        else security.new_tracking_token()
        for p in batch
    ]
    requests = [
        new_request(p.data, p.reference, token, p.now, divisions, rules) for p, token in zip(batch, tokens, strict=True)
    ]
    earlier = await _earlier_requests(session, requests, since=min(domain.duplicate_window_start(p.now) for p in batch))
    no_room = await _weeks_without_room(session, {r.division for r in requests})
    journal = Deferred.begin(session)  # the history rows point at the requests: written after them
    submissions = []
    with session.no_autoflush:
        for pending, request, token in zip(batch, requests, tokens, strict=True):
            traced = otel_context.attach(pending.trace)  # its events continue the caller's trace
            try:
                submissions.append(
                    await record_submission(
                        session,
                        settings,
                        request,
                        token,
                        now=pending.now,
                        divisions=divisions,
                        earlier=earlier,
                        no_room=no_room,
                    )
                )
            finally:
                otel_context.detach(traced)
        await _insert_new_requests(session, requests)  # already routed (or waitlisted): no UPDATE after
        await journal.write(session)
    for pending, request, submission in zip(batch, requests, submissions, strict=True):
        if pending.key is not None:
            session.add(
                SubmissionKey(
                    key_hash=pending.key.hash,
                    fingerprint=pending.key.fingerprint,
                    request_id=request.id,
                    answer=submission.answer(),
                    created_at=pending.now,
                )
            )
    await session.commit()
    return submissions


async def _insert_new_requests(session: AsyncSession, requests: list[VisitRequest]) -> None:
    """The requests, their focus areas and members as three statements, not through the session's unit of work.

    Everything about a new request is known at once; the unit of work's bookkeeping for it (30 columns, two
    cascading collections) cost more CPU than the inserts. The objects stay out of the session.
    """
    await session.execute(INSERT_REQUEST, [column_values(request) for request in requests])
    await session.execute(
        INSERT_FOCUS_AREA,
        [
            {"request_id": request.id, "position": row.position, "focus_area": row.focus_area}
            for request in requests
            for row in request.focus_area_rows
        ],
    )
    members = [
        {"request_id": request.id, "position": m.position, "name": m.name, "title": m.title, "role": m.role}
        for request in requests
        for m in request.members
    ]
    if members:
        await session.execute(INSERT_MEMBER, members)


# The submission's statements are built once and kept: building a statement and its cache key costs more than
# running it (the duplicate check: 0.98 ms of CPU built each time, 0.27 ms kept; see bench/README.md).
_requests, _divisions_table, _rules, _full_weeks_table, _waitlist_table = (
    VisitRequest.__table__,
    DivisionRow.__table__,
    RoutingRule.__table__,
    FullWeek.__table__,
    WaitlistEntry.__table__,
)
EARLIER_REQUESTS = select(
    _requests.c.organisation_key, _requests.c.primary_focus_area, _requests.c.created_at, _requests.c.reference
).where(
    _requests.c.organisation_key.in_(bindparam("organisation_keys", expanding=True)),
    _requests.c.created_at >= bindparam("since"),
)
DIVISIONS_AND_RULES = select(
    _divisions_table.c.code,
    _divisions_table.c.lead_time_weeks,
    _divisions_table.c.decision_deadline_days,
    _rules.c.focus_area,
).outerjoin(_rules, _rules.c.division == _divisions_table.c.code)
INSERT_REQUEST = _requests.insert()
INSERT_FOCUS_AREA = RequestFocusArea.__table__.insert()
INSERT_MEMBER = Member.__table__.insert()
# A week has no room for a new request when it is full, or when earlier requests are waiting for it: a place
# that opens there goes to them first.
WEEKS_WITHOUT_ROOM = union(
    select(_full_weeks_table.c.division, _full_weeks_table.c.iso_week).where(
        _full_weeks_table.c.division.in_(bindparam("divisions", expanding=True))
    ),
    select(_waitlist_table.c.division, _waitlist_table.c.iso_week).where(
        _waitlist_table.c.division.in_(bindparam("divisions", expanding=True))
    ),
)


@cache
def _bump_reference(dialect_name: str):
    """The year's counter, created at `count` or incremented by it, returning the last number handed out."""
    table = ReferenceCounter.__table__
    return (
        insert_of(dialect_name)(table)
        .values(year=bindparam("year"), last_value=bindparam("count"))
        .on_conflict_do_update(index_elements=["year"], set_={"last_value": table.c.last_value + bindparam("count")})
        .returning(table.c.last_value)
    )


async def _earlier_requests(session: AsyncSession, requests: list[VisitRequest], *, since: datetime) -> Earlier:
    """Requests since `since` by the organisations of `requests`, by organisation and primary focus area."""
    earlier: Earlier = {}
    rows = await session.execute(
        EARLIER_REQUESTS, {"organisation_keys": sorted({r.organisation_key for r in requests}), "since": since}
    )
    for organisation_key, focus_area, created_at, reference in rows:
        earlier.setdefault((organisation_key, focus_area), []).append((created_at, reference))
    return earlier


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
