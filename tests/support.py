"""Helpers the integration and e2e tests share: real apps, real Kafka, real databases."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI

from shared.auth import mint_token
from shared.settings import ServiceSettings


def unique(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (producer, relay, consumer) and give an in-process client."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def bearer(settings: ServiceSettings, role: str, division: str | None = None, sub: str | None = None) -> dict:
    """Authorization header for a staff role, signed with the settings' development secret."""
    return {"Authorization": f"Bearer {mint_token(settings, role=role, division=division, sub=sub)}"}


async def read_topic(bootstrap: str, topic: str, *, count: int, timeout: float = 20.0, key: str | None = None) -> list:
    """Read records from the start of `topic` until `count` (matching `key`) arrived or time ran out."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    records = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(records) < count and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for tp_records in batch.values():
                records += [r for r in tp_records if key is None or r.key == key.encode()]
    finally:
        await consumer.stop()
    return records


def envelopes(records: list) -> list[dict]:
    return [json.loads(r.value) for r in records]


async def eventually(check, *, timeout: float = 20.0, interval: float = 0.1):
    """Poll an async `check` until it returns a truthy value; the last value or an AssertionError."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(interval)


async def create_database(postgres_url: str, name: str) -> str:
    """A new empty database on the session's server; returns its URL."""
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"
