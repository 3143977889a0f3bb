"""Production mode: tokens verified against the keys of a real issuer endpoint (its discovery document names its
key set), through the protocol service's routes."""

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm

from services.protocol.config import Settings
from services.protocol.main import create_app
from shared.auth import TokenVerifier
from tests.security.apps import UNREACHABLE_DB, client, offline
from tests.support import serve, unique

ISSUER, AUDIENCE = "https://login.example.test/realms/helsinki", "visitdesk-api"
CALENDAR, ITEM = "/api/v1/plans", "/api/v1/plans/HEL-NOSUCH/items/host"


class SigningKey:
    """An RSA key the test's issuer signs with, published under `kid`."""

    def __init__(self):
        self.kid, self.private = uuid.uuid4().hex, rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict:
        return json.loads(RSAAlgorithm.to_jwk(self.private.public_key())) | {
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
        }

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def token(self, **changes) -> str:
        return jwt.encode(claims(**changes), self.private, algorithm="RS256", headers={"kid": self.kid})


STRANGER = SigningKey()  # a key the issuer never published


def claims(**changes) -> dict:
    now = int(time.time())
    base = {
        "sub": "oidc-user-1",
        "groups": ["visitdesk-admins"],
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
    }
    return {k: v for k, v in (base | changes).items() if v is not None}


