"""Token verification in development mode: every bad token is a 401, never a pass."""

import time

import jwt
import pytest

from shared.auth import Principal, TokenVerifier, mint_token
from shared.settings import ServiceSettings

settings = ServiceSettings(database_url="unused")


def _token(**overrides) -> str:
    now = int(time.time())
    claims = {
        "sub": "u1",
        "role": "admin",
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + 60,
    } | overrides
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


async def test_a_minted_development_token_verifies_to_its_principal():
    token = mint_token(settings, role="division_officer", division="education")
    assert await TokenVerifier(settings).verify(token) == Principal(
        sub="dev-division_officer", role="division_officer", division="education"
    )


@pytest.mark.parametrize(
    "token",
    [
        _token(exp=int(time.time()) - 10),
        _token(iss="someone-else"),
        _token(aud="another-app"),
        _token(sub=None),
        _token(role=None),
        _token(role="mayor"),
        _token(role="division_officer"),
        jwt.encode(
            {
                "sub": "u1",
                "role": "admin",
                "iss": settings.jwt_issuer,
                "aud": settings.jwt_audience,
                "exp": int(time.time()) + 60,
            },
            "not-the-secret-but-long-enough-for-hs256",
            algorithm="HS256",
        ),
        jwt.encode(
            {
                "sub": "u1",
                "role": "admin",
                "iss": settings.jwt_issuer,
                "aud": settings.jwt_audience,
                "exp": int(time.time()) + 60,
            },
            None,
            algorithm="none",
        ),
    ],
    ids=[
        "expired",
        "wrong-issuer",
        "wrong-audience",
        "no-sub",
        "no-role",
        "unknown-role",
        "officer-without-division",
        "wrong-signature",
        "alg-none",
    ],
)
async def test_a_bad_token_is_rejected(token):
    with pytest.raises(jwt.InvalidTokenError):
        await TokenVerifier(settings).verify(token)
