"""Jobs that run on a timer in every visits process: escalation of overdue requests, completion of past visits,
and forgetting old idempotency keys. Each round is one transaction; concurrent replicas skip each other's rows."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.visits import domain, events
from services.visits.config import Settings
from services.visits.journal import SYSTEM, record_change
from services.visits.models import SubmissionKey, VisitRequest

log = structlog.get_logger()


async def escalate_overdue(*, session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Flag routed requests whose decision deadline has passed, once each; returns how many."""
    overdue = list(
        await session.scalars(
            select(VisitRequest)
            .where(
                VisitRequest.status == "routed",
                VisitRequest.escalated_at.is_(None),
                VisitRequest.decision_deadline < domain.local_date(now),
            )
            .order_by(VisitRequest.decision_deadline)
            .limit(500)
            .with_for_update(skip_locked=True)
        )
    )
    for request in overdue:
        request.escalated_at = now
        deadline = request.decision_deadline
        await record_change(
            session,
            settings,
            request,
            events.VisitEscalated,
            action="escalated",
            actor=SYSTEM,
            now=now,
            details={"deadline": deadline.isoformat()},
            deadline=deadline,
        )
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
    due = list(
        await session.scalars(
            select(VisitRequest)
            .where(VisitRequest.status == "accepted", VisitRequest.visit_date < domain.local_date(now))
            .order_by(VisitRequest.visit_date)
            .limit(500)
            .with_for_update(skip_locked=True)
        )
    )
    for request in due:
        request.status, request.ended_at = domain.check_transition("complete", request.status), now
        await record_change(
            session,
            settings,
            request,
            events.VisitCompleted,
            action="completed",
            actor=SYSTEM,
            now=now,
            details={"visit_date": request.visit_date.isoformat()},
        )
    await session.commit()
    return len(due)


Job = Callable[..., Awaitable[int]]


async def run_periodically(
    job: Job, name: str, sessions: async_sessionmaker[AsyncSession], settings: Settings, every: float
) -> None:
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
    await run_periodically(complete_past_visits, "completed", sessions, settings, settings.completion_interval_seconds)
