"""Bearer JWTs: a local secret in development, the city's OIDC provider (JWKS) in production."""

import asyncio
import time
from typing import Annotated, Literal

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError, model_validator

from shared.settings import ServiceSettings

Role = Literal["division_officer", "communications", "protocol_officer", "admin"]
ROLES: tuple[Role, ...] = ("division_officer", "communications", "protocol_officer", "admin")
bearer = HTTPBearer(auto_error=False)
ISSUER_ALGORITHMS = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}


class Principal(BaseModel):
    """Who is calling: a staff member with one role, and a division for division officers."""

    sub: str
    role: Role
    division: str | None = None

    @model_validator(mode="after")
    def _officers_have_a_division(self):
        if self.role == "division_officer" and not self.division:
            raise ValueError("division_officer tokens need a division claim")
        return self


class TokenVerifier:
    def __init__(self, settings: ServiceSettings, *, jwks_refresh_cooldown: float = 30.0):
        self.settings = settings
        # No per-kid cache: it never expires, so a key the issuer withdrew would verify forever. The key set
        # itself is cached for 10 minutes; an unknown kid refetches it at most once per cooldown.
        self.jwks = (
            jwt.PyJWKClient(
                settings.oidc_jwks_url,
                cache_keys=False,
                lifespan=600,
                timeout=10,
                cooldown_duration=jwks_refresh_cooldown,
            )
            if settings.oidc_jwks_url
            else None
        )

    async def verify(self, token: str) -> Principal:
        """Signature, expiry, issuer, audience and claims, or InvalidTokenError (PyJWKClientError for JWKS)."""
        if self.jwks is not None:
            signing_key = await asyncio.to_thread(self.jwks.get_signing_key_from_jwt, token)
            # Only the key's own algorithm: a header naming another (ES256 on an RSA key) is refused, not crashed on.
            key, algorithms = signing_key.key, [signing_key.algorithm_name]
            if signing_key.algorithm_name not in ISSUER_ALGORITHMS:
                raise jwt.InvalidAlgorithmError(f"issuer key algorithm {signing_key.algorithm_name} not accepted")
        else:
            key, algorithms = self.settings.jwt_secret, ["HS256"]
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            issuer=self.settings.jwt_issuer,
            audience=self.settings.jwt_audience,
            options={"require": ["exp", "sub", "iss", "aud"]},
        )
        try:
            return Principal.model_validate(claims)
        except ValidationError as exc:
            raise jwt.InvalidTokenError(f"claims: {exc.errors()[0]['msg']}") from exc


def mint_token(
    settings: ServiceSettings,
    *,
    role: Role,
    division: str | None = None,
    sub: str | None = None,
    ttl_seconds: int = 8 * 3600,
) -> str:
    """A development token signed with the local secret."""
    now = int(time.time())
    claims = {
        "sub": sub or f"dev-{role}",
        "role": role,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if division:
        claims["division"] = division
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal | None:
    """The verified caller, or None when no bearer token was sent."""
    if credentials is None:
        return None
    try:
        return await request.app.state.verifier.verify(credentials.credentials)
    except (jwt.PyJWKClientConnectionError, jwt.PyJWKSetError) as exc:
        # The issuer's key set is unreachable: the token may be fine, so say "try again", not "log in again".
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "token keys unavailable", headers={"Retry-After": "5"}
        ) from exc
    except (jwt.InvalidTokenError, jwt.PyJWKClientError) as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, f"invalid token: {exc}", headers={"WWW-Authenticate": "Bearer"}
        ) from exc


def require(*roles: Role):
    """A route dependency admitting only `roles`; the route walk test reads `policy` off it."""

    async def dependency(principal: Annotated[Principal | None, Depends(current_principal)]) -> Principal:
        if principal is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "bearer token required", headers={"WWW-Authenticate": "Bearer"}
            )
        if principal.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {principal.role} may not do this")
        return principal

    dependency.policy = roles
    return Depends(dependency)


def public():
    """Marks a route as deliberately open to anyone."""

    async def dependency() -> None:
        return None

    dependency.policy = "public"
    return Depends(dependency)
