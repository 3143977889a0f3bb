"""Staff sessions: the signed cookie, the row behind it, expiry and renewal, and what staff pages depend on.

A staff page depends on `signed_in(*roles)` and gets a `SignedIn`: who, an access token for other services' APIs,
and the CSRF token its forms carry. A staff form post depends on `signed_in_form(*roles)`, which also checks that
token. Without a live session a page goes through sign-in and back (SignInRequired); the API routes the staff pages
call themselves take the same session beside bearer tokens, for reads only (`staff_api`).
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import delete, or_
from sqlalchemy.ext.asyncio import AsyncSession

from services.visits import identity
from services.visits.config import Settings, SettingsDep
from services.visits.identity import ProviderRefused, Tokens
from services.visits.models import AuditEntry, StaffSession
from shared.auth import NoAccess, Principal, Role, admit, bearer, current_principal, mint_token
from shared.db import SessionDep
from shared.oidc import ProviderUnavailable
from shared.security import CSP

SESSION_COOKIE = "visitdesk_session"
CSRF_FIELD = "csrf_token"
START_PAGE = "/queue"
SEEN_EVERY = timedelta(seconds=60)  # how often a session's last use is written (idle expiry is in hours)
RENEW_BEFORE = timedelta(seconds=30)  # an access token this close to its end is renewed before use


class SignInRequired(Exception):
    """No live session: the person goes through sign-in and comes back to `back_to`."""

    def __init__(self, back_to: str):
        super().__init__(back_to)
        self.back_to = back_to


class SignInUnavailable(Exception):
    """The provider cannot be reached just when it is needed: to sign in, or to renew a session's access."""


class NotForRole(Exception):
    """Signed in, but this page is not for the person's role."""

    def __init__(self, principal: Principal):
        super().__init__(principal.role)
        self.principal = principal


class CsrfRefused(Exception):
    """A staff form post without the session's CSRF token: refused before anything happens."""

    def __init__(self, lang: object = None):
        super().__init__("csrf")
        self.lang = lang if isinstance(lang, str) else None


@dataclass(frozen=True)
class SignedIn:
    """The signed-in person of a staff page or form."""

    principal: Principal
    access_token: str  # for other services' APIs, on the server; a development session's is minted here
    csrf_token: str  # every staff form carries it as `csrf_token`
    key: str  # the cookie's key (never shown)


# ---------------------------------------------------------------- the cookie and the sealed part of the row


def session_id(key: str) -> str:
    """Rows are found by the key's hash: a copy of the table opens no session."""
    return hashlib.sha256(key.encode()).hexdigest()


def _signature(settings: Settings, purpose: str, value: str) -> str:
    return hmac.new(settings.session_secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def cookie_value(settings: Settings, key: str) -> str:
    return f"{key}.{_signature(settings, 'session', key)}"


def key_in(settings: Settings, cookie: str | None) -> str | None:
    """The key of a cookie we signed; None for no cookie, a tampered one, or another deployment's."""
    key, _, signature = (cookie or "").partition(".")
    expected = _signature(settings, "session", key)
    return key if key and hmac.compare_digest(signature.encode(), expected.encode()) else None


def csrf_token(settings: Settings, key: str) -> str:
    """Bound to the session: a page of this session can post, nothing else can (and no second cookie is needed)."""
    return _signature(settings, "csrf", session_id(key))


def csrf_matches(settings: Settings, key: str, sent: object) -> bool:
    return isinstance(sent, str) and hmac.compare_digest(sent.encode(), csrf_token(settings, key).encode())


def _aead(key: str) -> AESGCM:
    kdf = HKDF(algorithm=SHA256(), length=32, salt=None, info=b"visitdesk staff session")
    return AESGCM(kdf.derive(key.encode()))


def seal(key: str, data: dict[str, Any]) -> str:
    """AES-GCM under a key derived from `key`: the database alone cannot read provider tokens or names."""
    nonce = os.urandom(12)
    sealed = _aead(key).encrypt(nonce, json.dumps(data).encode(), session_id(key).encode())
    return base64.b64encode(nonce + sealed).decode()


def unseal(key: str, sealed: str) -> dict[str, Any] | None:
    try:
        raw = base64.b64decode(sealed)
        return json.loads(_aead(key).decrypt(raw[:12], raw[12:], session_id(key).encode()))
    except (ValueError, InvalidTag):
        return None


def secure_cookies(settings: Settings) -> bool:
    return settings.environment != "development" or settings.public_base_url.startswith("https://")


def set_session_cookie(response: Response, settings: Settings, key: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        cookie_value(settings, key),
        max_age=settings.session_max_seconds,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure_cookies(settings))


# ---------------------------------------------------------------- use cases


def _secrets(principal: Principal, tokens: Tokens | None) -> dict[str, Any]:
    held = {"name": principal.name}
    if tokens is not None:
        held |= {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "id_token": tokens.id_token,
        }
    return held


def _audit(session: AsyncSession, principal: Principal, action: str, now: datetime) -> None:
    session.add(AuditEntry(at=now, actor=principal.sub, role=principal.role, action=action, outcome="allowed"))


async def start_session(
    *, session: AsyncSession, settings: Settings, principal: Principal, tokens: Tokens | None, now: datetime
) -> str:
    """A session for a person who just signed in; returns the cookie's key. Sessions that have ended go here."""
    idle_since = now - timedelta(seconds=settings.session_idle_seconds)
    await session.execute(
        delete(StaffSession).where(or_(StaffSession.expires_at <= now, StaffSession.seen_at <= idle_since))
    )
    key = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            id=session_id(key),
            sub=principal.sub,
            role=principal.role,
            division=principal.division,
            started_at=now,
            seen_at=now,
            expires_at=now + timedelta(seconds=settings.session_max_seconds),
            access_expires_at=tokens.access_expires_at if tokens else None,
            sealed=seal(key, _secrets(principal, tokens)),
        )
    )
    _audit(session, principal, "staff.signed_in", now)
    await session.commit()
    return key


