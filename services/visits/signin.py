"""Staff sign-in and sign-out pages: the provider's Authorization Code flow with PKCE, the pages that say why
not (unavailable, no access, expired), and the development sign-in page when no provider is configured."""

import hmac
from datetime import UTC, datetime
from urllib.parse import urlencode

import jwt
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.visits import configuration, identity, pages, security, staff, texts
from services.visits.config import Settings, SettingsDep
from services.visits.identity import ProviderRefused
from services.visits.staff import CsrfRefused, NotForRole, SignInRequired, SignInUnavailable
from services.visits.staff_texts import ROLE_NAMES, STAFF_TEXTS
from shared.auth import ROLES, NoAccess, Principal, public
from shared.db import SessionDep
from shared.oidc import ProviderUnavailable

PENDING_COOKIE, DEV_CSRF_COOKIE = "visitdesk_signin", "visitdesk_dev_csrf"
PENDING_SECONDS = 600  # time to get through the provider's login page
router = APIRouter(include_in_schema=False)


def _page(
    request: Request,
    lang: str,
    title: str,
    message: str,
    *,
    status: int,
    link: tuple[str, str] | None = None,
    **headers: str,
) -> HTMLResponse:
    response = pages.render(
        request, "staff_message.html", lang, status=status, s=STAFF_TEXTS[lang], title=title, message=message, link=link
    )
    response.headers.update(headers)
    return response


def _sign_in_link(back_to: str, lang: str) -> str:
    return f"/auth/signin?{urlencode({'next': back_to, 'lang': lang})}"


@router.get("/auth/signin", dependencies=[public()])
async def sign_in(
    request: Request, settings: SettingsDep, next: str | None = None, lang: str | None = None
) -> RedirectResponse:
    """Off to the provider's login page (or, with no provider in development, the development sign-in page)."""
    provider = request.app.state.verifier.provider
    back_to, lang = staff.safe_next(next), texts.language(lang)
    if provider is None:
        return RedirectResponse(f"/auth/dev?{urlencode({'next': back_to, 'lang': lang})}", status_code=303)
    try:
        start = await identity.authorization(settings, provider)
    except ProviderUnavailable as exc:
        raise SignInUnavailable() from exc
    pending = {"state": start.state, "verifier": start.code_verifier, "nonce": start.nonce, "next": back_to}
    response = RedirectResponse(start.url, status_code=303)
    response.set_cookie(
        PENDING_COOKIE,
        staff.seal(_pending_key(settings), pending | {"lang": lang}),
        max_age=PENDING_SECONDS,
        path="/auth/callback",
        httponly=True,
        samesite="lax",  # the provider's redirect back is a top-level GET from its site: Lax cookies come along
        secure=staff.secure_cookies(settings),
    )
    return response


def _pending_key(settings: Settings) -> str:
    return f"sign-in:{settings.session_secret}"


@router.get("/auth/callback", dependencies=[public()])
async def callback(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
):
    """The provider sends the person back here: the code becomes tokens, the tokens a session."""
    pending = staff.unseal(_pending_key(settings), request.cookies.get(PENDING_COOKIE) or "") or {}
    lang, back_to = texts.language(pending.get("lang")), staff.safe_next(pending.get("next"))
    s = STAFF_TEXTS[lang]
    if error or not code or not state or not hmac.compare_digest(state, str(pending.get("state", ""))):
        # No sign-in of this browser is waiting for this answer (or the person cancelled): start again, by hand.
        link = (_sign_in_link(back_to, lang), s["sign_in_again"])
        return _page(request, lang, s["failed_title"], s["failed"], status=400, link=link)
    now = datetime.now(UTC)
    try:
        principal, tokens = await identity.exchange(
            settings,
            request.app.state.verifier,
            code=code,
            code_verifier=pending["verifier"],
            nonce=pending["nonce"],
            now=now,
        )
    except ProviderUnavailable as exc:
        raise SignInUnavailable() from exc
    except (ProviderRefused, jwt.InvalidTokenError, jwt.PyJWKClientError):
        link = (_sign_in_link(back_to, lang), s["sign_in_again"])
        return _page(request, lang, s["failed_title"], s["failed"], status=400, link=link)
    except NoAccess:
        out = await identity.sign_out_url(settings, request.app.state.verifier.provider, id_token=None, lang=lang)
        refused = _page(
            request,
            lang,
            s["no_access_title"],
            s["no_access"],
            status=403,
            link=(out, s["sign_out_provider"]) if out else None,
        )
        refused.delete_cookie(PENDING_COOKIE, path="/auth/callback")
        return refused
    key = await staff.start_session(session=db, settings=settings, principal=principal, tokens=tokens, now=now)
    response = RedirectResponse(back_to, status_code=303)
    staff.set_session_cookie(response, settings, key)
    response.delete_cookie(PENDING_COOKIE, path="/auth/callback")
    return response


@router.post("/auth/signout", dependencies=[public()])
async def sign_out(request: Request, db: SessionDep, settings: SettingsDep):
    """End the session here and at the provider (RP-initiated logout), then the signed-out page."""
    form = await request.form()
    lang = texts.language(pages.form_text(form, "lang"))
    key = staff.key_in(settings, request.cookies.get(staff.SESSION_COOKIE))
    now = datetime.now(UTC)
    signed_in = key is not None and await staff.live_session(session=db, settings=settings, key=key, now=now)
    if key and signed_in and not staff.csrf_matches(settings, key, form.get(staff.CSRF_FIELD)):
        raise CsrfRefused(lang)
    held = await staff.end_session(session=db, key=key, now=now) if key and signed_in else {}
    provider = request.app.state.verifier.provider
    elsewhere = provider and await identity.sign_out_url(settings, provider, id_token=held.get("id_token"), lang=lang)
    response = RedirectResponse(elsewhere or f"/auth/signed-out?lang={lang}&here=1", status_code=303)
    staff.clear_session_cookie(response, settings)
    return response


