"""HTTP API of the notifications service: the delivery log and the divisions' recipients."""

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.exceptions import RequestValidationError

from services.notifications import service
from services.notifications.config import SettingsDep
from services.notifications.schemas import (
    DeliveryPublic,
    DivisionCode,
    DivisionRecipientPublic,
    DivisionRecipientUpdate,
)
from shared.auth import Principal, require
from shared.db import SessionDep
from shared.web import error_responses

router = APIRouter(prefix="/api/v1")
Admin = Annotated[Principal, require("admin")]
Staff = Annotated[Principal, require("communications", "admin", "protocol_officer", "division_officer")]


@router.get("/deliveries", responses=error_responses(401, 403))
async def list_deliveries(
    session: SessionDep,
    principal: Staff,
    reference: str | None = None,
    status: Literal["pending", "sent", "failed", "cancelled"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryPublic]:
    """The delivery log, newest first; division officers see their division's requests only."""
    rows = await service.list_deliveries(
        session=session, principal=principal, reference=reference, status=status, limit=limit
    )
    return [DeliveryPublic.model_validate(row) for row in rows]


@router.get("/recipients/divisions", responses=error_responses(401, 403))
async def list_division_recipients(session: SessionDep, principal: Admin) -> list[DivisionRecipientPublic]:
    """Every division's e-mail address and webhook."""
    return [DivisionRecipientPublic.of(row) for row in await service.list_division_recipients(session=session)]


@router.get("/recipients/divisions/{division}", responses=error_responses(401, 403, 404))
async def get_division_recipient(
    session: SessionDep, principal: Admin, division: Annotated[str, Path()]
) -> DivisionRecipientPublic:
    """One division's e-mail address and webhook."""
    row = await service.get_division_recipient(session=session, division=division)
    if row is None:
        raise HTTPException(404, "no recipients configured for this division")
    return DivisionRecipientPublic.of(row)


@router.put("/recipients/divisions/{division}", responses=error_responses(401, 403))
async def set_division_recipient(
    session: SessionDep,
    principal: Admin,
    division: Annotated[DivisionCode, Path()],
    body: DivisionRecipientUpdate,
    settings: SettingsDep,
) -> DivisionRecipientPublic:
    """Set where a division hears its news; omit webhook_secret to keep the stored one."""
    try:
        row = await service.set_division_recipient(
            session=session, division=division, update_=body, actor=principal.sub, settings=settings
        )
    except service.InvalidRecipient as exc:  # answered like any other validation error
        raise RequestValidationError([{"loc": ("body", exc.field), "msg": str(exc), "type": "value_error"}]) from exc
    return DivisionRecipientPublic.of(row)