async def _forget(session: AsyncSession, row: StaffSession) -> None:
    """Delete a session's row; a page and its script's calls may find the same ended session at once."""
    await session.execute(
        delete(StaffSession).where(StaffSession.id == row.id).execution_options(synchronize_session=False)
    )
    session.expunge(row)


async def live_session(*, session: AsyncSession, settings: Settings, key: str, now: datetime) -> StaffSession | None:
    """The session of `key` if it has not ended (8 h after sign-in, 1 h unused); an ended one is deleted."""
    row = await session.get(StaffSession, session_id(key))
    if row is None:
        return None
    if row.expires_at <= now or row.seen_at <= now - timedelta(seconds=settings.session_idle_seconds):
        await _forget(session, row)
        await session.commit()
        return None
    if now - row.seen_at >= SEEN_EVERY:
        row.seen_at = now
        await session.commit()
    return row


Renewal = Callable[[str, str | None], Awaitable[tuple[Principal, Tokens]]]


async def renew_session(*, session: AsyncSession, key: str, renew: Renewal, now: datetime) -> StaffSession | None:
    """Fresh provider tokens from the refresh token, one renewal per session at a time (the row stays locked
    meanwhile). None when the provider refused or no group maps any more: the session is over."""
    row = await session.get(StaffSession, session_id(key), with_for_update=True, populate_existing=True)
    held = unseal(key, row.sealed) if row is not None else None
    if row is None or held is None or not held.get("refresh_token"):
        await session.rollback()
        return None
    if row.access_expires_at and row.access_expires_at > now + RENEW_BEFORE:
        await session.commit()  # another request renewed it while this one waited for the lock
        return row
    try:
        principal, tokens = await renew(held["refresh_token"], held.get("id_token"))
    except (ProviderRefused, NoAccess):
        await _forget(session, row)
        await session.commit()
        return None
    row.role, row.division, row.access_expires_at = principal.role, principal.division, tokens.access_expires_at
    row.sealed = seal(key, _secrets(principal, tokens))
    await session.commit()
    return row


async def end_session(*, session: AsyncSession, key: str, now: datetime) -> dict[str, Any]:
    """Sign-out here: the row goes. Returns what it held sealed (the ID token tells the provider whom to sign out)."""
    row = await session.get(StaffSession, session_id(key))
    if row is None:
        return {}
    held = unseal(key, row.sealed) or {}
    principal = Principal.model_validate({"sub": row.sub, "role": row.role, "division": row.division})
    await _forget(session, row)
    _audit(session, principal, "staff.signed_out", now)
    await session.commit()
    return held


# ---------------------------------------------------------------- what routes depend on


def here(request: Request) -> str:
    """The page's own path and query: where sign-in brings the person back to."""
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path


