"""Personal data of a request: what is personal, and its erasure on an admin's request or after retention.

Anonymised, not deleted: the request keeps its organisation, country, focus areas, size, rank, dates
and outcome, so statistics stay the same. Contact details and member names and titles become None;
free text the delegation wrote (purpose, accessibility needs, messages) becomes "[erased]"; copies of
the personal values in history entries and in the outbox's event payloads are blanked as well.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.visits import domain, models
from services.visits.access import NotFound, history_of
from services.visits.config import Settings
from services.visits.jobs import forget_submission_keys, run_periodically
from services.visits.journal import SYSTEM, Actor, record_erasure
from services.visits.models import HistoryEntry, VisitRequest
from shared.auth import Principal

ERASED = "[erased]"
# Event fields that carry the contact (or the key to the delegation's page) in every visit.* payload.
EVENT_PERSONAL_FIELDS = ("contact_name", "contact_email", "tracking_url")
SHORTEST_SCRUBBED = 3  # shorter values ("Dr") would blank unrelated words


@dataclass
class Erasure:
    """What erasing one request changes: counts per field for the report, and the new texts to write."""

    fields: dict[str, int]
    history: dict[int, dict[str, Any]] = field(default_factory=dict)  # entry id -> erased details
    outbox: dict[int, str] = field(default_factory=dict)  # outbox seq -> erased payload


def personal_values(request: VisitRequest) -> list[str]:
    """The request's personal values, longest first, to find their copies in other texts."""
    values = {request.contact_name, request.contact_email, request.contact_phone}
    values |= {m.name for m in request.members} | {m.title for m in request.members}
    return sorted((v for v in values if v and len(v) >= SHORTEST_SCRUBBED), key=lambda v: (-len(v), v))


def scrub(value: Any, secrets: list[str]) -> Any:
    """`value` (JSON-like) with every occurrence of a secret as a whole word replaced, case-insensitively.

    Whole words only: a member called "Ann" or titled "Mayor" must not blank "annual" or "mayors".
    """
    if isinstance(value, str) and secrets:
        pattern = r"(?<!\w)(?:" + "|".join(map(re.escape, secrets)) + r")(?!\w)"
        return re.sub(pattern, ERASED, value, flags=re.IGNORECASE)
    if isinstance(value, dict):
        return {k: scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, secrets) for v in value]
    return value


def erased_history(entry: HistoryEntry, secrets: list[str]) -> dict[str, Any]:
    """The entry's details without personal values: the delegation's own words go entirely, copies of personal
    values leave a staff member's message. The other details are codes, dates and the city's own host."""
    details = dict(entry.details or {})
    if details.get("message"):
        details["message"] = ERASED if entry.by == "delegation" else scrub(details["message"], secrets)
    return details


def erased_payload(payload: str, secrets: list[str]) -> str:
    """An outbox row's envelope without the contact, the tracking link or copies of personal values."""
    envelope = json.loads(payload)
    data = envelope.get("data") or {}
    for name in EVENT_PERSONAL_FIELDS:
        if data.get(name) is not None:
            data[name] = None
    if (data.get("needs") or {}).get("accessibility"):
        data["needs"]["accessibility"] = ERASED
    if data.get("message"):  # the only free text of an event; the rest are codes, dates and the city's host
        data["message"] = ERASED if data.get("actor") == "delegation" else scrub(data["message"], secrets)
    erased = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
    return payload if json.loads(erased) == json.loads(payload) else erased


def request_fields(request: VisitRequest) -> dict[str, int]:
    """How many personal values each field of the request itself holds."""

    def present(*values) -> int:
        return sum(1 for v in values if v not in (None, "", ERASED))

    return {
        "contact_name": present(request.contact_name),
        "contact_email": present(request.contact_email),
        "contact_phone": present(request.contact_phone),
        "member_names": present(*(m.name for m in request.members)),
        "member_titles": present(*(m.title for m in request.members)),
        "purpose": present(request.purpose),
        "accessibility_needs": present((request.needs or {}).get("accessibility")),
    }


async def plan_erasure(session: AsyncSession, request: VisitRequest) -> Erasure:
    """Everything erasing `request` would change, computed without changing anything."""
    secrets = personal_values(request)
    plan = Erasure(fields=request_fields(request))
    for entry in await history_of(session=session, request=request):
        details = erased_history(entry, secrets)
        if details != (entry.details or {}):
            plan.history[entry.id] = details
    outbox = models.outbox
    rows = await session.execute(select(outbox.c.seq, outbox.c.payload).where(outbox.c.key == request.id))
    for seq, payload in rows:
        erased = erased_payload(payload, secrets)
        if erased != payload:
            plan.outbox[seq] = erased
    plan.fields |= {"history_entries": len(plan.history), "outbox_events": len(plan.outbox)}
    return plan


