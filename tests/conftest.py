"""Session-wide real infrastructure: one Kafka broker, one PostgreSQL server and one Keycloak for every test."""

import asyncio
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from shared.migrations import upgrade
from tests.support import create_database

ROOT = Path(__file__).resolve().parent.parent


def _start(script: str) -> str:
    """Start (or reuse) a local server with the project's own script; it prints the address."""
    result = subprocess.run([str(ROOT / "deploy" / script), "start"], capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"deploy/{script} start failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return os.environ.get("VISITDESK_TEST_KAFKA") or _start("kafka.sh")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return os.environ.get("DATABASE_URL") or _start("postgres.sh")


@pytest.fixture(scope="session")
def keycloak_issuer() -> str:
    """The issuer of the test realm (deploy/keycloak/visitdesk-realm.json) on the local Keycloak."""
    return os.environ.get("VISITDESK_TEST_KEYCLOAK") or _start("keycloak.sh")


@pytest.fixture(scope="session")
def new_database(postgres_url):
    """`await new_database("visits")` gives a fresh database migrated to head."""

    async def create(service: str, *, migrate: bool = True) -> str:
        url = await create_database(postgres_url, f"vd_{service}_{uuid.uuid4().hex[:8]}")
        if migrate:
            await asyncio.to_thread(upgrade, service, url)
        return url

    return create
