"""Communications' view of the queue: the snapshot, the live stream, statistics and the dashboard page.

Every query here is bounded: the snapshot reads only open requests (by status, on the status-led
index) and at most `limit` rows per table; statistics read one creation-time window.
"""

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Header, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload

from services.visits import domain, staff, stream, texts
from services.visits.config import Settings, SettingsDep
from services.visits.models import RequestFocusArea, VisitRequest
from services.visits.schemas import FocusArea, Status
from services.visits.staff import SignedIn
from services.visits.staff_texts import ROLE_NAMES
from shared.auth import Principal
from shared.db import SessionDep
from shared.runtime import Runtime
from shared.web import error_responses

router = APIRouter(tags=["queue"])
READERS = ("admin", "communications", "division_officer")
Reader = Annotated[Principal, staff.staff_api(*READERS)]
OPEN = (*stream.WAITING, "waitlisted")
GROUPS = ("country", "focus_area", "outcome", "division", "month")
OUTCOMES = {
    "accepted": "accepted",
    "completed": "completed",
    "declined": "declined",
    "cancelled": "cancelled",
    "waitlisted": "waitlisted",
}  # every other status is still "waiting"
MAX_STATS_DAYS = 3660
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)  # beyond these no request exists, and dates overflow


# One event of the stream, as OpenAPI (before 3.2, without itemSchema) describes each SSE event.
SSE_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["ready", "change", "remove", "reset"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
}


class QueueFilters(BaseModel):
    division: str | None = Field(None, max_length=50, description="ignored for division officers")
    status: Status | None = None
    focus_area: FocusArea | None = None
    country: str | None = Field(None, pattern=r"^[A-Za-z]{2}$")
    limit: int = Field(100, ge=1, le=500, description="rows per table")


class QueueItem(BaseModel):
    reference: str
    status: str
    division: str
    focus_areas: list[str]
    country: str
    rank_level: int = Field(description="1 head of state or government; 2 minister, ambassador or mayor")
    press: bool
    flags: list[str]
    visit_date: date | None
    start_time: str | None = Field(None, description="HH:MM in Helsinki, when the visit has a time")
    end_time: str | None = None
    venue: str | None = None
    decision_deadline: date | None
    created_at: datetime | None
    age_days: int | None = None
    section: Literal["overdue", "waiting", "upcoming", "waitlisted"] | None


class QueueTable(BaseModel):
    items: list[QueueItem]
    more: bool = Field(description="true when rows beyond `limit` were left out")


class QueueCounts(BaseModel):
    total: int
    overdue: int
    by_status: dict[str, int]
    by_division: dict[str, int]
    by_focus_area: dict[str, int] = Field(description="by primary focus area")


class QueueSnapshot(BaseModel):
    generated_at: datetime
    position: str | None = Field(description="send as Last-Event-ID to the stream to get every later change")
    counts: QueueCounts
    overdue: QueueTable
    waiting: QueueTable
    upcoming: QueueTable
    waitlisted: QueueTable


class StatsFilters(BaseModel):
    group_by: str = Field("country,focus_area,outcome", description=f"comma-separated: {', '.join(GROUPS)}")
    start: date | None = Field(
        None, alias="from", ge=EARLIEST, le=LATEST, description="first creation day (default: a year before `to`)"
    )
    end: date | None = Field(None, alias="to", ge=EARLIEST, le=LATEST, description="last creation day (default: today)")
    division: str | None = Field(None, max_length=50, description="ignored for division officers")
    focus_area: FocusArea | None = Field(None, description="the primary focus area")
    country: str | None = Field(None, pattern=r"^[A-Za-z]{2}$")


class Stats(BaseModel):
    group_by: list[str]
    start: date = Field(serialization_alias="from")
    end: date = Field(serialization_alias="to")
    total: int
    rows: list[dict[str, str | int | None]]


# ---------------------------------------------------------------- use cases


async def queue_snapshot(
    *, session: AsyncSession, principal: Principal, filters: QueueFilters, position: str | None, now: datetime
) -> QueueSnapshot:
    """Counts of the open queue and its four tables; `position` is the stream's, read before the queries."""
    today, scope = domain.local_date(now), _scope(principal, filters.division, filters.country, filters.focus_area)
    if filters.status:
        scope.append(VisitRequest.status == filters.status)
    waiting, escalated = VisitRequest.status.in_(stream.WAITING), VisitRequest.escalated_at.is_not(None)
    soon = and_(VisitRequest.status == "accepted", VisitRequest.visit_date.between(today, today + timedelta(30)))
    by_deadline = (VisitRequest.decision_deadline, VisitRequest.created_at)
    tables = {
        "overdue": (and_(waiting, escalated), by_deadline),
        "waiting": (and_(waiting, VisitRequest.escalated_at.is_(None)), by_deadline),
        "upcoming": (soon, (VisitRequest.visit_date, VisitRequest.created_at)),
        "waitlisted": (VisitRequest.status == "waitlisted", (VisitRequest.created_at,)),
    }
    found = {
        name: await _table(session, [where, *scope], order, filters.limit, now)
        for name, (where, order) in tables.items()
    }
    return QueueSnapshot(generated_at=now, position=position, counts=await _counts(session, scope, today), **found)


