"""A submission whose answer is lost on the way back, retried as a browser or client would: stored once?

The deterministic form of what the fault suite sees when visits is killed between its commit and its
answer. The retry carries the same Idempotency-Key, so visits answers it with the first submission's
reference instead of storing a second request.
"""

import asyncio
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn

from services.visits.config import Settings
from services.visits.main import create_app
from tests.faults.proxy import TcpProxy
from tests.faults.workload import new_submission, staff_headers
from tests.support import unique


@asynccontextmanager
async def visits_behind_a_proxy(settings: Settings):
    """The real visits app on a real socket (uvicorn, lifespan and all), reached through a TcpProxy."""
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "uvicorn stopped while starting"
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    proxy = await TcpProxy(lambda: ("127.0.0.1", port)).start()
    try:
        yield proxy
    finally:
        await proxy.stop()
        server.should_exit = True
        await serving


async def test_a_submission_retried_after_its_answer_was_lost_is_stored_once(new_database, kafka_bootstrap):
    settings = Settings(
        database_url=await new_database("visits"), kafka_bootstrap=kafka_bootstrap, topic_prefix=unique() + "."
    )
    submission = new_submission(unique(), "lost-answer", 1, accept=False)
    headers = {"Idempotency-Key": submission.idempotency_key}
    async with visits_behind_a_proxy(settings) as proxy:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{proxy.port}", timeout=30) as client:
            proxy.answers_to_lose = 1
            with pytest.raises(httpx.RemoteProtocolError):
                await client.post("/api/v1/requests", json=submission.payload, headers=headers)
            retry = await client.post("/api/v1/requests", json=submission.payload, headers=headers)
            assert retry.status_code in (200, 201)
            listing = await client.get("/api/v1/requests", params={"limit": 200}, headers=staff_headers("admin"))
    stored = [item["reference"] for item in listing.json()["items"] if item["organisation"] == submission.marker]
    assert stored == [retry.json()["reference"]]
