"""A visits service served over real HTTP (uvicorn on a free loopback port), and an SSE reader.

The stream never ends, so it cannot go through httpx's in-process ASGI transport, which waits for
the whole body: these tests, and the browser tests, talk to a real server instead.
"""

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy import update

from services.visits import jobs, models
from services.visits.config import Settings
from services.visits.main import create_app
from services.visits.schemas import helsinki_today
from shared.events import Envelope
from tests.builders import request_body
from tests.support import bearer, eventually, unique


def bound_socket() -> socket.socket:
    """A loopback socket on a free port, bound before the app is built (so its settings can name its address)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def serve_http(app: FastAPI, sock: socket.socket | None = None) -> AsyncIterator[str]:
    """Run `app` (lifespan on) with uvicorn in this event loop; yields its base URL."""
    sock = sock or bound_socket()
    # Open streams would hold a graceful shutdown forever: give them a second, then cancel.
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False, timeout_graceful_shutdown=1)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await eventually(lambda: _started(server, task), timeout=30, interval=0.05)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def _started(server: uvicorn.Server, task: asyncio.Task) -> bool:
    if task.done():
        raise RuntimeError(f"uvicorn stopped before it started: {task.exception()!r}")
    return server.started


@dataclass
class LiveVisits:
    """A visits service on a real port, with the helpers the queue tests keep needing."""

    app: FastAPI
    settings: Settings
    url: str
    client: httpx.AsyncClient

    def auth(self, role: str, division: str | None = None) -> dict:
        return bearer(self.settings, role, division, sub=f"{role}-{division or 'city'}")

    async def submit(self, **changes) -> dict:
        response = await self.client.post("/api/v1/requests", json=request_body(**changes))
        assert response.status_code == 201, response.text
        return response.json()

    async def decide(self, reference: str, division: str, **decision) -> dict:
        response = await self.client.post(
            f"/api/v1/requests/{reference}/decision", json=decision, headers=self.auth("division_officer", division)
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def queue(self, role: str = "communications", officer_of: str | None = None, **params) -> dict:
        response = await self.client.get("/api/v1/queue", params=params, headers=self.auth(role, officer_of))
        assert response.status_code == 200, response.text
        return response.json()

    async def escalate(self, reference: str) -> None:
        """Move the request's deadline into the past and run the service's own escalation once."""
        async with self.app.state.sessions() as session:
            await session.execute(
                update(models.VisitRequest)
                .where(models.VisitRequest.reference == reference)
                .values(decision_deadline=helsinki_today() - timedelta(days=2))
            )
            await session.commit()
            assert await jobs.escalate_overdue(session=session, settings=self.settings, now=datetime.now(UTC))

    async def publish_week_full(self, division: str, iso_week: str) -> None:
        """A capacity.week_full envelope on this service's topic, as the capacity service would send it."""
        key = f"{division}:{iso_week}"
        envelope = Envelope(
            type="capacity.week_full.v1",
            source="capacity",
            subject=key,
            data={"division": division, "iso_week": iso_week, "reserved": 6, "limit": 6},
        )
        producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(
                self.settings.topic("capacity.v1"), envelope.model_dump_json().encode(), key=key.encode()
            )
        finally:
            await producer.stop()


@asynccontextmanager
async def live_visits(database_url: str, kafka_bootstrap: str, **settings) -> AsyncIterator[LiveVisits]:
    """A visits app on PostgreSQL and Kafka, served over HTTP; ready once its stream is tailing the topic."""
    sock = bound_socket()
    config = Settings(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=unique() + ".",
        relay_poll_seconds=0.2,
        submit_rate_limit=100_000,
        public_base_url=f"http://127.0.0.1:{sock.getsockname()[1]}",
        **settings,
    )
    app = create_app(config)
    async with serve_http(app, sock) as url, httpx.AsyncClient(base_url=url, timeout=20) as client:
        await eventually(lambda: _tailing(app), timeout=30)
        yield LiveVisits(app=app, settings=config, url=url, client=client)


async def _tailing(app: FastAPI) -> bool:
    runtime = app.state.runtime
    consumer_ready = runtime.loop is not None and bool(runtime.loop.consumer.assignment())
    return consumer_ready and app.state.queue_stream.position is not None


async def sse_messages(response: httpx.Response) -> AsyncIterator[dict]:
    """Each SSE message as {"event", "id", "data"}; comments as {"comment": text}."""
    message: dict = {}
    async for line in response.aiter_lines():
        if line.startswith(":"):
            yield {"comment": line[1:].strip()}
        elif not line:
            if "event" in message or "data" in message:
                if "data" in message:
                    message["data"] = json.loads(message["data"])
                yield message
            message = {}
        else:
            field, _, value = line.partition(":")
            message[field] = value[1:] if value.startswith(" ") else value


async def next_message(
    messages: AsyncIterator[dict], *, event: str | None = None, timeout: float = 10.0, comments: bool = False
) -> dict:
    """The next message (of `event`, if given), skipping keep-alives unless `comments`."""

    async def find() -> dict:
        async for message in messages:
            if "comment" in message and not comments:
                continue
            if event is None or message.get("event") == event or ("comment" in message and comments):
                return message
        raise AssertionError("the stream ended")

    return await asyncio.wait_for(find(), timeout)
