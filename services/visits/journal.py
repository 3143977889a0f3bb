"""How a change is recorded: a history entry, an audit row and an outbox event, always together."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.visits import domain, events, models
from services.visits.config import Settings
from services.visits.models import AuditEntry, HistoryEntry, VisitRequest
from shared.auth import Principal
from shared.events import Envelope
from shared.outbox import add_event, outbox_row, stage_rows

SOURCE = "visits"
log = structlog.get_logger()
# Audit rows keep who did what and when, never personal data: only these detail keys are copied.
AUDITABLE = {
    "reason",
    "from_division",
    "to_division",
    "visit_date",
    "previous_date",
    "start_time",
    "end_time",
    "venue",
    "quote",
    "late_fee",
    "proposed_dates",
    "deadline",
    "routed_by",
    "nearest_open_weeks",
    "attempted",
    "why",
    "accepted_dates",
    "declined_proposed",
    "fields",
    "trigger",
}


@dataclass(frozen=True)
class Actor:
    """Who acts: the delegation, a rule, the system, or a staff member (`person`)."""

    kind: str
    sub: str | None = None
    role: str | None = None

    @property
    def name(self) -> str:
        return self.sub or self.kind

    @classmethod
    def staff(cls, principal: Principal) -> "Actor":
        return cls("person", principal.sub, principal.role)


DELEGATION, RULE, SYSTEM, ANONYMOUS = Actor("delegation"), Actor("rule"), Actor("system"), Actor("anonymous")


async def record_change(
    session: AsyncSession,
    settings: Settings,
    request: VisitRequest,
    event_type: type[events.VisitState],
    *,
    action: str,
    actor: Actor,
    now: datetime,
    by: str | None = None,
    tracking_url: str | None = None,
    details: dict[str, Any] | None = None,
    **event_fields,
) -> None:
    """Every change leaves a history entry, an audit row and an outbox event in the caller's transaction."""
    details = details or {}
    request.updated_at = now
    history = {
        "request_id": request.id,
        "at": now,
        "action": action,
        "by": by or actor.kind,
        "actor": actor.sub,
        "status": request.status,
        "division": request.division,
        "details": details,
    }
    audit = {
        "at": now,
        "actor": actor.name,
        "role": actor.role,
        "action": f"request.{action}",
        "outcome": "allowed",
        "request_id": request.id,
        "reference": request.reference,
        "details": {k: v for k, v in details.items() if k in AUDITABLE},
    }
    event = event_type(**visit_state(request, actor=actor.name, tracking_url=tracking_url), **event_fields)
    deferred: Deferred | None = session.info.get(Deferred)
    if deferred is not None:
        deferred.history.append(history)
        deferred.audit.append(audit)
        envelope = Envelope.wrap(event, source=SOURCE, subject=request.id)
        deferred.outbox.append(outbox_row(envelope, topic=settings.topic(event.topic)))
    else:
        session.add_all([HistoryEntry(**history), AuditEntry(**audit)])
        await add_event(session, models.outbox, event, source=SOURCE, key=request.id, topic=settings.topic(event.topic))
    # Only codes and the reference: no names, addresses, messages or staff subs (which may be e-mails).
    log.info(
        "visits.request_changed",
        action=action,
        reference=request.reference,
        status=request.status,
        division=request.division,
        by=by or actor.kind,
    )


@dataclass
class Deferred:
    """The history, audit and outbox rows of a transaction's changes, held back to be written together.

    A new request's changes come before its row exists; kept here, they cost three statements (history, audit,
    outbox) instead of the unit of work's flush and a statement per event.
    """

    history: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)

    @staticmethod
    def begin(session: AsyncSession) -> "Deferred":
        """From now on `record_change` keeps this session's rows here; `write` them before the commit."""
        deferred = session.info[Deferred] = Deferred()
        return deferred

    async def write(self, session: AsyncSession) -> None:
        del session.info[Deferred]
        if self.history:
            await session.execute(INSERT_HISTORY, self.history)
            await session.execute(INSERT_AUDIT, self.audit)
            await stage_rows(session, models.outbox, self.outbox)


INSERT_HISTORY, INSERT_AUDIT = HistoryEntry.__table__.insert(), AuditEntry.__table__.insert()


async def record_denied(
    session: AsyncSession, *, actor: Actor, request: VisitRequest, attempted: str, why: str, now: datetime
) -> None:
    """A denied-access row, committed on its own: nothing else has changed."""
    session.add(
        AuditEntry(
            at=now,
            actor=actor.name,
            role=actor.role,
            action="access.denied",
            outcome="denied",
            request_id=request.id,
            reference=request.reference,
            details={"attempted": attempted, "why": why},
        )
    )
    await session.commit()


async def record_erasure(
    session: AsyncSession,
    settings: Settings,
    request: VisitRequest,
    *,
    actor: Actor,
    now: datetime,
    fields: dict[str, int],
    trigger: str,
) -> None:
    """The erasure's history entry, audit row and event: which fields and how many, never their values."""
    details = {"fields": fields, "trigger": trigger}
    request.updated_at = now
    session.add(
        HistoryEntry(
            request_id=request.id,
            at=now,
            action="personal_data_erased",
            by=actor.kind,
            actor=actor.sub,
            status=request.status,
            division=request.division,
            details=details,
        )
    )
    session.add(
        AuditEntry(
            at=now,
            actor=actor.name,
            role=actor.role,
            action="request.personal_data_erased",
            outcome="allowed",
            request_id=request.id,
            reference=request.reference,
            details=details,
        )
    )
    event = events.VisitPersonalDataErased(request_id=request.id, reference=request.reference)
    await add_event(session, models.outbox, event, source=SOURCE, key=request.id, topic=settings.topic(event.topic))
    log.info("visits.personal_data_erased", reference=request.reference, trigger=trigger, fields=fields)


def record_setting(
    session: AsyncSession, principal: Principal, *, action: str, details: dict[str, Any], now: datetime
) -> None:
    """An admin's change to routing or divisions: an audit row (no request, no event)."""
    session.add(
        AuditEntry(at=now, actor=principal.sub, role=principal.role, action=action, outcome="allowed", details=details)
    )


def visit_state(request: VisitRequest, *, actor: str, tracking_url: str | None) -> dict[str, Any]:
    """The `VisitState` every visit.* event carries."""
    return {
        "request_id": request.id,
        "reference": request.reference,
        "status": request.status,
        "division": request.division,
        "info_divisions": request.info_divisions,
        "focus_areas": request.focus_areas,
        "organisation": request.organisation,
        "country": request.country,
        "language": request.language,
        "contact_name": request.contact_name,
        "contact_email": request.contact_email,
        "highest_rank": request.highest_rank,
        "delegation_size": request.delegation_size,
        "preferred_dates": ranges(request.preferred_dates),
        "visit_date": request.visit_date,
        "host": request.host,
        "start_time": request.start_time,
        "end_time": request.end_time,
        "venue": request.venue,
        "sequence": request.sequence,
        "quote": request.quote,
        "needs": request.needs,
        "flags": request.flags,
        "tracking_url": tracking_url,
        "actor": actor,
    }


def ranges(date_ranges: list[domain.DateRange]) -> list[dict[str, str]]:
    return [{"start": r.start.isoformat(), "end": r.end.isoformat()} for r in date_ranges]
