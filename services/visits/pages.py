"""The public pages: the application form (fi/sv/en), its confirmation and the delegation's tracking page."""

import math
import re
import uuid
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import URL, FormData

from services.visits import access, decisions, domain, security, submission, texts
from services.visits.api import submissions_left
from services.visits.config import Settings, SettingsDep
from services.visits.schemas import ProposalAnswer, VisitRequestCreate
from shared import formats
from shared.auth import public
from shared.db import SessionDep

HERE = Path(__file__).resolve().parent
CSRF_COOKIE, RECEIPT_COOKIE = "visitdesk_csrf", "visitdesk_receipt"
router = APIRouter(include_in_schema=False)


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.trim_blocks = templates.env.lstrip_blocks = True
    templates.env.filters["day"] = lambda moment: domain.local_date(moment).isoformat()  # Helsinki's, not UTC's
    templates.env.globals.update(
        languages=texts.LANGUAGES,
        language_names=texts.LANGUAGE_NAMES,
        focus_area_names=texts.FOCUS_AREAS,
        rank_names=texts.RANKS,
        division_names=texts.DIVISIONS,
        status_names=texts.STATUSES,
        action_names=texts.ACTIONS,
        countries=texts.countries,
        money=formats.money,
        percent=formats.percent,
        number=formats.number,
        hds_css=(HERE / "static" / "hds" / "hds-core.min.css").is_file(),
    )
    return templates


def render(
    request: Request, template: str, lang: str, *, status: int = 200, links_to: str | None = None, **context: Any
) -> HTMLResponse:
    """A page in `lang`, with language links that keep the rest of the query.

    `links_to` is the page the language links show when this one answered a form post (which has no GET).
    """
    base = URL(links_to) if links_to else request.url
    links = {code: f"{base.path}?{base.include_query_params(lang=code).query}" for code in texts.LANGUAGES}
    response = request.app.state.templates.TemplateResponse(
        request,
        template,
        {"lang": lang, "t": texts.TEXTS[lang], "language_links": links, **context},
        status_code=status,
    )
    return security.protect_page(response)


def _secure(settings: Settings) -> bool:
    return settings.public_base_url.startswith("https://")


@router.get("/apply", dependencies=[public()])
async def apply_form(request: Request, settings: SettingsDep, lang: str | None = None) -> HTMLResponse:
    """The application form."""
    lang = texts.language(lang)
    secret, cookie = settings.csrf_secret, request.cookies.get(CSRF_COOKIE)
    token = cookie if security.csrf_valid(secret, cookie, cookie) else security.new_csrf_token(secret)
    # A fresh nonce per page: sent twice (double click, refresh, retry), the form stores one request.
    response = render(
        request,
        "apply.html",
        lang,
        values={"language": lang, "submission_id": str(uuid.uuid4())},
        others=[],
        errors={},
        csrf=token,
    )
    response.set_cookie(CSRF_COOKIE, token, path="/apply", httponly=True, samesite="strict", secure=_secure(settings))
    return response


@router.post("/apply", dependencies=[public()])
async def submit_form(request: Request, settings: SettingsDep):
    """Check the form; on success store the request and go to the confirmation (303)."""
    form = await request.form()
    lang = texts.language(form_text(form, "lang"))
    t = texts.TEXTS[lang]
    retry_after = submissions_left(request)
    if retry_after is not None:
        page = render(
            request,
            "message.html",
            lang,
            status=429,
            title=t["limit_title"],
            message=_minutes(t, math.ceil(retry_after / 60)),
        )
        page.headers["Retry-After"] = str(math.ceil(retry_after))
        return page
    if not security.csrf_valid(settings.csrf_secret, request.cookies.get(CSRF_COOKIE), form_text(form, "csrf_token")):
        return render(request, "message.html", lang, status=403, title=t["csrf_title"], message=t["csrf"])
    if form_text(form, "website"):  # only bots fill the hidden field: let them believe it worked
        return RedirectResponse(f"/apply/confirmation/received?lang={lang}", status_code=303)
    try:
        data = VisitRequestCreate.model_validate(form_payload(form))
    except ValidationError as exc:
        return render(
            request,
            "apply.html",
            lang,
            status=422,
            values={"submission_id": str(uuid.uuid4())} | dict(form),
            errors=form_errors(exc, lang, periods=filled_periods(form)),
            others=form.getlist("other_focus_areas"),
            csrf=form_text(form, "csrf_token"),
        )
    nonce = form_text(form, "submission_id")  # absent on a page served before nonces: no idempotency then
    try:
        key = f"form:{nonce}" if security.valid_idempotency_key(nonce) else None
        submitted = await request.app.state.intake.submit(data, now=datetime.now(UTC), idempotency_key=key)
    except submission.KeyReused:
        return render(request, "message.html", lang, status=422, title=t["resent_title"], message=t["resent"])
    response = RedirectResponse(f"/apply/confirmation/{submitted.reference}?lang={lang}", status_code=303)
    response.set_cookie(
        RECEIPT_COOKIE,
        security.new_receipt(settings.csrf_secret, submitted.reference, submitted.token),
        path="/apply/confirmation",
        max_age=900,
        httponly=True,
        samesite="lax",
        secure=_secure(settings),
    )
    return response