@router.get("/auth/signed-out", dependencies=[public()])
async def signed_out(request: Request, lang: str | None = None, here: str | None = None) -> HTMLResponse:
    """Where sign-out ends, back from the provider."""
    lang = texts.language(lang)
    s = STAFF_TEXTS[lang]
    only_here = here is not None and request.app.state.verifier.provider is not None
    message = s["signed_out_here"] if only_here else s["signed_out"]
    link = (_sign_in_link(staff.START_PAGE, lang), s["sign_in_again"])
    return _page(request, lang, s["signed_out_title"], message, status=200, link=link)


# ---------------------------------------------------------------- development sign-in


def _development_only(request: Request, settings: Settings) -> bool:
    """Only in development and only without a provider: production never signs anyone in without one."""
    return settings.environment == "development" and request.app.state.verifier.provider is None


@router.get("/auth/dev", dependencies=[public()])
async def dev_page(
    request: Request, db: SessionDep, settings: SettingsDep, next: str | None = None, lang: str | None = None
):
    """Each role, and an officer of each division, one click away (development only; 404 elsewhere)."""
    if not _development_only(request, settings):
        raise HTTPException(404)
    lang = texts.language(lang)
    s, roles = STAFF_TEXTS[lang], ROLE_NAMES[lang]
    cookie = request.cookies.get(DEV_CSRF_COOKIE)
    token = cookie if security.csrf_valid(settings.csrf_secret, cookie, cookie) else None
    token = token or security.new_csrf_token(settings.csrf_secret)
    officers = [
        ("division_officer", d.code, f"{roles['division_officer']}, {texts.DIVISIONS[lang].get(d.code, d.name)}")
        for d in await configuration.divisions(session=db)
    ]
    groups = [(s["dev_roles"], [(r, None, roles[r]) for r in ROLES if r != "division_officer"])]
    response = pages.render(
        request,
        "dev_signin.html",
        lang,
        s=s,
        groups=[*groups, (s["dev_officers"], officers)],
        csrf=token,
        next=staff.safe_next(next),
    )
    path, secure = "/auth/dev", staff.secure_cookies(settings)
    response.set_cookie(DEV_CSRF_COOKIE, token, path=path, httponly=True, samesite="strict", secure=secure)
    return response


@router.post("/auth/dev", dependencies=[public()])
async def dev_sign_in(request: Request, db: SessionDep, settings: SettingsDep):
    """Sign in as the chosen role (development only; 404 elsewhere)."""
    if not _development_only(request, settings):
        raise HTTPException(404)
    form = await request.form()
    lang = texts.language(pages.form_text(form, "lang"))
    s = STAFF_TEXTS[lang]
    if not security.csrf_valid(
        settings.csrf_secret, request.cookies.get(DEV_CSRF_COOKIE), pages.form_text(form, "csrf_token")
    ):
        return _page(request, lang, s["csrf_title"], s["csrf"], status=403, link=("/auth/dev", s["try_again"]))
    role, division = pages.form_text(form, "role"), pages.form_text(form, "division") or None
    known = {d.code for d in await configuration.divisions(session=db)}
    if role not in ROLES or (role == "division_officer") != (division in known):
        return _page(request, lang, s["failed_title"], s["failed"], status=422, link=("/auth/dev", s["try_again"]))
    name = f"{ROLE_NAMES['en'][role]}{f' ({division})' if division else ''}, development"
    principal = Principal(
        sub=f"dev-{role}{f'-{division}' if division else ''}", role=role, division=division, name=name
    )
    now = datetime.now(UTC)
    key = await staff.start_session(session=db, settings=settings, principal=principal, tokens=None, now=now)
    response = RedirectResponse(staff.safe_next(pages.form_text(form, "next")), status_code=303)
    staff.set_session_cookie(response, settings, key)
    return response


# ---------------------------------------------------------------- why a staff page did not open


def install(app: FastAPI) -> None:
    """What a staff page shows instead of itself: sign-in and back, or a page saying why not."""

    async def sign_in_first(request: Request, exc: SignInRequired):
        lang = texts.language(request.query_params.get("lang"))
        response = RedirectResponse(_sign_in_link(exc.back_to, lang), status_code=303)
        staff.clear_session_cookie(response, request.app.state.settings)  # a tampered or ended one goes with it
        return response

    async def unavailable(request: Request, exc: SignInUnavailable):
        lang = texts.language(request.query_params.get("lang"))
        s = STAFF_TEXTS[lang]
        link = (staff.here(request), s["try_again"]) if request.method == "GET" else None
        return _page(
            request, lang, s["unavailable_title"], s["unavailable"], status=503, link=link, **{"Retry-After": "30"}
        )

    async def not_for_role(request: Request, exc: NotForRole):
        lang = texts.language(request.query_params.get("lang"))
        s = STAFF_TEXTS[lang]
        message = s["not_for_role"].format(role=ROLE_NAMES[lang][exc.principal.role])
        return _page(request, lang, s["not_for_role_title"], message, status=403)

    async def csrf_refused(request: Request, exc: CsrfRefused):
        lang = texts.language(exc.lang)
        s = STAFF_TEXTS[lang]
        return _page(request, lang, s["csrf_title"], s["csrf"], status=403)

    app.add_exception_handler(SignInRequired, sign_in_first)
    app.add_exception_handler(SignInUnavailable, unavailable)
    app.add_exception_handler(NotForRole, not_for_role)
    app.add_exception_handler(CsrfRefused, csrf_refused)