class Issuer:
    """The OIDC provider: a real HTTP server on loopback with a discovery document and a key set the test can
    change; `fetches` counts the key set's."""

    def __init__(self):
        self.keys: list[SigningKey] = [SigningKey()]
        self.fetches = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.endswith("/.well-known/openid-configuration"):
                    document = {
                        "issuer": ISSUER,
                        "authorization_endpoint": f"{ISSUER}/protocol/openid-connect/auth",
                        "token_endpoint": f"{issuer.base}/protocol/openid-connect/token",
                        "jwks_uri": f"{issuer.base}/protocol/openid-connect/certs",
                    }
                else:
                    issuer.fetches += 1
                    document = {"keys": [key.jwk() for key in issuer.keys]}
                body = json.dumps(document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.url = f"{self.base}/.well-known/openid-configuration"  # where the services read the discovery document
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def key(self) -> SigningKey:
        return self.keys[-1]

    def rotate(self, *, keep_old: bool) -> SigningKey:
        self.keys = (self.keys if keep_old else []) + [SigningKey()]
        return self.key


@pytest.fixture
def issuer():
    issuer = Issuer()
    issuer.thread.start()
    yield issuer
    issuer.server.shutdown()
    issuer.server.server_close()


def production_settings(discovery_url: str, database_url: str = UNREACHABLE_DB, **fields):
    return Settings(
        database_url=database_url,
        environment="production",
        oidc_issuer=ISSUER,
        oidc_discovery_url=discovery_url,
        jwt_audience=AUDIENCE,
        **fields,
    )


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def protocol(issuer, new_database, kafka_bootstrap):
    """The protocol service in production mode on a fresh database, trusting `issuer`."""
    settings = production_settings(
        issuer.url, await new_database("protocol"), kafka_bootstrap=kafka_bootstrap, topic_prefix=unique() + "."
    )
    app = create_app(settings)
    async with serve(app) as http:
        yield app, http


async def test_a_token_signed_by_the_issuers_key_is_the_caller(issuer, protocol):
    _, http = protocol
    assert (await http.get(CALENDAR, headers=bearer(issuer.key.token()))).status_code == 200
    communications = issuer.key.token(groups=["visitdesk-communications"])
    refused = await http.patch(ITEM, json={"state": "done"}, headers=bearer(communications))
    assert (refused.status_code, refused.json()["detail"]) == (403, "role communications may not do this")


async def test_after_a_rotation_the_new_key_verifies_and_a_withdrawn_key_no_longer_does(issuer, protocol):
    app, http = protocol
    # Without the cooldown a rotation is seen at once; test_unknown_key_ids_cannot_make_the_service_hammer_the_issuer
    # covers the default.
    app.state.verifier = TokenVerifier(app.state.settings, jwks_refresh_cooldown=0)
    old = issuer.key
    assert (await http.get(CALENDAR, headers=bearer(old.token()))).status_code == 200
    new = issuer.rotate(keep_old=True)
    assert (await http.get(CALENDAR, headers=bearer(new.token()))).status_code == 200
    assert (await http.get(CALENDAR, headers=bearer(old.token()))).status_code == 200
    assert issuer.fetches == 2
    issuer.rotate(keep_old=False)
    assert (await http.get(CALENDAR, headers=bearer(issuer.key.token()))).status_code == 200
    assert (await http.get(CALENDAR, headers=bearer(old.token()))).status_code == 401


async def test_unknown_key_ids_cannot_make_the_service_hammer_the_issuer(issuer):
    app = offline(create_app(production_settings(issuer.url)))
    async with client(app) as http:
        for _ in range(20):
            forged = jwt.encode(claims(), STRANGER.private, algorithm="RS256", headers={"kid": uuid.uuid4().hex})
            assert (await http.patch(ITEM, json={}, headers=bearer(forged))).status_code == 401
    assert issuer.fetches == 1


def hs256_with_public_key(key: SigningKey) -> str:
    """The algorithm-confusion attack: HMAC the token with the issuer's public key as the secret."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = (
        f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': key.kid}).encode())}."
        f"{b64(json.dumps(claims()).encode())}"
    )
    signature = hmac.new(key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


BAD_TOKENS = {
    "expired": lambda issuer: issuer.key.token(exp=int(time.time()) - 120),
    "wrong-issuer": lambda issuer: issuer.key.token(iss="visitdesk-dev"),
    "wrong-audience": lambda issuer: issuer.key.token(aud="visitdesk"),
    "missing-sub": lambda issuer: issuer.key.token(sub=None),
    "missing-exp": lambda issuer: issuer.key.token(exp=None),
    "alg-none": lambda issuer: jwt.encode(claims(), None, algorithm="none"),
    "alg-none-with-the-issuers-kid": lambda issuer: jwt.encode(
        claims(), None, algorithm="none", headers={"kid": issuer.key.kid}
    ),
    "hs256-signed-with-the-public-key": lambda issuer: hs256_with_public_key(issuer.key),
    "es256-header-on-the-rsa-kid": lambda issuer: jwt.encode(
        claims(), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": issuer.key.kid}
    ),
    "another-key-claiming-the-issuers-kid": lambda issuer: jwt.encode(
        claims(), STRANGER.private, algorithm="RS256", headers={"kid": issuer.key.kid}
    ),
    "development-secret-token": lambda issuer: jwt.encode(
        claims(), "visitdesk-development-only-secret-change-me", algorithm="HS256"
    ),
}


@pytest.mark.parametrize("defect", BAD_TOKENS)
async def test_a_bad_token_is_refused_with_401_in_production(issuer, defect):
    app = offline(create_app(production_settings(issuer.url)))
    async with client(app) as http:
        response = await http.patch(ITEM, json={}, headers=bearer(BAD_TOKENS[defect](issuer)))
    assert (response.status_code, response.headers.get("www-authenticate")) == (401, "Bearer"), response.text


@pytest.mark.parametrize("groups", [None, [], ["city-staff"], ["/visitdesk-admins-old"], "visitdesk-admins"])
async def test_a_genuine_token_whose_groups_map_to_no_role_is_refused_with_403(issuer, groups):
    app = offline(create_app(production_settings(issuer.url)))
    async with client(app) as http:
        response = await http.patch(ITEM, json={}, headers=bearer(issuer.key.token(groups=groups)))
    assert (response.status_code, response.json()["detail"]) == (403, "no visitdesk role for this account")


async def test_a_role_claim_of_the_providers_token_grants_nothing_only_its_groups_do(issuer):
    app = offline(create_app(production_settings(issuer.url)))
    async with client(app) as http:
        response = await http.patch(ITEM, json={}, headers=bearer(issuer.key.token(groups=None, role="admin")))
    assert response.status_code == 403


async def test_an_unreachable_issuer_is_a_503_to_retry_not_a_401():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = offline(create_app(production_settings(f"http://127.0.0.1:{port}/.well-known/openid-configuration")))
    async with client(app) as http:
        response = await http.patch(ITEM, json={}, headers=bearer(STRANGER.token()))
    assert (response.status_code, response.headers.get("retry-after")) == (503, "5")
    assert "127.0.0.1" not in response.text
