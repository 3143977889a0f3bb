"""Every kind of bad bearer token is a 401 through a real route of each service (development signing)."""

import base64
import json
import time
from dataclasses import dataclass

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

from shared.auth import ROLES
from tests.security.apps import api_routes, client, concrete_path, offline_app, staff_roles
from visitdesk import SERVICES


@dataclass
class Probe:
    """A staff route of one service and a role it turns away: a genuine token of that role gets 403."""

    app: FastAPI
    method: str
    path: str
    role: str

    def claims(self, **changes) -> dict:
        settings, now = self.app.state.settings, int(time.time())
        claims = {
            "sub": "security-probe",
            "role": self.role,
            "iss": settings.jwt_issuer,
            "aud": settings.jwt_audience,
            "iat": now,
            "exp": now + 300,
        }
        if self.role == "division_officer":
            claims["division"] = "education"
        return {k: v for k, v in (claims | changes).items() if v is not None}

    def token(self, secret: str | None = None, **changes) -> str:
        return jwt.encode(self.claims(**changes), secret or self.app.state.settings.jwt_secret, algorithm="HS256")

    async def call(self, token: str):
        async with client(self.app) as http:
            return await http.request(self.method, self.path, headers={"Authorization": f"Bearer {token}"})


def probe_for(service: str) -> Probe:
    app = offline_app(service)
    for route in sorted(api_routes(app), key=lambda r: "GET" not in r.methods):
        outsiders = [role for role in ROLES if staff_roles(route) is not None and role not in staff_roles(route)]
        if outsiders:
            return Probe(app, sorted(route.methods)[0], concrete_path(route), outsiders[0])
    raise AssertionError(f"{service} has no route that turns any role away")


@pytest.fixture(scope="module", params=SERVICES)
def probe(request) -> Probe:
    return probe_for(request.param)


def tampered(token: str, **changes) -> str:
    """The same header and signature around a payload the signer never saw."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))) | changes
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


BAD_TOKENS = {
    "expired": lambda p: p.token(exp=int(time.time()) - 120),
    "not-yet-valid": lambda p: p.token(nbf=int(time.time()) + 300),
    "wrong-issuer": lambda p: p.token(iss="https://login.example.org"),
    "wrong-audience": lambda p: p.token(aud="some-other-app"),
    "wrong-signature": lambda p: p.token(secret="another-secret-that-is-at-least-32-bytes"),
    "tampered-payload": lambda p: tampered(p.token(), role="admin"),
    "alg-none": lambda p: jwt.encode(p.claims(), None, algorithm="none"),
    "alg-none-admin": lambda p: jwt.encode(p.claims(role="admin"), None, algorithm="none"),
    "rs256-in-development": lambda p: jwt.encode(
        p.claims(), rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256"
    ),
    "missing-sub": lambda p: p.token(sub=None),
    "missing-role": lambda p: p.token(role=None),
    "missing-exp": lambda p: p.token(exp=None),
    "missing-issuer": lambda p: p.token(iss=None),
    "missing-audience": lambda p: p.token(aud=None),
    "unknown-role": lambda p: p.token(role="mayor"),
    "officer-without-division": lambda p: p.token(role="division_officer", division=None),
    "not-a-jwt": lambda p: "not-a-jwt",
}


async def test_a_genuine_token_of_a_role_the_route_turns_away_gets_403(probe):
    response = await probe.call(probe.token())
    assert response.status_code == 403, response.text


@pytest.mark.parametrize("defect", BAD_TOKENS)
async def test_a_bad_token_is_refused_with_401(probe, defect):
    response = await probe.call(BAD_TOKENS[defect](probe))
    assert (response.status_code, response.headers.get("www-authenticate")) == (401, "Bearer"), response.text
