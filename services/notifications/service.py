"""Use cases: plan deliveries from events, erase personal data, configure division recipients, read the log."""

import uuid
from datetime import UTC, datetime
from functools import cache

import structlog
from jinja2 import TemplateError
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications import calendars, domain, messages
from services.notifications.config import Settings
from services.notifications.dispatcher import Handover
from services.notifications.events import NOTIFYING, RecipientKind, VisitEvent, VisitPersonalDataErased
from services.notifications.models import Delivery, DivisionRecipient, TrackingLink
from services.notifications.schemas import DivisionRecipientUpdate
from shared.auth import Principal
from shared.consumer import PermanentError
from shared.db import column_values, insert_of
from shared.events import Envelope, Event
from shared.tracing import traceparent_now

log = structlog.get_logger()
ERASED_BEFORE_SENDING = "personal data erased before sending"
# Statements planning runs for every event, built once: building one costs more CPU than running it.
_recipients, _links = DivisionRecipient.__table__, TrackingLink.__table__
DIVISION_ADDRESSES = select(_recipients.c.email, _recipients.c.webhook_url).where(
    _recipients.c.division == bindparam("division")
)
TRACKING_LINK = select(_links.c.tracking_url).where(_links.c.request_id == bindparam("request_id"))
_LINKS_WRITTEN = "visitdesk.tracking_links_written"  # session.info: (transaction, {request id: link written})


class InvalidRecipient(ValueError):
    """An admin's recipient configuration that cannot work; `field` names the culprit."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


async def plan_deliveries(
    *,
    session: AsyncSession,
    envelope: Envelope,
    settings: Settings,
    renderer: messages.Renderer,
    handover: Handover | None = None,
) -> list[Delivery]:
    """Render one pending delivery per recipient and channel the rules give; the dispatcher sends them.

    With `handover`, this process's dispatch loops get them when the transaction commits; without, they are
    claimed at the next poll.
    """
    model = NOTIFYING[envelope.type]
    event = envelope.parse(model)
    kinds = domain.recipients(event)
    context = {}
    if isinstance(event, VisitEvent) and (event.tracking_url or "delegation" in kinds):  # only theirs show it
        context["tracking_url"] = await _tracking_url(session, event)
    planned, inboxes = [], set()
    for kind in kinds:
        language = event.language if kind == "delegation" else settings.staff_language
        for channel, address in await _addresses(session, settings, kind, event):
            if address and (channel, address.lower()) in inboxes:
                continue  # one inbox hears one event once, e.g. International Affairs as owner and as triage
            inboxes.add((channel, (address or "").lower()))
            rendered = _render(renderer, event, kind, language, context)
            delivery = _delivery(
                envelope, event, settings.topic(model.topic), kind, channel, address, language, rendered
            )
            if channel == "email" and domain.with_calendar(event, kind):
                words = renderer.calendar_words(language)
                delivery.calendar = calendars.for_the_delegation(event, words, changed_at=envelope.time)
            planned.append(delivery)
    await _insert_new(session, planned, handover)
    return planned


async def _addresses(
    session: AsyncSession, settings: Settings, kind: RecipientKind, event: Event
) -> list[tuple[str, str | None]]:
    """(channel, address) pairs; an address of None fails visibly in the delivery log."""
    if kind == "delegation":
        return [("email", event.contact_email)] if event.contact_email else []
    if kind == "division":
        row = (await session.execute(DIVISION_ADDRESSES, {"division": event.division})).first()
        if row is None:
            return [("email", None)]
        return [("email", row.email)] + ([("webhook", row.webhook_url)] if row.webhook_url else [])
    configured = {
        "communications": settings.communications_email,
        "international_affairs": settings.international_affairs_email,
        "protocol_office": settings.protocol_office_email,
    }
    return [("email", configured[kind])]


async def _tracking_url(session: AsyncSession, event: VisitEvent) -> str | None:
    """The link the event carries (only the submission's do), remembered for the request's later e-mails."""
    if event.tracking_url:
        remembered = _links_remembered(session)
        if remembered.get(event.request_id) != event.tracking_url:  # the submission's two events carry one link
            await session.execute(
                _remember_link(session.bind.dialect.name),
                {"request_id": event.request_id, "tracking_url": event.tracking_url, "updated_at": datetime.now(UTC)},
            )
            remembered[event.request_id] = event.tracking_url
        return event.tracking_url
    return await session.scalar(TRACKING_LINK, {"request_id": event.request_id})


def _links_remembered(session: AsyncSession) -> dict[str, str]:
    """Links written in the session's current transaction (a rolled-back one's are forgotten with it)."""
    transaction = session.sync_session.get_transaction()
    held = session.info.get(_LINKS_WRITTEN)
    if held is None or held[0] is not transaction:
        held = session.info[_LINKS_WRITTEN] = (transaction, {})
    return held[1]


def _render(
    renderer: messages.Renderer, event: Event, kind: RecipientKind, language: str, extra: dict
) -> messages.Rendered:
    context = event.model_dump() | extra | {"lang": language, "recipient": kind, "event_type": event.type}
    try:
        return renderer.render(domain.template_name(language, kind, event.type), context)
    except TemplateError as exc:  # a deploy defect: retrying cannot fix it, the DLQ keeps the event
        raise PermanentError(f"template {domain.template_name(language, kind, event.type)}: {exc}") from exc


def _delivery(
    envelope: Envelope,
    event: Event,
    source_topic: str,
    kind: RecipientKind,
    channel: str,
    address: str | None,
    language: str,
    rendered: messages.Rendered,
) -> Delivery:
    now, delivery_id = datetime.now(UTC), str(uuid.uuid4())
    reference = getattr(event, "reference", None)
    body, html = rendered.text, rendered.html
    if channel == "webhook":
        body = messages.webhook_body(
            delivery_id=delivery_id, envelope=envelope, reference=reference, division=event.division, rendered=rendered
        )
        html = None
    return Delivery(
        id=delivery_id,
        event_id=envelope.id,
        event_type=envelope.type,
        source_topic=source_topic,
        event_key=envelope.subject,
        event=envelope.model_dump_json(),
        request_id=getattr(event, "request_id", None),
        reference=reference,
        division=event.division,
        recipient_kind=kind,
        channel=channel,
        address=address,
        language=language,
        subject=rendered.subject,
        body=body,
        body_html=html,
        status="pending",
        attempts=0,
        created_at=now,
        next_attempt_at=now,
        traceparent=traceparent_now(),
    )


async def _insert_new(session: AsyncSession, deliveries: list[Delivery], handover: Handover | None) -> None:
    """Insert, skipping (event, recipient, channel) triples that already exist: a redelivery adds nothing."""
    if not deliveries:
        return
    leased_at = handover.lease(deliveries) if handover else None
    rows = [column_values(d) for d in deliveries]
    # Rows as parameters, not .values(rows): a multi-row VALUES clause is compiled anew on every call.
    inserted = set(await session.scalars(_insert_deliveries(session.bind.dialect.name), rows))
    if handover:  # sent as soon as this commits, not at the next poll
        handover.hand_over_on_commit(session, [d for d in deliveries if d.id in inserted], leased_at)


# Built once per dialect and kept: building them for every event cost more than running them.
@cache
def _insert_deliveries(dialect: str):
    return (
        insert_of(dialect)(Delivery.__table__)
        .on_conflict_do_nothing(index_elements=["event_id", "recipient_kind", "channel"])
        .returning(Delivery.id)
    )


@cache
def _remember_link(dialect: str):
    insert = insert_of(dialect)(TrackingLink.__table__)
    return insert.on_conflict_do_update(
        index_elements=["request_id"],
        set_={"tracking_url": insert.excluded.tracking_url, "updated_at": insert.excluded.updated_at},
    )


async def erase_personal_data(*, session: AsyncSession, envelope: Envelope) -> None:
    """Forget the request's contact details and rendered texts; keep who-got-what-when for statistics."""
    event = envelope.parse(VisitPersonalDataErased)
    of_request = Delivery.request_id == event.request_id
    await session.execute(
        update(Delivery)
        .where(of_request, Delivery.status == "pending")
        .values(status="cancelled", last_error=ERASED_BEFORE_SENDING)
    )
    await session.execute(
        update(Delivery).where(of_request).values(subject=None, body=None, body_html=None, event=None, calendar=None)
    )
    await session.execute(
        update(Delivery).where(of_request, Delivery.recipient_kind == "delegation").values(address=None)
    )
    await session.execute(delete(TrackingLink).where(TrackingLink.request_id == event.request_id))


