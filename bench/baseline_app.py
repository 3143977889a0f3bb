"""The yardstick for intake: a bare FastAPI endpoint storing one row, on the same stack as the visits service.

Same FastAPI, uvicorn, SQLAlchemy async engine (shared.db.make_engine: asyncpg, same pool), same PostgreSQL;
no validation, no routing, no audit, no outbox. `uvicorn --factory bench.baseline_app:create_app`
with BASELINE_DATABASE_URL set.
"""

import os
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from sqlalchemy import JSON, Column, DateTime, MetaData, String, Table, text
from sqlalchemy.ext.asyncio import async_sessionmaker

from shared.db import make_engine

metadata = MetaData()
submissions = Table(
    "baseline_submissions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("body", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def create_app() -> FastAPI:
    """The app; its one table is created at start (a benchmark fixture, not a service)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = make_engine(os.environ["BASELINE_DATABASE_URL"])
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        app.state.sessions = async_sessionmaker(engine, expire_on_commit=False)
        yield
        await engine.dispose()

    app = FastAPI(title="bench baseline", lifespan=lifespan)

    @app.post("/submit", status_code=201)
    async def submit(body: dict, request: Request) -> dict:
        """Store the body as one row in its own transaction."""
        row_id = str(uuid.uuid4())
        async with request.app.state.sessions() as session:
            await session.execute(submissions.insert().values(id=row_id, body=body, created_at=datetime.now(UTC)))
            await session.commit()
        return {"id": row_id}

    @app.get("/healthz")
    async def healthy() -> dict:
        return {"ok": True}

    @app.get("/readyz")
    async def ready(request: Request) -> dict:
        async with request.app.state.sessions() as session:
            await session.execute(text("SELECT 1"))
        return {"ok": True}

    return app
