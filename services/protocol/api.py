"""HTTP API of the protocol service."""

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse

from services.protocol import service
from services.protocol.config import SettingsDep
from services.protocol.schemas import GiftCreate, GiftPublic, ItemUpdate, PlanPublic, PlanSummary
from shared.auth import Principal, require
from shared.db import SessionDep
from shared.web import error_responses

router = APIRouter(prefix="/api/v1", tags=["protocol"])
Staff = Annotated[Principal, require("protocol_officer", "admin", "communications", "division_officer")]
ProtocolOffice = Annotated[Principal, require("protocol_officer", "admin")]
ERROR_STATUS = {service.NotFound: 404, service.PlanCancelled: 409}


def install_error_handlers(app: FastAPI) -> None:
    """Refusals of the use cases become 404 / 409 with their message, or a 422 on the item's state."""

    async def refused(_request: Request, exc: service.ProtocolError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=ERROR_STATUS[type(exc)])

    async def state_rejected(_request: Request, exc: service.StateRejected) -> JSONResponse:
        # Invalid input for that item, so FastAPI's own validation-error shape, as every route documents its 422.
        return JSONResponse({"detail": [{"loc": ["body", "state"], "msg": str(exc), "type": "value_error"}]}, 422)

    app.add_exception_handler(service.ProtocolError, refused)
    app.add_exception_handler(service.StateRejected, state_rejected)


@router.get("/plans/{reference}", response_model=PlanPublic, responses=error_responses(401, 403, 404))
async def read_plan(reference: str, session: SessionDep, principal: Staff):
    """One plan with its checklist; division officers see only their division's plans."""
    return await service.get_plan(session=session, reference=reference, principal=principal)


@router.get("/plans", response_model=list[PlanSummary], responses=error_responses(401, 403))
async def plan_calendar(
    session: SessionDep,
    principal: Staff,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    level: Annotated[int | None, Query(ge=1, le=4)] = None,
    status: Literal["draft", "ready", "cancelled"] | None = None,
):
    """The protocol calendar: plans by visit date, cancelled ones only with status=cancelled."""
    return await service.list_plans(
        session=session, principal=principal, date_from=date_from, date_to=date_to, level=level, status=status
    )


@router.patch(
    "/plans/{reference}/items/{key}", response_model=PlanPublic, responses=error_responses(401, 403, 404, 409, 413)
)
async def update_item(
    reference: str, key: str, body: ItemUpdate, settings: SettingsDep, session: SessionDep, principal: ProtocolOffice
):
    """Move one checklist item (protocol office only); returns the whole plan."""
    return await service.update_item(
        session=session,
        settings=settings,
        reference=reference,
        key=key,
        state=body.state,
        note=body.note,
        set_note="note" in body.model_fields_set,
        actor=principal.sub,
    )


@router.post(
    "/plans/{reference}/gifts",
    response_model=GiftPublic,
    status_code=201,
    responses=error_responses(401, 403, 404, 409, 413),
)
async def record_gift(reference: str, body: GiftCreate, session: SessionDep, principal: ProtocolOffice):
    """Add a gift given or received during the visit to the register."""
    return await service.record_gift(session=session, reference=reference, gift=body, actor=principal.sub)


@router.get("/gifts", response_model=list[GiftPublic], responses=error_responses(401, 403))
async def gift_register(
    session: SessionDep,
    _principal: ProtocolOffice,
    date_from: Annotated[dt.date | None, Query(alias="from")] = None,
    date_to: Annotated[dt.date | None, Query(alias="to")] = None,
):
    """The gift register for a period (inclusive), for reporting."""
    return await service.list_gifts(session=session, date_from=date_from, date_to=date_to)
