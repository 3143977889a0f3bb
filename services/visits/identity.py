"""The visits service as the provider's confidential client (Authlib): the authorization request with PKCE, the
code exchange, renewal by refresh token, and the address that signs a person out at the provider too."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx2
import jwt
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client

from services.visits.config import Settings
from shared.auth import Principal, TokenVerifier, principal_from_groups
from shared.oidc import Provider, ProviderUnavailable

SCOPE = "openid profile email"


class ProviderRefused(Exception):
    """The provider said no (a spent or forged code, the refresh token of a session it ended): sign in again."""


@dataclass(frozen=True)
class Tokens:
    """What the provider handed over; kept sealed in the session row, never sent to the browser."""

    access_token: str
    refresh_token: str | None
    id_token: str | None
    access_expires_at: datetime


@dataclass(frozen=True)
class Authorization:
    """Where to send the browser, and what its return must match (kept sealed in a cookie meanwhile)."""

    url: str
    state: str
    code_verifier: str
    nonce: str


def callback_url(settings: Settings) -> str:
    return f"{settings.public_base_url.rstrip('/')}/auth/callback"


def _client(settings: Settings) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        token_endpoint_auth_method="client_secret_basic",
        scope=SCOPE,
        redirect_uri=callback_url(settings),
        code_challenge_method="S256",
        timeout=10,
    )


async def authorization(settings: Settings, provider: Provider) -> Authorization:
    """A new authorization request. The discovery document is read afresh: a provider that does not answer now
    would leave the person on a dead page, so the caller says "unavailable" instead (ProviderUnavailable)."""
    metadata = await provider.metadata(fresh=True)
    code_verifier, nonce = generate_token(48), generate_token(24)
    async with _client(settings) as client:
        url, state = client.create_authorization_url(
            metadata.authorization_endpoint, code_verifier=code_verifier, nonce=nonce
        )
    return Authorization(url=url, state=state, code_verifier=code_verifier, nonce=nonce)


async def exchange(
    settings: Settings, verifier: TokenVerifier, *, code: str, code_verifier: str, nonce: str, now: datetime
) -> tuple[Principal, Tokens]:
    """The code for tokens; the ID token must be ours and answer our nonce. NoAccess when no group maps."""
    token = await _token_request(settings, verifier, code=code, code_verifier=code_verifier)
    id_claims = await verifier.provider_claims(token.get("id_token") or "", audience=settings.oidc_client_id)
    if id_claims.get("nonce") != nonce:
        raise ProviderRefused("the ID token does not answer this sign-in")
    return await _principal_and_tokens(settings, verifier, token, now=now, id_token=token["id_token"])


async def renewed(
    settings: Settings, verifier: TokenVerifier, *, refresh_token: str, id_token: str | None, now: datetime
) -> tuple[Principal, Tokens]:
    """New tokens for a live session; the person's groups are read again, so a change at the provider applies."""
    token = await _token_request(settings, verifier, refresh_token=refresh_token)
    return await _principal_and_tokens(settings, verifier, token, now=now, id_token=token.get("id_token") or id_token)


async def _token_request(settings: Settings, verifier: TokenVerifier, **grant: str) -> dict[str, Any]:
    assert verifier.provider is not None
    metadata = await verifier.provider.metadata()
    try:
        async with _client(settings) as client:
            if "refresh_token" in grant:
                return dict(await client.refresh_token(metadata.token_endpoint, refresh_token=grant["refresh_token"]))
            return dict(await client.fetch_token(metadata.token_endpoint, grant_type="authorization_code", **grant))
    except OAuthError as exc:
        raise ProviderRefused(exc.error) from exc
    except httpx2.HTTPError as exc:  # unreachable, or a 5xx: the provider is away, the person did nothing wrong
        raise ProviderUnavailable(f"token endpoint: {type(exc).__name__}") from exc


async def _principal_and_tokens(
    settings: Settings, verifier: TokenVerifier, token: dict[str, Any], *, now: datetime, id_token: str | None
) -> tuple[Principal, Tokens]:
    try:
        claims = await verifier.provider_claims(token["access_token"], audience=settings.jwt_audience)
    except jwt.InvalidTokenError as exc:
        raise ProviderRefused(f"access token: {exc}") from exc
    tokens = Tokens(
        access_token=token["access_token"],
        refresh_token=token.get("refresh_token"),
        id_token=id_token,
        access_expires_at=now + timedelta(seconds=int(token.get("expires_in") or 60)),
    )
    return principal_from_groups(claims, verifier.grants), tokens


async def sign_out_url(settings: Settings, provider: Provider, *, id_token: str | None, lang: str) -> str | None:
    """The provider's end-session address that comes back to our signed-out page; None if it cannot be known."""
    try:
        metadata = await provider.metadata()
    except ProviderUnavailable:
        return None
    if not metadata.end_session_endpoint:
        return None
    query = {
        "client_id": settings.oidc_client_id,
        "post_logout_redirect_uri": f"{settings.public_base_url.rstrip('/')}/auth/signed-out?lang={lang}",
    }
    if id_token:  # with the hint the provider ends the session without asking the person again
        query["id_token_hint"] = id_token
    return f"{metadata.end_session_endpoint}?{urlencode(query)}"