@router.get("/apply/confirmation/{reference}", dependencies=[public()])
async def confirmation(
    request: Request, reference: str, settings: SettingsDep, lang: str | None = None
) -> HTMLResponse:
    """The reference and the private tracking link, shown once to the browser that sent the form."""
    token = security.read_receipt(settings.csrf_secret, request.cookies.get(RECEIPT_COOKIE), reference)
    return render(
        request,
        "confirmation.html",
        texts.language(lang),
        reference=reference if token else None,
        tracking_url=submission.tracking_url(settings, reference, token) if token else None,
    )


@router.get("/track/{reference}", dependencies=[public()])
async def track(
    request: Request, reference: str, session: SessionDep, token: str | None = None, lang: str | None = None
) -> HTMLResponse:
    """The delegation's own page: where its request stands, what has happened, and what it can do now."""
    return await _tracking_page(request, session, reference, token, lang)


async def _tracking_page(
    request: Request,
    session: AsyncSession,
    reference: str,
    token: str | None,
    lang: str | None,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
) -> HTMLResponse:
    """The page itself, or again after a form post on it that needs correcting (`typed`: what was sent)."""
    try:
        visit = await access.visible_request(
            session=session, reference=reference, principal=None, token=token, attempted="track", now=datetime.now(UTC)
        )
    except access.NotFound:
        return _not_found(request, texts.language(lang), links_to=_page_of(reference, token))
    history = access.as_the_delegation_sees_it(await access.history_of(session=session, request=visit))
    return render(
        request,
        "track.html",
        texts.language(lang or visit.language),
        status=status,
        visit=visit,
        history=history,
        token=token,
        errors=errors or {},
        typed=typed or {},
        links_to=_page_of(reference, token),
        can_cancel=visit.status in domain.TRANSITIONS["cancel"],
        can_answer=visit.status in domain.TRANSITIONS["accept_proposed"],
        fee=domain.Quote.from_json(visit.quote) if visit.quote else None,
    )


def _page_of(reference: str, token: str | None) -> str:
    return f"/track/{reference}?{urlencode({'token': token or ''})}"


@router.post("/track/{reference}/respond", dependencies=[public()])
async def answer_on_page(request: Request, reference: str, session: SessionDep, settings: SettingsDep):
    """The delegation's answer to proposed dates, from its page: one proposed period, or none of them (cancel)."""
    form = await request.form()
    token, lang, choice, message = (form_text(form, name) for name in ("token", "lang", "answer", "message"))
    t = texts.TEXTS[texts.language(lang)]
    try:
        answer = ProposalAnswer.model_validate(
            {"decline_proposed": True, "message": message}
            if choice == "decline"
            else {"accept_proposed": _from_today(choice), "message": message}
        )
    except ValueError as exc:  # nothing chosen, not a period, or too long (ValidationError is a ValueError)
        too_long = isinstance(exc, ValidationError) and any("message" in e["loc"] for e in exc.errors())
        return await _tracking_page(
            request,
            session,
            reference,
            token,
            lang,
            status=422,
            errors={"message": t["message_too_long"]} if too_long else {"answer": t["answer_missing"]},
            typed={"answer": choice, "message": message},
        )
    return await _act(
        request,
        reference,
        token,
        lang,
        decisions.answer_proposal(
            session=session,
            settings=settings,
            reference=reference,
            token=token,
            answer=answer,
            now=datetime.now(UTC),
        ),
    )


@router.post("/track/{reference}/cancel", dependencies=[public()])
async def cancel_on_page(request: Request, reference: str, session: SessionDep, settings: SettingsDep):
    """The delegation calls its visit off from its page, once it has ticked the confirmation."""
    form = await request.form()
    token, lang = form_text(form, "token"), form_text(form, "lang")
    if form_text(form, "confirm") != "yes":
        return await _tracking_page(
            request,
            session,
            reference,
            token,
            lang,
            status=422,
            errors={"confirm": texts.TEXTS[texts.language(lang)]["cancel_missing"]},
        )
    return await _act(
        request,
        reference,
        token,
        lang,
        decisions.cancel_request(
            session=session,
            settings=settings,
            reference=reference,
            principal=None,
            token=token,
            now=datetime.now(UTC),
        ),
    )


async def _act(request: Request, reference: str, token: str | None, lang: str | None, change: Awaitable[Any]):
    """Run a delegation's change; back to its page (303) when done, or say plainly why not."""
    lang = texts.language(lang)
    page = f"{_page_of(reference, token)}&lang={lang}"
    t = texts.TEXTS[lang]
    try:
        await change
    except access.NotFound:
        return _not_found(request, lang, links_to=_page_of(reference, token))
    except (domain.InvalidTransition, domain.InvalidDecision):  # the page is out of date: another tab, a 2nd click
        return render(
            request,
            "message.html",
            lang,
            status=409,
            title=t["changed_title"],
            message=t["changed"],
            back=(page, t["back_to_request"]),
            links_to=_page_of(reference, token),
        )
    return RedirectResponse(page, status_code=303)


