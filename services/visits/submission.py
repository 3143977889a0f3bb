"""A delegation's submission, as the design reads: the request is routed by its primary focus area, flagged
(short notice, possible duplicate), recorded as submitted, then routed to its division or waitlisted when every
preferred week is full. `intake.py` writes many submissions in one transaction; this module says what each one is.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.visits import domain, events, security
from services.visits.config import Settings
from services.visits.journal import DELEGATION, RULE, record_change
from services.visits.models import Member, RequestFocusArea, VisitRequest
from services.visits.routing import route_request
from services.visits.schemas import VisitRequestCreate
from services.visits.waitlist import waitlist_request

# Earlier requests by (organisation key, primary focus area): when each came and its reference.
Earlier = dict[tuple[str, str], list[tuple[datetime, str]]]


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


def new_request(
    data: VisitRequestCreate,
    reference: str,
    token: str,
    now: datetime,
    divisions: dict[str, domain.Division],
    rules: dict[str, str],
) -> VisitRequest:
    """The request, routed in memory and flagged for short notice (duplicates are flagged by `record_submission`)."""
    routing = domain.route(data.focus_areas, rules, divisions)
    preferred = [r.to_domain() for r in data.preferred_dates]
    return VisitRequest(
        id=str(uuid.uuid4()),
        reference=reference,
        status="submitted",
        division=routing.division,
        info_divisions=routing.info_divisions,
        primary_focus_area=data.focus_areas[0],
        organisation=data.organisation,
        organisation_key=domain.organisation_key(data.organisation),
        country=data.country,
        language=data.language,
        contact_name=data.contact.name,
        contact_email=str(data.contact.email),
        contact_phone=data.contact.phone,
        highest_rank=data.highest_rank,
        delegation_size=data.delegation_size,
        preferred_dates=preferred,
        proposed_dates=[],
        sequence=0,
        purpose=data.purpose,
        needs=data.needs.model_dump(),
        tracking_token_hash=security.hash_token(token),
        created_at=now,
        updated_at=now,
        version=1,
        short_notice=domain.is_short_notice(
            preferred, domain.local_date(now), divisions[routing.division].lead_time_weeks
        ),
        focus_area_rows=[RequestFocusArea(position=i, focus_area=a) for i, a in enumerate(data.focus_areas)],
        members=[Member(position=i, **m.model_dump()) for i, m in enumerate(data.members)],
    )


async def record_submission(
    session: AsyncSession,
    settings: Settings,
    request: VisitRequest,
    token: str,
    *,
    now: datetime,
    divisions: dict[str, domain.Division],
    earlier: Earlier,
    no_room: dict[str, set[str]],
) -> Submission:
    """One new request: flagged as a possible duplicate, recorded as submitted, then routed or waitlisted.

    `earlier` holds the organisations' earlier requests (this one is added, so later ones in the same transaction
    see it); `no_room` the weeks of each division that are full or already have requests waiting.
    """
    request.duplicate_of = _latest(earlier, request, since=domain.duplicate_window_start(now))
    earlier.setdefault((request.organisation_key, request.primary_focus_area), []).append(
        (request.created_at, request.reference)
    )
    url = tracking_url(settings, request.reference, token)
    # Only the events of this transaction carry the link: afterwards just its hash is left.
    await record_change(
        session,
        settings,
        request,
        events.VisitSubmitted,
        action="submitted",
        actor=DELEGATION,
        now=now,
        tracking_url=url,
    )
    full = no_room.get(request.division, set())
    if domain.all_weeks_full(request.preferred_dates, full):
        await waitlist_request(session, settings, request, full, now=now, tracking_url=url)
    else:
        await route_request(
            session,
            settings,
            request,
            divisions[request.division],
            actor=RULE,
            by="rule",
            now=now,
            tracking_url=url,
            waitlisted=False,
        )
    return Submission(request.reference, request.status, request.division, request.flags, token)


def tracking_url(settings: Settings, reference: str, token: str) -> str:
    """The delegation's private page; the token in it is the only key."""
    return f"{settings.public_base_url.rstrip('/')}/track/{reference}?token={token}"


def _latest(earlier: Earlier, request: VisitRequest, *, since: datetime) -> str | None:
    """The latest earlier request by the same organisation on the same primary focus area, 24 months back."""
    same = earlier.get((request.organisation_key, request.primary_focus_area), [])
    found = [(at, reference) for at, reference in same if at >= since]
    return max(found)[1] if found else None