async def list_deliveries(
    *, session: AsyncSession, principal: Principal, reference: str | None, status: str | None, limit: int
) -> list[Delivery]:
    """Newest first; a division officer sees only deliveries about their division's requests."""
    query = select(Delivery).order_by(Delivery.created_at.desc(), Delivery.id).limit(limit)
    if reference:
        query = query.where(Delivery.reference == reference)
    if status:
        query = query.where(Delivery.status == status)
    if principal.role == "division_officer":
        query = query.where(Delivery.division == principal.division)
    return list(await session.scalars(query))


async def list_division_recipients(*, session: AsyncSession) -> list[DivisionRecipient]:
    """Every configured division, by code."""
    return list(await session.scalars(select(DivisionRecipient).order_by(DivisionRecipient.division)))


async def get_division_recipient(*, session: AsyncSession, division: str) -> DivisionRecipient | None:
    """One division's recipients, or None if it has none configured."""
    return await session.get(DivisionRecipient, division)


async def set_division_recipient(
    *, session: AsyncSession, division: str, update_: DivisionRecipientUpdate, actor: str, settings: Settings
) -> DivisionRecipient:
    """Create or replace a division's address and webhook; an omitted secret keeps the stored one."""
    row = await session.get(DivisionRecipient, division) or DivisionRecipient(division=division)
    secret = update_.webhook_secret.get_secret_value() if update_.webhook_secret else row.webhook_secret
    url = str(update_.webhook_url) if update_.webhook_url else None
    if url and not secret:
        raise InvalidRecipient("webhook_secret", "webhook_secret is required with a webhook_url")
    if url and settings.environment == "production" and not url.startswith("https://"):
        raise InvalidRecipient("webhook_url", "webhook_url must use https in production")
    row.email, row.webhook_url, row.webhook_secret = str(update_.email), url, secret if url else None
    row.updated_at, row.updated_by = datetime.now(UTC), actor
    session.add(row)
    resent = await _resend_to_new_address(session, division, row.email, row.updated_at)
    await session.commit()
    log.info("notifications.recipient_set", division=division, resent=resent)  # no sub: it may be an e-mail
    return row


async def _resend_to_new_address(session: AsyncSession, division: str, email: str, now: datetime) -> int:
    """E-mails that failed because the division had no address go to the one now set (the dispatcher's next poll).

    The delivery log shows them failed until then; those whose request was erased meanwhile have no body to send.
    """
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.division == division,
            Delivery.recipient_kind == "division",
            Delivery.channel == "email",
            Delivery.address.is_(None),
            Delivery.status == "failed",
            Delivery.body.is_not(None),
        )
        .values(address=email, status="pending", attempts=0, next_attempt_at=now, failed_at=None, last_error=None)
    )
    return result.rowcount
