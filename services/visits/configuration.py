"""What admins configure in visits: the routing rule of each focus area and each division's lead time and
decision deadline. Every change is audited."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.visits import domain
from services.visits.journal import record_setting
from services.visits.models import DivisionRow, RoutingRule
from services.visits.schemas import DivisionUpdate
from shared.auth import Principal


class Unknown(Exception):
    """No such focus area or division to configure."""


async def routing_rules(*, session: AsyncSession) -> list[RoutingRule]:
    """The rules in the order of the focus areas."""
    rules = {r.focus_area: r for r in await session.scalars(select(RoutingRule))}
    return [rules[area] for area in domain.FOCUS_AREAS if area in rules]


async def set_routing_rule(
    *, session: AsyncSession, principal: Principal, focus_area: str, division: str, now: datetime
) -> RoutingRule:
    """Send new requests on `focus_area` to `division`; requests already routed stay where they are."""
    if focus_area not in domain.FOCUS_AREAS:
        raise Unknown(f"no focus area {focus_area!r}")
    if await session.get(DivisionRow, division) is None:
        raise domain.InvalidDecision("division", "unknown division")
    rule = await session.get(RoutingRule, focus_area, with_for_update=True)
    before = rule.division if rule else None
    if before != division:
        rule = rule or RoutingRule(focus_area=focus_area)
        rule.division = division
        session.add(rule)
        record_setting(
            session,
            principal,
            action="routing_rule.changed",
            now=now,
            details={"focus_area": focus_area, "from_division": before, "to_division": division},
        )
        await session.commit()
    return rule


async def divisions(*, session: AsyncSession) -> list[DivisionRow]:
    return list(await session.scalars(select(DivisionRow).order_by(DivisionRow.code)))


async def update_division(
    *, session: AsyncSession, principal: Principal, code: str, change: DivisionUpdate, now: datetime
) -> DivisionRow:
    """Lead time and decision deadline; they apply to requests routed from now on."""
    division = await session.get(DivisionRow, code, with_for_update=True)
    if division is None:
        raise Unknown(f"no division {code!r}")
    before = {"lead_time_weeks": division.lead_time_weeks, "decision_days": division.decision_deadline_days}
    after = change.model_dump()
    if before != after:
        division.lead_time_weeks, division.decision_deadline_days = change.lead_time_weeks, change.decision_days
        record_setting(
            session,
            principal,
            action="division.changed",
            now=now,
            details={"division": code, "before": before, "after": after},
        )
        await session.commit()
    return division
