"""HTTP API of the notifications service: the delivery log and the divisions' recipients."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from services.notifications import feeds, service
from services.notifications.config import SettingsDep
from services.notifications.schemas import (
    CalendarFeedCreate,
    CalendarFeedCreated,
    CalendarFeedPublic,
    DeliveryPublic,
    DivisionCode,
    DivisionRecipientPublic,
    DivisionRecipientUpdate,
)
from shared.auth import Principal, public, require
from shared.db import SessionDep
from shared.web import error_responses

router = APIRouter(prefix="/api/v1")
calendars = APIRouter(tags=["calendars"])
Admin = Annotated[Principal, require("admin")]
Staff = Annotated[Principal, require("communications", "admin", "protocol_officer", "division_officer")]
FeedKeeper = Annotated[Principal, require("admin", "division_officer")]


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


@router.post("/calendar-feeds", status_code=201, tags=["calendars"], responses=error_responses(401, 403))
async def create_calendar_feed(
    body: CalendarFeedCreate, session: SessionDep, principal: FeedKeeper, settings: SettingsDep
) -> CalendarFeedCreated:
    """A new secret address for a calendar feed; the address is in this answer only. A division officer creates
    its own division's feed, admins any."""
    feed, token = await feeds.create_feed(
        session=session, principal=principal, kind=body.kind, division=body.division, now=datetime.now(UTC)
    )
    url = feeds.feed_url(settings.calendar_base_url, token)
    return CalendarFeedCreated(**CalendarFeedPublic.model_validate(feed).model_dump(), url=url)


@router.get("/calendar-feeds", tags=["calendars"], responses=error_responses(401, 403))
async def list_calendar_feeds(session: SessionDep, principal: FeedKeeper) -> list[CalendarFeedPublic]:
    """The feeds (without their addresses), revoked ones too; a division officer sees its division's."""
    return [CalendarFeedPublic.model_validate(f) for f in await feeds.list_feeds(session=session, principal=principal)]


@router.delete("/calendar-feeds/{feed_id}", tags=["calendars"], responses=error_responses(401, 403, 404))
async def revoke_calendar_feed(feed_id: str, session: SessionDep, principal: FeedKeeper) -> CalendarFeedPublic:
    """Revoke a feed: its address answers 404 from now on."""
    feed = await feeds.revoke_feed(session=session, principal=principal, feed_id=feed_id, now=datetime.now(UTC))
    return CalendarFeedPublic.model_validate(feed)


@calendars.get(
    feeds.FEED_PATH,
    dependencies=[public()],
    response_class=Response,
    responses=error_responses(404)
    | {200: {"description": "an iCalendar document", "content": {"text/calendar": {"schema": {"type": "string"}}}}},
)
async def calendar_feed(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str, Query(min_length=20, max_length=100, description="the feed's secret")],
) -> Response:
    """A calendar feed (RFC 5545) for calendar clients, which cannot sign in: the secret address is the key."""
    feed = await feeds.feed_by_token(session=session, token=token)
    body = await feeds.render_feed(
        session=session,
        feed=feed,
        renderer=request.app.state.renderer,
        language=settings.staff_language,
        now=datetime.now(UTC),
    )
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300", "Content-Disposition": 'inline; filename="visitdesk.ics"'},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Refused feed requests: 404 for a feed that is not there (or not the caller's), 403, or 422 naming the field."""

    async def refused(_request: Request, exc: feeds.FeedError) -> JSONResponse:
        if isinstance(exc, feeds.InvalidFeed):
            detail = [{"loc": ["body", exc.field], "msg": str(exc), "type": "value_error"}]
            return JSONResponse({"detail": detail}, 422)
        if isinstance(exc, feeds.FeedForbidden):
            return JSONResponse({"detail": str(exc)}, 403)
        return JSONResponse({"detail": "no such calendar feed"}, 404)

    app.add_exception_handler(feeds.FeedError, refused)
