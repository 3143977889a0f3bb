"""HTTP API of the visits service."""

import math
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from services.visits import access, configuration, decisions, domain, fees, listing, privacy, security, submission
from services.visits.config import SettingsDep
from services.visits.models import DivisionRow, FeeScheduleRow
from services.visits.schemas import (
    Decision,
    DivisionOut,
    DivisionUpdate,
    ErasureOut,
    FeeScheduleIn,
    FeeScheduleOut,
    HistoryOut,
    InvoicingFilters,
    ListFilters,
    Page,
    ProposalAnswer,
    RoutingRuleOut,
    RoutingRuleUpdate,
    Submitted,
    VisitRequestCreate,
    VisitRequestPublic,
    VisitRequestStaff,
    VisitRequestSummary,
)
from services.visits.security import client_address
from shared.auth import Principal, current_principal, public, require
from shared.db import SessionDep
from shared.web import error_responses

router = APIRouter(prefix="/api/v1", tags=["requests"])

Staff = Annotated[Principal, require("admin", "division_officer", "communications", "protocol_officer")]
Decider = Annotated[Principal, require("admin", "division_officer")]
Admin = Annotated[Principal, require("admin")]
MaybeStaff = Annotated[Principal | None, Depends(current_principal)]
Token = Annotated[str | None, Query(description="the delegation's tracking token", max_length=100)]
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=security.IDEMPOTENCY_KEY,
        description="1-200 printable characters, e.g. a UUID. A retry with the same key and body gets the first answer "
        "again (for at least a day); the same key with another body is refused (422).",
    ),
]


IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=200,
        description="The request's ETag as the caller saw it (from GET). If the request has changed since, the "
        "decision is refused with 412 and nothing changes. Without it, decisions land in the order they arrive.",
    ),
]


def etag(visit) -> str:
    """The request's entity tag: its version, raised by every change."""
    return f'"{visit.version}"'


def seen_version(if_match: str | None) -> int | None:
    """The version an If-Match names (None for none or `*`); an ETag we never gave matches no version (-1)."""
    if if_match is None or if_match.strip() == "*":
        return None
    value = if_match.strip()
    return int(value[1:-1]) if len(value) > 2 and value[0] == value[-1] == '"' and value[1:-1].isdigit() else -1


def submissions_left(request: Request) -> float | None:
    """Count one public submission for the caller's address; seconds to wait if over the limit."""
    return request.app.state.submit_limiter.hit(client_address(request), time.monotonic())


async def rate_limited(request: Request) -> None:
    """429 with Retry-After once an address has used its submissions for the window."""
    retry_after = submissions_left(request)
    if retry_after is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many submissions, try again later",
            headers={"Retry-After": str(math.ceil(retry_after))},
        )


def now() -> datetime:
    return datetime.now(UTC)


@router.post(
    "/requests", status_code=201, dependencies=[public(), Depends(rate_limited)], responses=error_responses(429)
)
async def submit_visit_request(
    body: VisitRequestCreate, request: Request, settings: SettingsDep, idempotency_key: IdempotencyKeyHeader = None
) -> Submitted:
    """Submit a visit request; keep the tracking URL. Send an Idempotency-Key to retry safely."""
    submitted = await request.app.state.intake.submit(
        body, now=now(), idempotency_key=None if idempotency_key is None else f"api:{idempotency_key}"
    )
    return Submitted(
        reference=submitted.reference,
        status=submitted.status,
        division=submitted.division,
        tracking_url=submission.tracking_url(settings, submitted.reference, submitted.token),
        flags=submitted.flags,
    )


@router.get("/requests", responses=error_responses(401, 403))
async def list_visit_requests(principal: Staff, session: SessionDep, filters: Annotated[ListFilters, Query()]) -> Page:
    """Staff listing, newest first; follow `next_cursor` for the next page."""
    items, cursor = await listing.list_requests(session=session, principal=principal, filters=filters)
    return Page(items=[VisitRequestSummary.model_validate(i) for i in items], next_cursor=cursor)


@router.get(
    "/requests/{reference}",
    dependencies=[public()],
    responses=error_responses(401, 404),
    response_model=VisitRequestStaff | VisitRequestPublic,
)
async def get_visit_request(
    reference: str, response: Response, session: SessionDep, principal: MaybeStaff, token: Token = None
):
    """One request: the delegation with its tracking token, or staff with a bearer token. Its `ETag` names the
    version seen, for a decision's `If-Match`."""
    visit = await access.visible_request(
        session=session, reference=reference, principal=principal, token=token, attempted="view", now=now()
    )
    response.headers["ETag"] = etag(visit)
    return (VisitRequestStaff if principal else VisitRequestPublic).model_validate(visit)


