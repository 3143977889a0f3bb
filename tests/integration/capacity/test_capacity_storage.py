"""The capacity schema on PostgreSQL and SQLite: migrations match the models, SQLite serves the embedded mode."""

import asyncio
import uuid
from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from services.capacity import models, service
from services.capacity.config import Settings
from services.capacity.events import VisitAccepted
from services.capacity.models import Base, Division
from shared.db import make_engine, make_sessionmaker
from shared.migrations import downgrade, upgrade
from tests.integration.capacity.running import day_in, fresh_week

SEEDED = {
    "education": 6,
    "urban-environment": None,
    "culture-and-leisure": None,
    "social-services-health": None,
    "city-executive-office": None,
    "economic-development": None,
    "forum-virium": None,
    "business-hub": None,
    "international-affairs": None,
}


async def _schema_drift(url: str) -> list:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata))
    finally:
        await engine.dispose()


async def _divisions(url: str) -> dict:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            return {d.code: d.default_limit for d in await session.scalars(select(Division))}
    finally:
        await engine.dispose()


async def test_the_migrated_postgresql_schema_matches_the_models_and_seeds_the_nine_divisions(new_database):
    url = await new_database("capacity")
    assert await _schema_drift(url) == []
    assert await _divisions(url) == SEEDED


async def test_the_migrated_sqlite_schema_matches_the_models_and_goes_down_to_0001(tmp_path):
    url = f"sqlite:///{tmp_path / 'capacity.db'}"
    await asyncio.to_thread(upgrade, "capacity", url)
    assert await _schema_drift(url) == []
    assert await _divisions(url) == SEEDED
    await asyncio.to_thread(downgrade, "capacity", url, "0001")
    await asyncio.to_thread(upgrade, "capacity", url)
    assert await _divisions(url) == SEEDED


async def test_on_sqlite_racing_reservations_are_serialised_by_the_single_writer(tmp_path):
    url = f"sqlite:///{tmp_path / 'capacity.db'}"
    await asyncio.to_thread(upgrade, "capacity", url)
    settings = Settings(database_url=url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    week = fresh_week()

    async def reserve() -> None:
        visit = VisitAccepted(
            request_id=str(uuid.uuid4()), reference="VD-SQLITE", division="education", visit_date=day_in(week)
        )
        async with sessions() as session, session.begin():
            await service.reserve_week(session=session, settings=settings, visit=visit, at=datetime.now(UTC))

    try:
        await asyncio.gather(*(reserve() for _ in range(7)))
        async with sessions() as session:
            body = await service.week_capacity(session=session, division="education", iso_week=week)
            full = await session.scalar(
                select(func.count()).select_from(models.outbox).where(models.outbox.c.type == "capacity.week_full.v1")
            )
        assert (body.reserved, body.over_capacity, full) == (7, True, 1)
    finally:
        await engine.dispose()
