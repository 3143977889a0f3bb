"""The queue's live stream opened with the page's staff session (no token): it ends when the session does."""

import asyncio
import re

import httpx

from services.visits import staff
from tests.integration.queue.live import live_visits, next_message, sse_messages


async def signed_in(client: httpx.AsyncClient, role: str = "communications") -> str:
    """Signs the client in on the development page; returns the CSRF token of its queue page."""
    page = await client.get("/auth/dev", params={"lang": "en"})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    await client.post("/auth/dev", data={"csrf_token": csrf, "next": "/queue", "role": role})
    queue = await client.get("/queue")
    assert queue.status_code == 200, queue.text
    return re.search(r'name="csrf_token" value="([^"]+)"', queue.text).group(1)


async def test_the_queue_stream_of_a_session_ends_once_it_signs_out(new_database, kafka_bootstrap):
    async with live_visits(await new_database("visits"), kafka_bootstrap) as live:
        live.app.state.queue_stream.keepalive_seconds = 0.3  # how often an open stream asks after its session
        async with httpx.AsyncClient(base_url=live.url, timeout=20) as browser:
            csrf = await signed_in(browser)
            async with browser.stream("GET", "/api/v1/queue/stream") as response:
                assert response.status_code == 200
                messages = sse_messages(response)
                await next_message(messages, event="ready")
                await next_message(messages, comments=True)  # still open, keeping alive
                out = await browser.post("/auth/signout", data={"csrf_token": csrf})
                assert out.status_code == 303
                remaining = await asyncio.wait_for(_rest(messages), timeout=10)  # the stream ends by itself
            assert all("comment" in m for m in remaining)
            again = await browser.get("/api/v1/queue/stream", headers=_the_old_cookie(browser, response))
            assert again.status_code == 401


async def _rest(messages) -> list[dict]:
    return [message async for message in messages]


def _the_old_cookie(browser: httpx.AsyncClient, response: httpx.Response) -> dict:
    """The session cookie the stream was opened with (sign-out cleared it from the client's jar)."""
    sent = response.request.headers["cookie"]
    value = re.search(rf"{staff.SESSION_COOKIE}=([^;]+)", sent).group(1)
    return {"Cookie": f"{staff.SESSION_COOKIE}={value}"}
