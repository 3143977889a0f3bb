"""Security headers, a request body limit and a NUL guard for every service, as pure ASGI middleware."""

import asyncio
import re
from urllib.parse import unquote_to_bytes

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BODY_BYTES = 64 * 1024
DRAIN_BYTES, DRAIN_SECONDS = 1024 * 1024, 2.0  # how much of a refused body is read before the 413
# No inline script anywhere; scripts, styles and the dashboard's EventSource (connect-src) come from 'self'.
CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
# FastAPI's own /docs and /redoc pages load Swagger UI / ReDoc from a CDN and boot it with an inline script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)


class SecurityHeaders:
    """nosniff and no-referrer on every response; CSP and frame denial on HTML. A route's own headers win."""

    def __init__(self, app: ASGIApp, docs_paths: frozenset[str] = frozenset()):
        self.app, self.docs_paths = app, docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._add(MutableHeaders(scope=message), scope["path"])
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _add(self, headers: MutableHeaders, path: str) -> None:
        headers.setdefault("X-Content-Type-Options", "nosniff")
        # Tracking links carry their secret in the query string: no page may leak its URL to another site.
        headers.setdefault("Referrer-Policy", "no-referrer")
        if headers.get("content-type", "").startswith("text/html"):
            headers.setdefault("Content-Security-Policy", DOCS_CSP if path in self.docs_paths else CSP)
            headers.setdefault("X-Frame-Options", "DENY")


class BodyTooLarge(Exception):
    """Raised into the app from `receive` once the streamed body passes the limit."""


class BodySizeLimit:
    """413 for a body over `max_bytes`: by Content-Length up front, else by counting what actually arrives."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received, over, started = 0, False, False

        async def counting_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    over = True
                    raise BodyTooLarge(f"request body over {self.max_bytes} bytes")
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:  # whatever the app made of the cut-off body (a 400, a 500) is replaced by the 413
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._discard_rest(receive)
        response = JSONResponse(
            {"detail": f"request body larger than {self.max_bytes} bytes"},
            status_code=413,
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)

    @staticmethod
    async def _discard_rest(receive: Receive) -> None:
        """Read (a bounded amount of) what the client still sends, so it is listening when the 413 comes.

        Clients such as httpx send the whole body before reading an answer; closing on them mid-body
        turns the 413 into a connection reset. More than DRAIN_BYTES or DRAIN_SECONDS, and we close anyway.
        """
        drained = 0
        try:
            async with asyncio.timeout(DRAIN_SECONDS):
                while drained <= DRAIN_BYTES:
                    message = await receive()
                    if message["type"] != "http.request":
                        return
                    drained += len(message.get("body", b""))
                    if not message.get("more_body", False):
                        return
        except TimeoutError:
            return


# An escaped NUL in JSON: `\u0000` after an even number of backslashes (an odd number escapes the backslash).
JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


class NoNulCharacters:
    """422 for a NUL character anywhere in the path, query or body: PostgreSQL cannot store one (it would be a 500).

    The body is read whole before the app sees it; BodySizeLimit, outside this, keeps that bounded.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        where = self._nul_in(scope, body)
        if where:
            detail = [
                {"type": "nul_character", "loc": [where], "msg": "NUL characters are not accepted", "input": None}
            ]
            # FastAPI's own validation-error shape, so the answer matches the 422 every route documents.
            await JSONResponse({"detail": detail}, status_code=422)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    @staticmethod
    def _nul_in(scope: Scope, body: bytes) -> str | None:
        """Where a NUL is: path, query or body (raw, JSON-escaped, or percent-encoded in a form); else None."""
        if "\x00" in scope["path"]:
            return "path"
        if b"\x00" in unquote_to_bytes(scope["query_string"]):
            return "query"
        content_type = Headers(scope=scope).get("content-type", "")
        if (
            b"\x00" in body
            or ("json" in content_type and b"\\u0000" in body and JSON_NUL.search(body))
            or ("x-www-form-urlencoded" in content_type and b"\x00" in unquote_to_bytes(body))
        ):
            return "body"
        return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the already-read body once, then whatever the server sends next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