@router.get("/requests/{reference}/history", dependencies=[public()], responses=error_responses(401, 404))
async def get_visit_request_history(
    reference: str, session: SessionDep, principal: MaybeStaff, token: Token = None
) -> list[HistoryOut]:
    """What happened to the request and who did it (staff names, notes and escalations are shown to staff only)."""
    entries = await access.request_history(
        session=session, reference=reference, principal=principal, token=token, now=now()
    )
    return [HistoryOut.model_validate(e) for e in entries] if principal else access.as_the_delegation_sees_it(entries)


@router.post("/requests/{reference}/decision", responses=error_responses(401, 403, 404, 409, 412))
async def decide_visit_request(
    reference: str,
    body: Decision,
    response: Response,
    principal: Decider,
    session: SessionDep,
    settings: SettingsDep,
    if_match: IfMatch = None,
) -> VisitRequestStaff:
    """Accept, decline, redirect or propose dates (the owning division's officers, or admins). Send `If-Match`
    with the ETag you saw to decide only on that version (412 otherwise)."""
    visit = await decisions.decide(
        session=session,
        settings=settings,
        reference=reference,
        principal=principal,
        decision=body,
        now=now(),
        seen_version=seen_version(if_match),
    )
    response.headers["ETag"] = etag(visit)
    return VisitRequestStaff.model_validate(visit)


@router.post(
    "/requests/{reference}/cancel",
    dependencies=[public()],
    responses=error_responses(401, 403, 404, 409),
    response_model=VisitRequestStaff | VisitRequestPublic,
)
async def cancel_visit_request(
    reference: str, session: SessionDep, settings: SettingsDep, principal: MaybeStaff, token: Token = None
):
    """Call the visit off: the delegation with its token, or the owning division's staff."""
    visit = await decisions.cancel_request(
        session=session, settings=settings, reference=reference, principal=principal, token=token, now=now()
    )
    return (VisitRequestStaff if principal else VisitRequestPublic).model_validate(visit)


@router.post("/requests/{reference}/respond", dependencies=[public()], responses=error_responses(404, 409))
async def answer_proposed_dates(
    reference: str, body: ProposalAnswer, session: SessionDep, settings: SettingsDep, token: Token = None
) -> VisitRequestPublic:
    """The delegation takes one of the proposed date ranges (back to the division) or turns them down (cancelled)."""
    visit = await decisions.answer_proposal(
        session=session, settings=settings, reference=reference, token=token, answer=body, now=now()
    )
    return VisitRequestPublic.model_validate(visit)


@router.delete("/requests/{reference}/personal-data", tags=["personal data"], responses=error_responses(401, 403, 404))
async def erase_personal_data(
    reference: str, principal: Admin, session: SessionDep, settings: SettingsDep, dry_run: bool = False
) -> ErasureOut:
    """Anonymise the request's contact and member data now; `dry_run=true` only counts what would go."""
    visit, erasure = await privacy.erase_personal_data(
        session=session, settings=settings, reference=reference, principal=principal, dry_run=dry_run, now=now()
    )
    return ErasureOut(reference=visit.reference, dry_run=dry_run, erased_at=visit.erased_at, fields=erasure.fields)


@router.get("/routing-rules", tags=["configuration"], responses=error_responses(401, 403))
async def list_routing_rules(principal: Staff, session: SessionDep) -> list[RoutingRuleOut]:
    """Which division owns new requests on each focus area."""
    return [RoutingRuleOut.model_validate(r) for r in await configuration.routing_rules(session=session)]


@router.put("/routing-rules/{focus_area}", tags=["configuration"], responses=error_responses(401, 403, 404))
async def change_routing_rule(
    focus_area: str, body: RoutingRuleUpdate, principal: Admin, session: SessionDep
) -> RoutingRuleOut:
    """Send new requests on a focus area to another division (requests already routed stay)."""
    rule = await configuration.set_routing_rule(
        session=session, principal=principal, focus_area=focus_area, division=body.division, now=now()
    )
    return RoutingRuleOut.model_validate(rule)


def division_out(row: DivisionRow, schedule: FeeScheduleRow | None) -> DivisionOut:
    return DivisionOut(
        code=row.code,
        name=row.name,
        lead_time_weeks=row.lead_time_weeks,
        decision_days=row.decision_deadline_days,
        fees=FeeScheduleOut.model_validate(schedule) if schedule else None,
    )


