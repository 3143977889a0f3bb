"""HTTP API of the capacity service."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, status
from fastapi.exceptions import RequestValidationError

from services.capacity import service
from services.capacity.config import SettingsDep
from services.capacity.domain import WEEK_PATTERN, InvalidWeek, validate_week
from services.capacity.models import Division
from services.capacity.schemas import (
    DefaultLimitUpdate,
    DivisionCode,
    DivisionLimitPublic,
    LimitUpdate,
    WeekCapacityPublic,
)
from shared.auth import Principal, require
from shared.db import SessionDep
from shared.web import error_responses

router = APIRouter(prefix="/api/v1/capacity", tags=["capacity"])


async def known_division(division: Annotated[DivisionCode, Path()], session: SessionDep) -> Division:
    """The division named in the path (422 if not a division code at all), or 404."""
    found = await service.find_division(session=session, code=division)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown division")
    return found


async def valid_week(iso_week: Annotated[str, Path(pattern=WEEK_PATTERN, examples=["2027-W07"])]) -> str:
    """The ISO week named in the path ("2027-W07"), or 422 like any other invalid parameter (2031-W53, 2031-W00)."""
    try:
        return validate_week(iso_week)
    except InvalidWeek as exc:
        raise RequestValidationError([{"loc": ("path", "iso_week"), "msg": str(exc), "type": "value_error"}]) from exc


KnownDivision = Annotated[Division, Depends(known_division)]
ValidWeek = Annotated[str, Depends(valid_week)]
Admin = Annotated[Principal, require("admin")]


@router.get("/{division}/{iso_week}", responses=error_responses(401, 403, 404))
async def read_week(
    principal: Annotated[Principal, require("admin", "communications", "division_officer", "protocol_officer")],
    division: KnownDivision,
    iso_week: ValidWeek,
    session: SessionDep,
) -> WeekCapacityPublic:
    """Limit, reserved, free and the requests holding one division's week."""
    if principal.role == "division_officer" and principal.division != division.code:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown division")
    return await service.week_capacity(session=session, division=division.code, iso_week=iso_week)


@router.put("/{division}/{iso_week}", responses=error_responses(401, 403, 404, 413))
async def put_week_limit(
    _: Admin,
    division: KnownDivision,
    iso_week: ValidWeek,
    body: LimitUpdate,
    session: SessionDep,
    settings: SettingsDep,
) -> WeekCapacityPublic:
    """Set this week's own limit (null = unlimited); reservations above it are kept."""
    return await service.set_week_limit(
        session=session,
        settings=settings,
        division=division.code,
        iso_week=iso_week,
        limit=body.limit,
    )


@router.delete("/{division}/{iso_week}", responses=error_responses(401, 403, 404))
async def delete_week_limit(
    _: Admin, division: KnownDivision, iso_week: ValidWeek, session: SessionDep, settings: SettingsDep
) -> WeekCapacityPublic:
    """Drop this week's own limit: the division's default applies again."""
    return await service.set_week_limit(
        session=session,
        settings=settings,
        division=division.code,
        iso_week=iso_week,
        limit=None,
        own=False,
    )


@router.get("/{division}", responses=error_responses(401, 403, 404))
async def read_default_limit(_: Admin, division: KnownDivision) -> DivisionLimitPublic:
    """The division's default weekly limit (null = unlimited)."""
    return DivisionLimitPublic(division=division.code, limit=division.default_limit)


@router.put("/{division}", responses=error_responses(401, 403, 404, 413))
async def put_default_limit(
    _: Admin, division: KnownDivision, body: DefaultLimitUpdate, session: SessionDep, settings: SettingsDep
) -> DivisionLimitPublic:
    """Set the division's default weekly limit for every week without its own."""
    changed = await service.set_default_limit(session=session, settings=settings, division=division, limit=body.limit)
    return DivisionLimitPublic(division=changed.code, limit=changed.default_limit)
