"""Fees: each division's fee schedule (admins set it with the division's other settings) and the invoicing list
finance reads. The quote itself is a rule of the domain (`domain.quote`), taken on acceptance."""

import csv
import io
from dataclasses import astuple, dataclass, fields
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.visits.configuration import Unknown
from services.visits.domain import CENT
from services.visits.journal import record_setting
from services.visits.models import DivisionRow, FeeScheduleRow, VisitRequest
from services.visits.schemas import FeeScheduleIn
from shared.auth import Principal

# The statuses a fee is owed in: a visit that took place or will, and one called off after its free period.
HOSTED, CALLED_OFF = ("accepted", "completed"), "cancelled"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell (an organisation's name)


async def fee_schedule(*, session: AsyncSession, division: str) -> FeeScheduleRow | None:
    """The division's schedule; None when it charges nothing (Unknown when there is no such division)."""
    if await session.get(DivisionRow, division) is None:
        raise Unknown(f"no division {division!r}")
    return await session.get(FeeScheduleRow, division)


async def fee_schedules(*, session: AsyncSession) -> dict[str, FeeScheduleRow]:
    """Every division's schedule, by division code."""
    return {row.division: row for row in await session.scalars(select(FeeScheduleRow))}


async def set_fee_schedule(
    *, session: AsyncSession, principal: Principal, division: str, schedule: FeeScheduleIn, now: datetime
) -> FeeScheduleRow:
    """Set what the division charges for visits accepted from now on (quotes already given stay as they are)."""
    row = await fee_schedule(session=session, division=division)
    before = _audited(row) if row else None
    row = row or FeeScheduleRow(division=division)
    for name, value in schedule.model_dump().items():
        setattr(row, name, value.quantize(CENT) if isinstance(value, Decimal) else value)  # as the database keeps it
    row.updated_at = now
    session.add(row)
    details = {"division": division, "before": before, "after": _audited(row)}
    record_setting(session, principal, action="fee_schedule.set", details=details, now=now)
    await session.commit()
    return row


async def remove_fee_schedule(*, session: AsyncSession, principal: Principal, division: str, now: datetime) -> None:
    """The division charges nothing for visits accepted from now on."""
    row = await fee_schedule(session=session, division=division)
    if row is None:
        return
    record_setting(
        session,
        principal,
        action="fee_schedule.removed",
        details={"division": division, "before": _audited(row)},
        now=now,
    )
    await session.delete(row)
    await session.commit()


def _audited(row: FeeScheduleRow) -> dict:
    return FeeScheduleIn.model_validate(row, from_attributes=True).model_dump(mode="json")


@dataclass(frozen=True)
class InvoiceLine:
    """One visit to invoice: its fee if it was hosted, else its late-cancellation fee (amounts as decimal strings)."""

    reference: str
    organisation: str
    country: str
    visit_date: date
    status: str
    visitors: int
    hours: str
    currency: str
    net: str | None
    vat_percent: str
    vat: str | None
    gross: str | None
    late_cancellation_fee: str | None
    late_cancellation_vat: str | None
    late_cancellation_gross: str | None


async def invoicing(*, session: AsyncSession, start: date, end: date) -> list[InvoiceLine]:
    """Visits on days in [start, end] that owe a fee, by visit day."""
    rows = await session.scalars(
        select(VisitRequest)
        .where(
            VisitRequest.visit_date.between(start, end),
            VisitRequest.status.in_((*HOSTED, CALLED_OFF)),
            VisitRequest.quote.is_not(None),
        )
        .order_by(VisitRequest.visit_date, VisitRequest.reference)
    )
    return [_line(r) for r in rows if r.status in HOSTED or r.late_fee]


def _line(request: VisitRequest) -> InvoiceLine:
    quote, late = request.quote or {}, request.late_fee or {}
    hosted = request.status in HOSTED
    return InvoiceLine(
        reference=request.reference,
        organisation=request.organisation,
        country=request.country,
        visit_date=request.visit_date,
        status=request.status,
        visitors=quote["visitors"],
        hours=quote["hours"],
        currency=quote["currency"],
        net=quote["net"] if hosted else None,
        vat_percent=quote["vat_percent"],
        vat=quote["vat"] if hosted else None,
        gross=quote["gross"] if hosted else None,
        late_cancellation_fee=late.get("net"),
        late_cancellation_vat=late.get("vat"),
        late_cancellation_gross=late.get("gross"),
    )


def invoicing_csv(lines: list[InvoiceLine]) -> str:
    """A header row, then one row per visit; amounts as plain decimals (a dot, no grouping)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([f.name for f in fields(InvoiceLine)])
    writer.writerows([_cell(value) for value in astuple(line)] for line in lines)
    return out.getvalue()


def _cell(value: str | int | date | None) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text
