"""Use cases of the protocol service: plans from visit events, checklist work, conflicts, the gift register."""

import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.protocol import domain, models
from services.protocol.config import Settings
from services.protocol.events import PlanCreated, PlanItem, PlanReady, PlanUpdated, VisitAccepted
from services.protocol.models import Gift, Item, Plan
from services.protocol.schemas import GiftCreate
from shared.auth import Principal
from shared.consumer import PermanentError
from shared.events import Event
from shared.outbox import add_event

DAY_LOCK = 0x70726F74  # "prot": namespace of the per-day advisory locks


class ProtocolError(Exception):
    """A use case refused; the API maps each kind to a status code."""


class NotFound(ProtocolError):
    pass


class StateRejected(ProtocolError):
    pass


class PlanCancelled(ProtocolError):
    pass


async def accept_visit(*, session: AsyncSession, settings: Settings, visit: VisitAccepted) -> Plan:
    """Create the plan of an accepted visit, or re-date the one it already has (a rescheduled visit, a redelivered
    acceptance); runs in the caller's transaction."""
    if visit.visit_date is None:
        raise PermanentError(f"{visit.type} without a visit_date for {visit.reference}")
    plan = await _plan_of_request(session, visit.request_id)
    if plan is None:
        return await _create_plan(session, settings, visit)
    plan.start_time, plan.end_time, plan.venue = visit.start_time, visit.end_time, visit.venue
    if plan.status != "cancelled" and plan.visit_date == visit.visit_date:
        return plan
    await _redate_plan(session, settings, plan, visit.visit_date)
    return plan


async def _create_plan(session: AsyncSession, settings: Settings, visit: VisitAccepted) -> Plan:
    level = domain.level_for(visit.highest_rank)
    specs = domain.checklist(level, interpreter_language=visit.needs.interpreter_language, press=visit.needs.press)
    plan = Plan(
        request_id=visit.request_id,
        reference=visit.reference,
        division=visit.division,
        level=level,
        host=domain.host_for(level, visit.division),
        visit_date=visit.visit_date,
        start_time=visit.start_time,
        end_time=visit.end_time,
        venue=visit.venue,
        status="draft",
        conflict=False,
        conflicts=[],
        items=[Item(key=s.key, owner=s.owner, required=s.required, state="open") for s in specs],
    )
    session.add(plan)
    await session.flush()
    await _recompute_conflicts(session, settings, {plan.visit_date}, trigger=plan)
    await _publish(session, settings, _plan_event(PlanCreated, plan), plan)
    return plan


async def _redate_plan(session: AsyncSession, settings: Settings, plan: Plan, visit_date: dt.date) -> None:
    days = {plan.visit_date, visit_date}
    plan.visit_date = visit_date
    if plan.status == "cancelled":  # accepted again after a cancel: the visit is back on, items as they were
        plan.status = "ready" if _ready(plan) else "draft"
    await session.flush()
    await _recompute_conflicts(session, settings, days, trigger=plan)
    await _publish(session, settings, _plan_event(PlanUpdated, plan), plan)


async def cancel_plan(*, session: AsyncSession, settings: Settings, request_id: str) -> None:
    """The visit is off: cancel its plan (if any) and clear the conflicts it caused."""
    plan = await _plan_of_request(session, request_id)
    if plan is None or plan.status == "cancelled":
        return
    plan.status, plan.conflict, plan.conflicts = "cancelled", False, []
    await session.flush()
    await _recompute_conflicts(session, settings, {plan.visit_date}, trigger=plan)
    await _publish(session, settings, _plan_event(PlanUpdated, plan), plan)


async def erase_personal_data(*, session: AsyncSession, request_id: str) -> None:
    """Erase names in the request's gift lines and item notes; bands, dates and states stay for statistics."""
    plan = await _plan_of_request(session, request_id)
    if plan is None:
        return
    await session.execute(
        update(Gift).where(Gift.plan_id == plan.id).values(giver=domain.ERASED, recipient=domain.ERASED)
    )
    for item in plan.items:
        item.note = None


async def get_plan(*, session: AsyncSession, reference: str, principal: Principal) -> Plan:
    """The plan, if the caller may see it; another division's plan does not exist for an officer."""
    plan = await session.scalar(select(Plan).where(Plan.reference == reference))
    if plan is None or not _visible(plan, principal):
        raise NotFound(f"no plan {reference}")
    return plan


async def list_plans(
    *,
    session: AsyncSession,
    principal: Principal,
    date_from: dt.date | None,
    date_to: dt.date | None,
    level: int | None,
    status: str | None,
) -> list[Plan]:
    """The protocol calendar: plans by visit date; cancelled ones only when asked for."""
    query = select(Plan).order_by(Plan.visit_date, Plan.reference)
    query = query.where(Plan.status == status) if status else query.where(Plan.status != "cancelled")
    if date_from:
        query = query.where(Plan.visit_date >= date_from)
    if date_to:
        query = query.where(Plan.visit_date <= date_to)
    if level:
        query = query.where(Plan.level == level)
    if principal.role == "division_officer":
        query = query.where(Plan.division == principal.division)
    return list(await session.scalars(query))


