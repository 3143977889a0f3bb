"""Security headers and the body limit as install_platform wires them, on a small app; no I/O."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import Body, FastAPI
from fastapi.responses import HTMLResponse, StreamingResponse

from shared.auth import public
from shared.security import CSP, DOCS_CSP, BodySizeLimit
from shared.settings import ServiceSettings
from shared.web import install_platform

LIMIT = 1024


class ProbeSettings(ServiceSettings):
    max_body_bytes: int = LIMIT


def probe_app() -> tuple[FastAPI, list]:
    """An app with an HTML page, a page with its own CSP, a JSON echo, an event stream; `calls` records bodies seen."""
    app, calls = FastAPI(), []
    app.state.settings = ProbeSettings(database_url="unused")
    install_platform(app, "probe")

    @app.get("/page", dependencies=[public()], response_class=HTMLResponse)
    async def page() -> str:
        return "<!doctype html><title>probe</title>"

    @app.get("/strict", dependencies=[public()])
    async def strict() -> HTMLResponse:
        return HTMLResponse("<p>strict</p>", headers={"Content-Security-Policy": "default-src 'none'"})

    @app.post("/echo", dependencies=[public()])
    async def echo(payload: dict = Body()) -> dict:
        calls.append(payload)
        return {"size": len(str(payload))}

    @app.get("/stream", dependencies=[public()])
    async def stream() -> StreamingResponse:
        async def events() -> AsyncIterator[bytes]:
            for n in range(3):
                yield f"data: {n}\n\n".encode()

        return StreamingResponse(events(), media_type="text/event-stream")

    return app, calls


def client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_an_html_page_gets_csp_frame_denial_nosniff_and_no_referrer():
    app, _ = probe_app()
    async with client(app) as http:
        response = await http.get("/page")
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_the_page_policy_allows_same_origin_scripts_and_event_streams_but_no_inline_script():
    directives = dict(part.strip().split(" ", 1) for part in CSP.split(";"))
    assert directives["default-src"] == "'self'"  # scripts and EventSource (connect-src) fall back to it
    assert "unsafe-inline" not in CSP and "script-src" not in directives
    assert directives["frame-ancestors"] == "'none'" and directives["base-uri"] == "'none'"
    assert directives["form-action"] == "'self'"


async def test_a_json_response_gets_nosniff_but_no_page_policy():
    app, _ = probe_app()
    async with client(app) as http:
        response = await http.get("/healthz")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in response.headers


async def test_a_page_that_sets_its_own_stricter_policy_keeps_it():
    app, _ = probe_app()
    async with client(app) as http:
        response = await http.get("/strict")
    assert response.headers["content-security-policy"] == "default-src 'none'"
    assert response.headers["x-frame-options"] == "DENY"


async def test_the_api_docs_page_gets_the_docs_policy_and_still_cannot_be_framed():
    app, _ = probe_app()
    async with client(app) as http:
        docs, redoc = await http.get("/docs"), await http.get("/redoc")
    assert docs.headers["content-security-policy"] == DOCS_CSP == redoc.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in DOCS_CSP and docs.headers["x-frame-options"] == "DENY"


async def test_an_event_stream_passes_through_whole_with_nosniff():
    app, _ = probe_app()
    async with client(app) as http:
        response = await http.get("/stream")
    assert response.text == "data: 0\n\ndata: 1\n\ndata: 2\n\n"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_body_over_the_declared_limit_is_refused_with_413_before_the_route_runs():
    app, calls = probe_app()
    async with client(app) as http:
        response = await http.post("/echo", json={"text": "x" * LIMIT})
    assert response.status_code == 413
    assert response.headers["x-content-type-options"] == "nosniff"
    assert calls == []


async def test_a_body_exactly_at_the_limit_is_accepted():
    app, calls = probe_app()
    body = b'{"text": "' + b"x" * (LIMIT - 12) + b'"}'
    assert len(body) == LIMIT
    async with client(app) as http:
        response = await http.post("/echo", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200 and len(calls) == 1


async def test_a_chunked_body_without_content_length_is_counted_as_it_streams():
    app, calls = probe_app()

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        for _ in range(8):
            yield b"x" * 256
        yield b'"}'

    async with client(app) as http:
        response = await http.post("/echo", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert calls == []


async def run_asgi(app, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> list[dict]:
    """Drive an ASGI app by hand, the way a server would, and collect what it sends."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/echo",
        "raw_path": b"/echo",
        "query_string": b"",
        "headers": headers,
        "http_version": "1.1",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
        "root_path": "",
    }
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def test_a_body_that_lies_about_its_length_is_still_cut_at_the_limit():
    app, calls = probe_app()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"20")]
    sent = await run_asgi(app, headers, [b'{"text": "', b"x" * LIMIT, b'"}'])
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert calls == []


@pytest.mark.parametrize("swallow", [True, False], ids=["app-catches-the-error", "app-lets-it-escape"])
async def test_the_413_replaces_whatever_the_app_made_of_the_cut_off_body(swallow):
    async def app(scope, receive, send):
        try:
            while (await receive()).get("more_body"):
                pass
        except Exception:
            if not swallow:
                raise
        await send({"type": "http.response.start", "status": 400, "headers": []})
        await send({"type": "http.response.body", "body": b"bad body"})

    sent = await run_asgi(BodySizeLimit(app, max_bytes=10), [], [b"x" * 6, b"x" * 6])
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [413]


@pytest.mark.parametrize(
    ("where", "request_args"),
    [
        ("path", {"url": "/echo%00"}),
        ("query", {"url": "/echo?note=a%00b"}),
        (
            "body",
            {"url": "/echo", "content": b'{"text": "a\\u0000b"}', "headers": {"content-type": "application/json"}},
        ),
        (
            "body",
            {"url": "/echo", "content": b'{"text": "a\\\\\\u0000"}', "headers": {"content-type": "application/json"}},
        ),
        (
            "body",
            {
                "url": "/echo",
                "content": b"text=a%00b",
                "headers": {"content-type": "application/x-www-form-urlencoded"},
            },
        ),
        ("body", {"url": "/echo", "content": b"a\x00b", "headers": {"content-type": "text/plain"}}),
    ],
    ids=["path", "query", "json-escape", "json-escape-after-escaped-backslash", "form", "raw"],
)
async def test_a_nul_character_anywhere_in_the_request_is_a_422_before_the_route_runs(where, request_args):
    app, calls = probe_app()
    async with client(app) as http:
        response = await http.post(**request_args)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == [where]
    assert calls == []


async def test_an_escaped_backslash_before_u0000_is_text_and_reaches_the_route_unchanged():
    app, calls = probe_app()
    body = b'{"text": "C:\\\\u0000 and 100%00"}'
    async with client(app) as http:
        response = await http.post("/echo", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert calls == [{"text": "C:\\u0000 and 100%00"}]
