"""Finding a request and deciding who may see it: staff by role and division, the delegation by its token."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.visits import domain, security
from services.visits.journal import ANONYMOUS, Actor, record_denied
from services.visits.models import HistoryEntry, VisitRequest
from services.visits.schemas import HistoryOut
from shared.auth import Principal
from shared.db import lock_for_writing


class NotFound(Exception):
    """No such request, or the caller may not know it exists."""


class Forbidden(Exception):
    """The caller is known but their role may not do this."""


class Stale(Exception):
    """The caller saw another version of the request than the one it has now (If-Match)."""


async def by_reference(session: AsyncSession, reference: str, *, lock: bool = False) -> VisitRequest:
    """The request; with `lock`, held until the transaction ends, so changes to one request happen one at a time."""
    query = select(VisitRequest).where(VisitRequest.reference == reference)
    if lock:
        await lock_for_writing(session)
        query = query.with_for_update()
    request = await session.scalar(query)
    if request is None:
        raise NotFound(reference)
    return request


async def visible_request(
    *,
    session: AsyncSession,
    reference: str,
    principal: Principal | None,
    token: str | None,
    attempted: str,
    now: datetime,
) -> VisitRequest:
    """The request if the caller may see it: staff by role and division, the delegation by its token."""
    request = await by_reference(session, reference)
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


async def request_history(
    *, session: AsyncSession, reference: str, principal: Principal | None, token: str | None, now: datetime
) -> list[HistoryEntry]:
    """What happened to a request, oldest first."""
    request = await visible_request(
        session=session, reference=reference, principal=principal, token=token, attempted="history", now=now
    )
    return await history_of(session=session, request=request)


async def history_of(*, session: AsyncSession, request: VisitRequest) -> list[HistoryEntry]:
    return list(
        await session.scalars(
            select(HistoryEntry).where(HistoryEntry.request_id == request.id).order_by(HistoryEntry.id)
        )
    )


# What staff write for each other stays with staff: the redirecting division's note is for the division it hands
# the request to (the delegation's e-mail about the move leaves it out too), and an escalation is internal.
STAFF_ONLY_ACTIONS = {"escalated"}
STAFF_ONLY_DETAILS = {"redirected": {"message"}}


def as_the_delegation_sees_it(entries: list[HistoryEntry]) -> list[HistoryOut]:
    """The history for the delegation's page and its API view: no staff names, notes or escalations."""
    return [
        HistoryOut(
            at=e.at,
            action=e.action,
            by=e.by,
            actor=None,
            status=e.status,
            division=e.division,
            details={k: v for k, v in e.details.items() if k not in STAFF_ONLY_DETAILS.get(e.action, ())},
        )
        for e in entries
        if e.action not in STAFF_ONLY_ACTIONS
    ]


# ---------------------------------------------------------------- decisions and cancellation
