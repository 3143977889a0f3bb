"""Secrets and guards of the public side: tracking tokens, CSRF, the confirmation receipt, rate limits."""

import base64
import hashlib
import hmac
import re
import secrets
from collections import deque

from fastapi import Request, Response

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; font-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def new_tracking_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Only the SHA-256 of a tracking token is stored; the token itself is shown once."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)


# Idempotency-Key: 1-200 printable ASCII characters, taken as sent (a structured-field string keeps its quotes).
IDEMPOTENCY_KEY = r"^[\x20-\x7e]{1,200}$"


def valid_idempotency_key(value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(IDEMPOTENCY_KEY, value) is not None


def keyed_tracking_token(secret: str, key_hash: str, reference: str) -> str:
    """The tracking token of a submission with an idempotency key: derived, so a retry can show it again unstored.

    The reference is part of it: once a key is forgotten (after a day), the same key may come again with another
    request, which must not get a token that opens the first one.
    """
    digest = hmac.new(secret.encode(), f"tracking:{key_hash}:{reference}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _same(given: str, expected: str) -> bool:
    """Constant-time equality of a value from the browser; compared as bytes, as any text may arrive."""
    return hmac.compare_digest(given.encode(), expected.encode())


def _sign(secret: str, purpose: str, value: str) -> str:
    return hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def new_csrf_token(secret: str) -> str:
    """A random nonce with its signature: sent both as a cookie and as a hidden field."""
    nonce = secrets.token_urlsafe(24)
    return f"{nonce}.{_sign(secret, 'csrf', nonce)}"


def csrf_valid(secret: str, cookie: str | None, field: str | None) -> bool:
    """Double submit: the field equals the cookie, and we signed it (a planted cookie will not do)."""
    if not cookie or not field or not _same(cookie, field):
        return False
    nonce, _, signature = cookie.partition(".")
    return bool(nonce) and _same(signature, _sign(secret, "csrf", nonce))


def new_receipt(secret: str, reference: str, token: str) -> str:
    """Lets the confirmation page show the tracking link once, without storing the token."""
    return f"{token}.{_sign(secret, 'receipt', f'{reference}:{token}')}"


def read_receipt(secret: str, receipt: str | None, reference: str) -> str | None:
    """The tracking token in a valid receipt for `reference`, else None."""
    token, _, signature = (receipt or "").partition(".")
    if not token or not _same(signature, _sign(secret, "receipt", f"{reference}:{token}")):
        return None
    return token


class SlidingWindow:
    """At most `limit` hits per `window` seconds per key. In-process, so each replica counts its own."""

    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self.hits: dict[str, deque[float]] = {}

    def hit(self, key: str, now: float) -> float | None:
        """Count a hit; None if allowed, else the seconds until one would be."""
        hits = self.hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return hits[0] + self.window - now
        hits.append(now)
        if len(self.hits) > 10_000:
            self._forget_idle(now)
        return None

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, h in self.hits.items() if not h or h[-1] <= now - self.window]:
            del self.hits[key]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def protect_page(response: Response) -> Response:
    """Our pages need even less than the platform's policy allows (no scripts at all), and are never cached."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    return response