async def update_item(
    *,
    session: AsyncSession,
    settings: Settings,
    reference: str,
    key: str,
    state: str,
    note: str | None,
    set_note: bool,
    actor: str,
) -> Plan:
    """Move one checklist item; plan_ready is published when this makes the plan ready."""
    # The row lock makes concurrent updates of one plan take turns, so readiness is decided once.
    plan = await session.scalar(select(Plan).where(Plan.reference == reference).with_for_update())
    if plan is None:
        raise NotFound(f"no plan {reference}")
    item = plan.item(key)
    if item is None:
        raise NotFound(f"plan {reference} has no {key} item")
    if plan.status == "cancelled":
        raise PlanCancelled(f"plan {reference} is cancelled")
    if not domain.state_allowed(required=item.required, state=state):
        raise StateRejected(f"{key} is required; it cannot be {state}")
    item.state, item.updated_by = state, actor
    if set_note:
        item.note = note
    await _settle_status(session, settings, plan)
    await session.commit()
    return plan


async def _settle_status(session: AsyncSession, settings: Settings, plan: Plan) -> None:
    """draft -> ready publishes plan_ready (each time it happens); ready -> draft publishes plan_updated."""
    was_ready, now_ready = plan.status == "ready", _ready(plan)
    plan.status = "ready" if now_ready else "draft"
    if now_ready and not was_ready:
        await _publish(
            session,
            settings,
            PlanReady(
                request_id=plan.request_id,
                reference=plan.reference,
                division=plan.division,
                level=plan.level,
                visit_date=plan.visit_date,
            ),
            plan,
        )
    elif was_ready and not now_ready:
        await _publish(session, settings, _plan_event(PlanUpdated, plan), plan)


async def record_gift(*, session: AsyncSession, reference: str, gift: GiftCreate, actor: str) -> Gift:
    """Add a line to the gift register; it is dated to the visit unless told otherwise."""
    plan = await session.scalar(select(Plan).where(Plan.reference == reference))
    if plan is None:
        raise NotFound(f"no plan {reference}")
    if plan.status == "cancelled":
        raise PlanCancelled(f"plan {reference} is cancelled")
    row = Gift(
        plan_id=plan.id,
        reference=plan.reference,
        recorded_by=actor,
        **gift.model_dump(exclude={"date"}),
        date=gift.date or plan.visit_date,
    )
    session.add(row)
    await session.commit()
    return row


async def list_gifts(*, session: AsyncSession, date_from: dt.date | None, date_to: dt.date | None) -> list[Gift]:
    """The gift register for a period, oldest first."""
    query = select(Gift).order_by(Gift.date, Gift.id)
    if date_from:
        query = query.where(Gift.date >= date_from)
    if date_to:
        query = query.where(Gift.date <= date_to)
    return list(await session.scalars(query))


async def _recompute_conflicts(session: AsyncSession, settings: Settings, days: set[dt.date], *, trigger: Plan) -> None:
    """Refresh the conflicts of every live plan on `days`; the others that changed announce it."""
    for day in sorted(days):  # one order for every transaction, so two re-dates cannot deadlock
        await _lock_day(session, day)
    for day in sorted(days):
        plans = list(await session.scalars(select(Plan).where(Plan.visit_date == day, Plan.status != "cancelled")))
        found = domain.conflicts([domain.Booking(p.reference, p.visit_date, p.level, p.host) for p in plans])
        for plan in plans:
            if found[plan.reference] != plan.conflicts:
                plan.conflicts, plan.conflict = found[plan.reference], bool(found[plan.reference])
                if plan is not trigger:
                    await _publish(session, settings, _plan_event(PlanUpdated, plan), plan)


async def _lock_day(session: AsyncSession, day: dt.date) -> None:
    # Two replicas booking the same day would each miss the other's new plan without this lock.
    if session.bind.dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(DAY_LOCK, day.toordinal())))


async def _plan_of_request(session: AsyncSession, request_id: str) -> Plan | None:
    return await session.scalar(select(Plan).where(Plan.request_id == request_id))


def _ready(plan: Plan) -> bool:
    return domain.is_ready((item.required, item.state) for item in plan.items)


def _visible(plan: Plan, principal: Principal) -> bool:
    return principal.role != "division_officer" or plan.division == principal.division


def _plan_event(cls: type[PlanCreated], plan: Plan) -> PlanCreated:
    items = [PlanItem(key=i.key, owner=i.owner, required=i.required, state=i.state) for i in plan.items]
    return cls(
        request_id=plan.request_id,
        reference=plan.reference,
        division=plan.division,
        level=plan.level,
        host=plan.host,
        visit_date=plan.visit_date,
        items=items,
        conflicts=plan.conflicts,
        status=plan.status,
    )


async def _publish(session: AsyncSession, settings: Settings, event: Event, plan: Plan) -> None:
    await add_event(
        session, models.outbox, event, source="protocol", key=plan.request_id, topic=settings.topic(event.topic)
    )