def _scope(principal: Principal, division: str | None, country: str | None, focus_area: str | None) -> list:
    """The filters every query shares; a division officer's own division always wins."""
    division = principal.division if principal.role == "division_officer" else division
    scope = []
    if division:
        scope.append(VisitRequest.division == division)
    if country:
        scope.append(VisitRequest.country == country.upper())
    if focus_area:
        scope.append(
            exists().where(RequestFocusArea.request_id == VisitRequest.id, RequestFocusArea.focus_area == focus_area)
        )
    return scope


async def _table(session: AsyncSession, where: list, order: tuple, limit: int, now: datetime) -> QueueTable:
    rows = list(
        await session.scalars(
            select(VisitRequest)
            .options(raiseload(VisitRequest.members))
            .where(*where)
            .order_by(*order, VisitRequest.id)
            .limit(limit + 1)
        )
    )
    return QueueTable(items=[_item(r, now) for r in rows[:limit]], more=len(rows) > limit)


def _item(request: VisitRequest, now: datetime) -> QueueItem:
    fields = stream.queue_item(
        reference=request.reference,
        status=request.status,
        division=request.division,
        focus_areas=request.focus_areas,
        country=request.country,
        highest_rank=request.highest_rank,
        press=bool(request.needs.get("press")),
        flags=request.flags,
        visit_date=request.visit_date,
        start_time=_clock(request.start_time),
        end_time=_clock(request.end_time),
        venue=request.venue,
        decision_deadline=request.decision_deadline,
        created_at=request.created_at,
        today=domain.local_date(now),
    )
    # Helsinki days, as the dashboard counts them: received at 23:59 yesterday is a day old.
    return QueueItem(**fields, age_days=(domain.local_date(now) - domain.local_date(request.created_at)).days)


def _clock(moment: time | None) -> str | None:
    return moment.strftime("%H:%M") if moment else None


async def _counts(session: AsyncSession, scope: list, today: date) -> QueueCounts:
    """Open requests and upcoming accepted visits, grouped three ways from one grouped query."""
    escalated = VisitRequest.escalated_at.is_not(None).label("escalated")
    columns = (VisitRequest.status, VisitRequest.division, VisitRequest.primary_focus_area, escalated)
    in_queue = or_(
        VisitRequest.status.in_(OPEN), and_(VisitRequest.status == "accepted", VisitRequest.visit_date >= today)
    )
    rows = await session.execute(select(*columns, func.count()).where(in_queue, *scope).group_by(*columns))
    counts = QueueCounts(total=0, overdue=0, by_status={}, by_division={}, by_focus_area={})
    for state, division, focus_area, is_escalated, n in rows:
        counts.total += n
        counts.overdue += n if is_escalated and state in stream.WAITING else 0
        for bucket, key in (
            (counts.by_status, state),
            (counts.by_division, division),
            (counts.by_focus_area, focus_area),
        ):
            bucket[key] = bucket.get(key, 0) + n
    return counts


async def request_stats(*, session: AsyncSession, principal: Principal, filters: StatsFilters, now: datetime) -> Stats:
    """Requests created in [from, to] counted per group; outcome is where each stands now."""
    group_by = parse_group_by(filters.group_by)
    end = filters.end or domain.local_date(now)
    start = filters.start or end - timedelta(days=365)
    if start > end or (end - start).days > MAX_STATS_DAYS:
        raise _query_error("from", f"must be on or before `to`, at most {MAX_STATS_DAYS} days earlier")
    dimensions = {
        "country": VisitRequest.country,
        "focus_area": VisitRequest.primary_focus_area,
        "outcome": _outcome(),
        "division": VisitRequest.division,
        "month": _month(session),
    }
    chosen = [dimensions[name].label(name) for name in group_by]
    # Half-open: a request created at midnight belongs to the day it starts, not to both.
    window = and_(
        VisitRequest.created_at >= _local_midnight(start),
        VisitRequest.created_at < _local_midnight(end + timedelta(days=1)),
    )
    scope = _scope(principal, filters.division, filters.country, None)
    if filters.focus_area:  # the primary one, as in the groups
        scope.append(VisitRequest.primary_focus_area == filters.focus_area)
    query = select(*chosen, func.count().label("count")).where(window, *scope).group_by(*chosen).order_by(*chosen)
    rows = [dict(row._mapping) for row in await session.execute(query)]
    return Stats(group_by=group_by, start=start, end=end, total=sum(r["count"] for r in rows), rows=rows)


