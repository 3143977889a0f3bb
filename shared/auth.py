"""Bearer JWTs: the city's OpenID provider (JWKS, groups mapped to roles), and local development tokens."""

import asyncio
import time
from typing import Annotated, Any, Literal

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError, model_validator

from shared.oidc import Provider, ProviderUnavailable
from shared.settings import ServiceSettings

Role = Literal["division_officer", "communications", "protocol_officer", "admin"]
ROLES: tuple[Role, ...] = ("division_officer", "communications", "protocol_officer", "admin")
bearer = HTTPBearer(auto_error=False)
ISSUER_ALGORITHMS = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
Grant = tuple[str, Role, str | None]  # (group, role, division)


class Principal(BaseModel):
    """Who is calling: a staff member with one role, and a division for division officers."""

    sub: str
    role: Role
    division: str | None = None
    name: str | None = None  # as the provider gives it, for pages; never in audit rows or logs

    @model_validator(mode="after")
    def _officers_have_a_division(self):
        if self.role == "division_officer" and not self.division:
            raise ValueError("division_officer tokens need a division claim")
        return self


class NoAccess(Exception):
    """A person the provider vouches for whose groups grant no visitdesk role."""


def group_grants(groups: dict[str, str]) -> list[Grant]:
    """The group mapping of the settings, checked: each value a role, or `division_officer:<division>`."""
    grants: list[Grant] = []
    for group, grant in groups.items():
        role, _, division = grant.partition(":")
        if role not in ROLES or (role == "division_officer") != bool(division):
            raise ValueError(f"group {group}: {grant!r} is neither a role nor division_officer:<division>")
        grants.append((group, role, division or None))
    return grants


def principal_from_groups(claims: dict[str, Any], grants: list[Grant]) -> Principal:
    """The first grant (in the mapping's order) of a group the person is in; NoAccess when none is."""
    held = {g.lstrip("/") for g in claims.get("groups") or [] if isinstance(g, str)}  # "/name" is a full path
    for group, role, division in grants:
        if group in held:
            name = claims.get("name") or claims.get("preferred_username")
            return Principal(sub=claims["sub"], role=role, division=division, name=name)
    raise NoAccess(claims["sub"])


class TokenVerifier:
    """Verifies bearer tokens: the provider's by its keys and groups; locally minted ones outside production."""

    def __init__(self, settings: ServiceSettings, *, jwks_refresh_cooldown: float = 30.0):
        self.settings = settings
        self.provider = Provider(settings) if settings.oidc_issuer else None
        self.grants = group_grants(settings.oidc_groups)
        self.cooldown = jwks_refresh_cooldown
        self.jwks: jwt.PyJWKClient | None = None

    async def verify(self, token: str) -> Principal:
        """The caller, or InvalidTokenError, NoAccess, ProviderUnavailable (PyJWKClientError for the key set)."""
        if self._locally_minted(token):
            return self._development_principal(token)
        return principal_from_groups(
            await self.provider_claims(token, audience=self.settings.jwt_audience), self.grants
        )

    def _locally_minted(self, token: str) -> bool:
        """Without a provider every token is ours; beside one, HS256 marks ours, and production takes none."""
        if self.provider is None:
            return True
        if self.settings.environment == "production":
            return False
        try:
            return jwt.get_unverified_header(token).get("alg") == "HS256"
        except jwt.DecodeError:
            return False

    def _development_principal(self, token: str) -> Principal:
        claims = jwt.decode(
            token,
            self.settings.jwt_secret,
            algorithms=["HS256"],
            issuer=self.settings.jwt_issuer,
            audience=self.settings.jwt_audience,
            options={"require": ["exp", "sub", "iss", "aud"]},
        )
        try:
            return Principal.model_validate(claims)
        except ValidationError as exc:
            raise jwt.InvalidTokenError(f"claims: {exc.errors()[0]['msg']}") from exc

    async def provider_claims(self, token: str, *, audience: str) -> dict[str, Any]:
        """The claims of a token the provider signed for `audience` (an access token, or our client's ID token)."""
        keys = await self._key_set()
        signing_key = await asyncio.to_thread(keys.get_signing_key_from_jwt, token)
        # Only the key's own algorithm: a header naming another (ES256 on an RSA key) is refused, not crashed on.
        if signing_key.algorithm_name not in ISSUER_ALGORITHMS:
            raise jwt.InvalidAlgorithmError(f"issuer key algorithm {signing_key.algorithm_name} not accepted")
        return jwt.decode(
            token,
            signing_key.key,
            algorithms=[signing_key.algorithm_name],
            issuer=self.settings.oidc_issuer,
            audience=audience,
            options={"require": ["exp", "sub", "iss", "aud"]},
        )

    async def _key_set(self) -> jwt.PyJWKClient:
        if self.jwks is None:
            assert self.provider is not None
            metadata = await self.provider.metadata()
            # No per-kid cache: it never expires, so a key the issuer withdrew would verify forever. The key set
            # itself is cached for 10 minutes; an unknown kid refetches it at most once per cooldown.
            self.jwks = jwt.PyJWKClient(
                metadata.jwks_uri, cache_keys=False, lifespan=600, timeout=10, cooldown_duration=self.cooldown
            )
        return self.jwks


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
    except NoAccess as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "no visitdesk role for this account") from exc
    except (jwt.PyJWKClientConnectionError, jwt.PyJWKSetError, ProviderUnavailable) as exc:
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
        return admit(principal, roles)

    dependency.policy = roles
    return Depends(dependency)


def admit(principal: Principal | None, roles: tuple[Role, ...]) -> Principal:
    """The caller if their role is one of `roles`: 401 without a caller, 403 for another role."""
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "bearer token required", headers={"WWW-Authenticate": "Bearer"}
        )
    if principal.role not in roles:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {principal.role} may not do this")
    return principal


def public():
    """Marks a route as deliberately open to anyone."""

    async def dependency() -> None:
        return None

    dependency.policy = "public"
    return Depends(dependency)
