"""Every service's migrations go up and down on PostgreSQL and SQLite."""

import asyncio
import os
import subprocess
import sys

import asyncpg
import pytest
from sqlalchemy import create_engine, inspect

from shared.migrations import downgrade, upgrade
from tests.support import create_database, unique
from visitdesk import SERVICES


def _tables(sync_url: str) -> set[str]:
    engine = create_engine(sync_url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_go_up_down_and_up_again_on_postgresql(service, postgres_url):
    url = await create_database(postgres_url, unique(f"vd_mig_{service}_"))
    await asyncio.to_thread(upgrade, service, url)
    assert {"outbox", "processed_events"} <= await _pg_tables(url)
    await asyncio.to_thread(downgrade, service, url)
    assert await _pg_tables(url) == set()
    await asyncio.to_thread(upgrade, service, url)
    assert {"outbox", "processed_events"} <= await _pg_tables(url)


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_go_up_down_and_up_again_on_sqlite(service, tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    await asyncio.to_thread(upgrade, service, url)
    assert {"outbox", "processed_events"} <= _tables(url)
    await asyncio.to_thread(downgrade, service, url)
    assert _tables(url) == set()
    await asyncio.to_thread(upgrade, service, url)
    assert {"outbox", "processed_events"} <= _tables(url)


async def _pg_tables(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    return {r["tablename"] for r in rows} - {"alembic_version"}


def test_the_migrate_command_needs_only_the_database_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'visits.sqlite'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VISITS_", "VISITDESK_"))}
    result = subprocess.run(
        [sys.executable, "-m", "visitdesk.cli", "migrate", "visits"],
        env={**env, "VISITS_DATABASE_URL": url, "VISITDESK_ENVIRONMENT": "production"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert {"outbox", "requests"} <= _tables(url)