@router.get("/divisions", tags=["configuration"], responses=error_responses(401, 403))
async def list_divisions(principal: Staff, session: SessionDep) -> list[DivisionOut]:
    """Every division with its lead time, decision deadline and fee schedule."""
    schedules = await fees.fee_schedules(session=session)
    return [division_out(d, schedules.get(d.code)) for d in await configuration.divisions(session=session)]


@router.put("/divisions/{division}", tags=["configuration"], responses=error_responses(401, 403, 404))
async def change_division(division: str, body: DivisionUpdate, principal: Admin, session: SessionDep) -> DivisionOut:
    """A division's lead time (weeks) and decision deadline (working days), for requests routed from now on."""
    row = await configuration.update_division(
        session=session, principal=principal, code=division, change=body, now=now()
    )
    return division_out(row, await fees.fee_schedule(session=session, division=division))


@router.get("/divisions/{division}/fees", tags=["configuration"], responses=error_responses(401, 403, 404))
async def get_fee_schedule(division: str, principal: Staff, session: SessionDep) -> FeeScheduleOut:
    """What the division charges for hosting a visit; 404 when it charges nothing."""
    row = await fees.fee_schedule(session=session, division=division)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this division charges nothing")
    return FeeScheduleOut.model_validate(row)


@router.put("/divisions/{division}/fees", tags=["configuration"], responses=error_responses(401, 403, 404))
async def set_fee_schedule(division: str, body: FeeScheduleIn, principal: Admin, session: SessionDep) -> FeeScheduleOut:
    """Set the division's fees and cancellation terms, for visits accepted from now on; it then needs the start and
    end time of each visit it accepts."""
    row = await fees.set_fee_schedule(session=session, principal=principal, division=division, schedule=body, now=now())
    return FeeScheduleOut.model_validate(row)


@router.delete(
    "/divisions/{division}/fees", status_code=204, tags=["configuration"], responses=error_responses(401, 403, 404)
)
async def remove_fee_schedule(division: str, principal: Admin, session: SessionDep) -> Response:
    """The division charges nothing for visits accepted from now on (fees already quoted stay)."""
    await fees.remove_fee_schedule(session=session, principal=principal, division=division, now=now())
    return Response(status_code=204)


@router.get(
    "/invoicing.csv",
    tags=["configuration"],
    response_class=Response,
    responses=error_responses(401, 403)
    | {
        200: {
            "description": "a header row, then one row per visit on a day in [from, to] that owes a fee",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
async def get_invoicing_csv(principal: Admin, session: SessionDep, period: Annotated[InvoicingFilters, Query()]):
    """For finance: each hosted visit's fee and each late cancellation's fee, by visit day."""
    if period.end < period.start:
        raise RequestValidationError(
            [{"loc": ("query", "to"), "msg": "must not be before from", "type": "value_error"}]
        )
    lines = await fees.invoicing(session=session, start=period.start, end=period.end)
    return Response(
        fees.invoicing_csv(lines),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="invoicing-{period.start}-{period.end}.csv"'},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Domain errors become HTTP answers here, so routes stay thin."""

    def field_error(where: str, fields: tuple[str, ...], message: str) -> JSONResponse:
        detail = [{"loc": [where, field], "msg": message, "type": "value_error"} for field in fields]
        return JSONResponse({"detail": detail}, 422)

    app.add_exception_handler(access.NotFound, lambda r, e: JSONResponse({"detail": "request not found"}, 404))
    app.add_exception_handler(access.Forbidden, lambda r, e: JSONResponse({"detail": str(e)}, 403))
    app.add_exception_handler(
        access.Stale, lambda r, e: JSONResponse({"detail": "the request has changed since you saw it"}, 412)
    )
    app.add_exception_handler(configuration.Unknown, lambda r, e: JSONResponse({"detail": str(e)}, 404))
    app.add_exception_handler(domain.InvalidTransition, lambda r, e: JSONResponse({"detail": str(e)}, 409))
    app.add_exception_handler(domain.InvalidDecision, lambda r, e: field_error("body", e.fields, str(e)))
    app.add_exception_handler(listing.InvalidCursor, lambda r, e: field_error("query", ("cursor",), str(e)))
    app.add_exception_handler(
        submission.KeyReused,
        lambda r, e: field_error("header", ("Idempotency-Key",), "was sent before with a different request body"),
    )