async def _erase(
    session: AsyncSession,
    settings: Settings,
    request: VisitRequest,
    plan: Erasure,
    *,
    actor: Actor,
    trigger: str,
    now: datetime,
) -> None:
    """Apply `plan` in the caller's transaction, with its history entry, audit row and event."""
    request.contact_name = request.contact_email = request.contact_phone = None
    request.purpose = ERASED
    if (request.needs or {}).get("accessibility"):
        request.needs = {**request.needs, "accessibility": ERASED}
    for member in request.members:
        member.name = member.title = None
    for entry_id, details in plan.history.items():
        await session.execute(update(HistoryEntry).where(HistoryEntry.id == entry_id).values(details=details))
    for seq, payload in plan.outbox.items():
        await session.execute(update(models.outbox).where(models.outbox.c.seq == seq).values(payload=payload))
    request.erased_at = now  # with `updated_at` (record_erasure): a later change shows as newer than the erasure
    await record_erasure(session, settings, request, actor=actor, now=now, fields=plan.fields, trigger=trigger)


async def erase_personal_data(
    *, session: AsyncSession, settings: Settings, reference: str, principal: Principal, dry_run: bool, now: datetime
) -> tuple[VisitRequest, Erasure]:
    """An admin's erasure request; a dry run reports what would go and changes nothing."""
    query = select(VisitRequest).where(VisitRequest.reference == reference)
    request = await session.scalar(query if dry_run else query.with_for_update())
    if request is None:
        raise NotFound(reference)
    plan = await plan_erasure(session, request)
    if not dry_run:  # even with nothing left here: the event asks every other service again
        await _erase(session, settings, request, plan, actor=Actor.staff(principal), trigger="request", now=now)
        await session.commit()
    return request, plan


async def erase_expired_personal_data(*, session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Erase requests whose visit day, or end without a visit, is `personal_data_retention_days` past.

    Also requests never decided or never answered whose every preferred and proposed day is that far past (they can
    no longer be visited; their status stays as it is), and those erased before and changed since: an admin may
    erase an open request, and the delegation may still write afterwards (an answer to proposed dates), which must
    not stay for good.
    """
    visited_before, ended_by = domain.retention_cutoffs(now, settings.personal_data_retention_days)
    not_yet_erased = or_(VisitRequest.erased_at.is_(None), VisitRequest.erased_at < VisitRequest.updated_at)
    # An open request's days are read in Python (they are JSON); it was made before them, so older ones only.
    open_ones = await session.execute(
        select(VisitRequest.id, VisitRequest.preferred_dates, VisitRequest.proposed_dates).where(
            not_yet_erased, VisitRequest.status.in_(domain.OPEN), VisitRequest.created_at <= ended_by
        )
    )
    lapsed = [id_ for id_, preferred, proposed in open_ones if domain.last_day(preferred, proposed) < visited_before][
        :100
    ]
    due = list(
        await session.scalars(
            select(VisitRequest)
            .where(
                not_yet_erased,
                or_(
                    and_(VisitRequest.status.in_(domain.VISITED), VisitRequest.visit_date < visited_before),
                    and_(VisitRequest.status.in_(domain.ENDED_WITHOUT_VISIT), VisitRequest.ended_at <= ended_by),
                    and_(VisitRequest.status.in_(domain.OPEN), VisitRequest.id.in_(lapsed)),
                ),
            )
            .order_by(VisitRequest.id)
            .limit(100)
            .with_for_update(skip_locked=True)
        )
    )
    for request in due:
        await _erase(
            session, settings, request, await plan_erasure(session, request), actor=SYSTEM, trigger="retention", now=now
        )
    await session.commit()
    return len(due)


async def retention_loop(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """Every `retention_interval_seconds`: forget old idempotency keys, erase personal data past its retention."""
    await run_periodically(retention_round, "retention_erased", sessions, settings, settings.retention_interval_seconds)


async def retention_round(*, session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Returns how many requests were erased (forgotten keys are housekeeping, not counted)."""
    await forget_submission_keys(session=session, settings=settings, now=now)
    return await erase_expired_personal_data(session=session, settings=settings, now=now)