def parse_group_by(text: str) -> list[str]:
    """The asked dimensions in order, each once; 422 on an unknown one."""
    names = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [n for n in names if n not in GROUPS]
    if unknown or not names:
        raise _query_error("group_by", f"choose from {', '.join(GROUPS)}; unknown: {', '.join(unknown) or 'none'}")
    return names


def _outcome():
    return case(*((VisitRequest.status == s, o) for s, o in OUTCOMES.items()), else_="waiting")


def _month(session: AsyncSession):
    """The creation month in Helsinki time (SQLite, for development only, counts UTC months)."""
    if session.bind.dialect.name == "postgresql":
        return func.to_char(func.timezone(domain.HELSINKI.key, VisitRequest.created_at), "YYYY-MM")
    return func.strftime("%Y-%m", VisitRequest.created_at)


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), domain.HELSINKI).astimezone(UTC)


def _query_error(field: str, message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT, [{"loc": ["query", field], "msg": message, "type": "value_error"}]
    )


def stats_csv(stats: Stats) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*stats.group_by, "count"])
    writer.writerows([row[name] for name in (*stats.group_by, "count")] for row in stats.rows)
    return out.getvalue()


# ---------------------------------------------------------------- routes


def now() -> datetime:
    return datetime.now(UTC)


@router.get("/api/v1/queue", responses=error_responses(401, 403))
async def get_queue(
    request: Request, principal: Reader, session: SessionDep, filters: Annotated[QueueFilters, Query()]
) -> QueueSnapshot:
    """The open queue now: counts, overdue, waiting, upcoming (30 days) and waitlisted requests."""
    position = request.app.state.queue_stream.position_id()
    return await queue_snapshot(session=session, principal=principal, filters=filters, position=position, now=now())


@router.get(
    "/api/v1/queue/stream",
    response_class=StreamingResponse,
    responses=error_responses(401, 403)
    | {
        200: {
            "description": "`ready`, then `change` / `remove` events, or `reset`: reload the snapshot",
            "content": {"text/event-stream": {"schema": SSE_EVENT}},
        }
    },
)
async def stream_queue(
    request: Request, principal: Reader, last_event_id: Annotated[str | None, Header(max_length=200)] = None
) -> StreamingResponse:
    """Server-Sent Events: each change to a request as visits.v1 carries it; resumes from `Last-Event-ID`."""
    queue_stream: stream.QueueStream = request.app.state.queue_stream
    division = principal.division if principal.role == "division_officer" else None
    subscriber = queue_stream.subscribe(last_event_id=last_event_id, division=division)
    messages = stream.messages(queue_stream, subscriber)
    key = getattr(request.state, "staff_session_key", None)
    if key is not None:  # opened with the page's session: it ends when the session does (sign-out, expiry)
        messages = staff.while_signed_in(request.app, key, messages, every_seconds=queue_stream.keepalive_seconds)
    return StreamingResponse(
        messages,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/api/v1/stats", response_model_by_alias=True, responses=error_responses(401, 403))
async def get_stats(principal: Reader, session: SessionDep, filters: Annotated[StatsFilters, Query()]) -> Stats:
    """Requests per country, primary focus area, outcome, division and/or month of creation."""
    return await request_stats(session=session, principal=principal, filters=filters, now=now())


@router.get(
    "/api/v1/stats.csv",
    response_class=Response,
    responses=error_responses(401, 403)
    | {
        200: {
            "description": "a header row of the groups and `count`, then one row per group",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
async def get_stats_csv(principal: Reader, session: SessionDep, filters: Annotated[StatsFilters, Query()]):
    """The same rows as /api/v1/stats, as CSV."""
    stats = await request_stats(session=session, principal=principal, filters=filters, now=now())
    name = f"visit-requests-{stats.start}-{stats.end}.csv"
    return Response(
        stats_csv(stats),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/queue", include_in_schema=False)
async def dashboard(
    request: Request, settings: SettingsDep, person: Annotated[SignedIn, staff.signed_in(*READERS)]
) -> HTMLResponse:
    """The dashboard shell: it holds no data; its script asks the API with the page's session."""
    labels = {
        "status": texts.STATUSES["en"],
        "division": texts.DIVISIONS["en"],
        "focus_area": texts.FOCUS_AREAS["en"],
        "country": dict(texts.countries("en")),
    }
    who, division = person.principal, person.principal.division
    role = ROLE_NAMES["en"][who.role] + (f", {texts.DIVISIONS['en'].get(division, division)}" if division else "")
    context = {"labels": labels, "person": person, "who": f"{who.name or who.sub} ({role})"}
    response = request.app.state.templates.TemplateResponse(request, "queue.html", context)
    return staff.page_headers(response, settings)


def start(app: FastAPI, runtime: Runtime, settings: Settings) -> None:
    """Begin tailing visits.v1 for this process's stream subscribers (called from the lifespan)."""
    app.state.queue_stream = stream.QueueStream(settings, runtime.sessions)
    runtime.run_task(app.state.queue_stream.run(runtime.kafka_started, runtime.producer))
