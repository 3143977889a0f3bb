"""The staff listing: filters and keyset pagination, newest first."""

import base64
import binascii
import json
from datetime import UTC, datetime

from sqlalchemy import exists, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.visits.models import RequestFocusArea, VisitRequest
from services.visits.schemas import ListFilters
from shared.auth import Principal

FLAG_CONDITIONS = {
    "short_notice": VisitRequest.short_notice.is_(True),
    "possible_duplicate": VisitRequest.duplicate_of.is_not(None),
    "escalated": VisitRequest.escalated_at.is_not(None),
}


class InvalidCursor(ValueError):
    """A listing cursor we did not make."""


async def list_requests(
    *, session: AsyncSession, principal: Principal, filters: ListFilters
) -> tuple[list[VisitRequest], str | None]:
    """One page and the cursor of the next; a division officer sees only their division's requests."""
    division = principal.division if principal.role == "division_officer" else filters.division
    query = select(VisitRequest)
    equal = {
        VisitRequest.division: division,
        VisitRequest.status: filters.status,
        VisitRequest.country: filters.country.upper() if filters.country else None,
    }
    for column, value in equal.items():
        if value is not None:
            query = query.where(column == value)
    if filters.focus_area:
        query = query.where(
            exists().where(
                RequestFocusArea.request_id == VisitRequest.id, RequestFocusArea.focus_area == filters.focus_area
            )
        )
    if filters.flag:
        query = query.where(FLAG_CONDITIONS[filters.flag])
    if filters.cursor:
        created_at, request_id = decode_cursor(filters.cursor)
        # A row comparison is an index range on (created_at, id); the OR form made PostgreSQL filter row by row.
        query = query.where(tuple_(VisitRequest.created_at, VisitRequest.id) < tuple_(created_at, request_id))
    rows = list(
        await session.scalars(
            query.order_by(VisitRequest.created_at.desc(), VisitRequest.id.desc()).limit(filters.limit + 1)
        )
    )
    page = rows[: filters.limit]
    return page, encode_cursor(page[-1]) if len(rows) > filters.limit else None


def encode_cursor(request: VisitRequest) -> str:
    """Opaque to clients: where the page ended, as (created_at, id)."""
    raw = json.dumps([request.created_at.isoformat(), request.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created_at, request_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        moment = datetime.fromisoformat(created_at)
        # In UTC here: an offset on the first or last day of the calendar cannot be converted (it was a 500).
        return (moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)), str(request_id)
    except (binascii.Error, ValueError, TypeError, OverflowError) as exc:
        raise InvalidCursor("cursor is not one this API returned") from exc