def _not_found(request: Request, lang: str, *, links_to: str | None = None) -> HTMLResponse:
    t = texts.TEXTS[lang]
    return render(
        request, "message.html", lang, status=404, title=t["not_found_title"], message=t["not_found"], links_to=links_to
    )


def _from_today(choice: str) -> dict[str, str]:
    """A proposed period picked as "start/end"; one that has begun is taken from today (its start is past)."""
    start, end = choice.split("/")
    today = domain.local_date(datetime.now(UTC)).isoformat()
    return {"start": max(start, today), "end": end}


def _minutes(t: dict[str, str], minutes: int) -> str:
    return t["limit_one"] if minutes == 1 else t["limit"].format(minutes=minutes)


def form_text(form: FormData, name: str) -> str:
    """A text field as typed, without surrounding space and with the browser's CRLF line breaks as LF (a textarea's
    length limit counts a line break as one character); "" when absent or not text (a file)."""
    value = form.get(name)
    return value.replace("\r\n", "\n").strip() if isinstance(value, str) else ""


def form_payload(form: FormData) -> dict[str, Any]:
    """The form's flat fields shaped as `VisitRequestCreate`; empty optional fields become absent."""

    def text(name: str) -> str | None:
        return form_text(form, name) or None

    primary = text("primary_focus_area")
    others = [a for a in form.getlist("other_focus_areas") if a and a != primary]
    preferred = []
    for n in filled_periods(form):
        start, end = text(f"preferred_{n}_start"), text(f"preferred_{n}_end")
        preferred.append({"start": start or "", "end": end or start})
    return {
        "organisation": text("organisation") or "",
        "country": text("country") or "",
        "contact": {
            "name": text("contact_name") or "",
            "email": text("contact_email") or "",
            "phone": text("contact_phone"),
        },
        "language": text("language") or "",
        "focus_areas": [primary, *others] if primary else [],
        "delegation_size": text("delegation_size") or "",
        "highest_rank": text("highest_rank") or "",
        "preferred_dates": preferred,
        "purpose": text("purpose") or "",
        "members": [_member(line) for line in form_text(form, "members").splitlines() if line.strip()],
        "needs": {
            "interpreter_language": text("needs_interpreter_language"),
            "press": form.get("needs_press") == "yes",
            "accessibility": text("needs_accessibility"),
        },
    }


def filled_periods(form: FormData) -> list[int]:
    """The form's numbers (1-3) of the date periods with anything typed in: the ranges sent, in their order."""
    return [n for n in (1, 2, 3) if form_text(form, f"preferred_{n}_start") or form_text(form, f"preferred_{n}_end")]


def _member(line: str) -> dict[str, str | None]:
    name, title, role, *_ = [part.strip() or None for part in line.split(";")] + [None, None, None]
    return {"name": name or "", "title": title, "role": role}


FORM_ORDER = (
    "organisation",
    "country",
    "contact_name",
    "contact_email",
    "contact_phone",
    "language",
    "primary_focus_area",
    "other_focus_areas",
    "delegation_size",
    "highest_rank",
    "members",
    "preferred_1_start",
    "preferred_1_end",
    "preferred_2_start",
    "preferred_2_end",
    "preferred_3_start",
    "preferred_3_end",
    "purpose",
    "needs_interpreter_language",
    "needs_accessibility",
)


def form_errors(exc: ValidationError, lang: str, *, periods: Sequence[int] = (1, 2, 3)) -> dict[str, str]:
    """One message per form field, in the page's language, in the order of the form.

    `periods` are the form's numbers of the date ranges sent (`filled_periods`): with the second period left
    empty, the second range is the third period, and its error belongs there.
    """
    messages = texts.ERRORS[lang]
    errors: dict[str, str] = {}
    for error in exc.errors():
        field, n = form_field(tuple(error["loc"]), error["type"], periods)
        errors.setdefault(field, messages[re.sub(r"_\d_", "_", field)].format(n=n))
    return dict(sorted(errors.items(), key=lambda kv: FORM_ORDER.index(kv[0])))


def form_field(loc: tuple, error_type: str, periods: Sequence[int] = (1, 2, 3)) -> tuple[str, int]:
    """The form field (and period number) a validation error belongs to; range i was sent from `periods[i]`."""
    head = loc[0] if loc else ""
    if head in ("contact", "needs") and len(loc) > 1:
        return f"{head}_{loc[1]}", 0
    if head == "preferred_dates":
        index = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else 0
        n = periods[index] if index < len(periods) else index + 1
        part = loc[2] if len(loc) > 2 and loc[2] in ("start", "end") else "start"
        return f"preferred_{n}_{part}", n
    if head == "focus_areas":
        beyond_primary = len(loc) > 1 and isinstance(loc[1], int) and loc[1] > 0
        return ("other_focus_areas" if beyond_primary or error_type == "too_long" else "primary_focus_area"), 0
    return str(head), 0