def safe_next(value: str | None) -> str:
    """Only a path of this site: never another site, whatever the query said (an open redirect otherwise)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or "\n" in value:
        return START_PAGE
    return value


async def _signed_in(
    request: Request, db: AsyncSession, settings: Settings, roles: tuple[Role, ...], back_to: str
) -> SignedIn:
    now = datetime.now(UTC)
    key = key_in(settings, request.cookies.get(SESSION_COOKIE))
    row = await live_session(session=db, settings=settings, key=key, now=now) if key else None
    if key and row is not None and row.access_expires_at and row.access_expires_at <= now + RENEW_BEFORE:
        verifier = request.app.state.verifier

        async def renew(refresh_token: str, id_token: str | None) -> tuple[Principal, Tokens]:
            return await identity.renewed(settings, verifier, refresh_token=refresh_token, id_token=id_token, now=now)

        try:
            row = await renew_session(session=db, key=key, renew=renew, now=now)
        except ProviderUnavailable as exc:
            raise SignInUnavailable() from exc
    held = unseal(key, row.sealed) if key and row is not None else None
    if key is None or row is None or held is None:
        raise SignInRequired(back_to)
    principal = Principal.model_validate(
        {"sub": row.sub, "role": row.role, "division": row.division, "name": held.get("name")}
    )
    if principal.role not in roles:
        raise NotForRole(principal)
    access_token = held.get("access_token") or mint_token(
        settings, role=principal.role, division=principal.division, sub=principal.sub, ttl_seconds=300
    )
    return SignedIn(principal=principal, access_token=access_token, csrf_token=csrf_token(settings, key), key=key)


def signed_in(*roles: Role):
    """A staff page's dependency: the signed-in person in one of `roles`, through sign-in and back without one."""

    async def dependency(request: Request, db: SessionDep, settings: SettingsDep) -> SignedIn:
        return await _signed_in(request, db, settings, roles, here(request))

    dependency.policy = roles
    dependency.signs_in = True
    return Depends(dependency)


def signed_in_form(*roles: Role):
    """A staff form post's dependency: as `signed_in`, and the form must carry the session's CSRF token (else 403,
    before anything changes). Without a session, sign-in brings the person back to the form's `back` page."""

    async def dependency(request: Request, db: SessionDep, settings: SettingsDep) -> SignedIn:
        form = await request.form()
        back = form.get("back")
        person = await _signed_in(request, db, settings, roles, safe_next(back if isinstance(back, str) else None))
        if not csrf_matches(settings, person.key, form.get(CSRF_FIELD)):
            raise CsrfRefused(form.get("lang"))
        return person

    dependency.policy = roles
    dependency.signs_in = True
    return Depends(dependency)


def staff_api(*roles: Role):
    """An API route's dependency: a bearer token, or for a read (GET) the staff pages' session, so a page's own
    script can call the API without ever holding a token. A session counts only for reads: a cross-site form
    could carry the cookie into a POST, never a bearer token."""

    async def dependency(
        request: Request,
        db: SessionDep,
        settings: SettingsDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        principal = await current_principal(request, credentials)
        if principal is None and request.method in ("GET", "HEAD") and SESSION_COOKIE in request.cookies:
            try:
                person = await _signed_in(request, db, settings, roles, START_PAGE)
                principal, request.state.staff_session_key = person.principal, person.key
            except SignInRequired:
                principal = None
            except NotForRole as exc:
                principal = exc.principal
            except SignInUnavailable as exc:
                raise HTTPException(
                    status.HTTP_503_SERVICE_UNAVAILABLE, "sign-in unavailable", headers={"Retry-After": "30"}
                ) from exc
        return admit(principal, roles)

    dependency.policy = roles
    return Depends(dependency)


async def while_signed_in(
    app: FastAPI, key: str, messages: AsyncGenerator[str], *, every_seconds: float
) -> AsyncGenerator[str]:
    """A long response (the queue's stream) that ends once its session has ended, checked every so often
    (keep-alives come at least that often): signed out in another tab, a page's stream stops too."""
    checked = time.monotonic()
    async with aclosing(messages):  # the stream's own cleanup (unsubscribing) runs when this one ends early
        async for text in messages:
            yield text
            if time.monotonic() - checked >= every_seconds:
                checked = time.monotonic()
                async with app.state.sessions() as session:
                    now = datetime.now(UTC)
                    if await live_session(session=session, settings=app.state.settings, key=key, now=now) is None:
                        return


def page_headers(response: Response, settings: Settings) -> Response:
    """A staff page: never cached; its forms may end at the provider (sign-out goes on to the provider's page)."""
    if settings.oidc_issuer:
        origin = "/".join(settings.oidc_issuer.split("/")[:3])
        response.headers["Content-Security-Policy"] = CSP.replace("form-action 'self'", f"form-action 'self' {origin}")
    response.headers["Cache-Control"] = "no-store"
    return response
