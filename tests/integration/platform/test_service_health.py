"""Each service starts, reports health honestly, and refuses to start on bad settings."""

import asyncio
import gc
import importlib
import os
import re
import subprocess
import sys

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from shared.migrations import upgrade
from tests.support import eventually, serve, unique
from visitdesk import SERVICES


def _app(service: str, **settings):
    module = importlib.import_module(f"services.{service}.main")
    config = importlib.import_module(f"services.{service}.config")
    return module.create_app(config.Settings(**settings))


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_is_ready_when_its_database_and_kafka_answer(service, new_database, kafka_bootstrap):
    app = _app(
        service, database_url=await new_database(service), kafka_bootstrap=kafka_bootstrap, topic_prefix=f"{unique()}."
    )
    async with serve(app) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}

        async def ready():
            response = await client.get("/readyz")
            return response if response.status_code == 200 else None

        assert (await eventually(ready, timeout=20)).json()["checks"] == {"database": True, "kafka": True}
        metrics = await client.get("/metrics")
        # Timed by route template and status, once the answer started.
        assert re.search(
            r'visitdesk_http_request_seconds_count\{method="GET",route="/readyz",service="'
            + service
            + r'",status="200"\} [1-9]',
            metrics.text,
        ), metrics.text[:2000]


async def test_readiness_asks_kafka_about_the_services_own_topic_only_and_never_creates_it(
    new_database, kafka_bootstrap
):
    prefix = f"{unique()}."
    app = _app(
        "protocol", database_url=await new_database("protocol"), kafka_bootstrap=kafka_bootstrap, topic_prefix=prefix
    )
    own_topic = f"{prefix}protocol.v1"
    async with serve(app) as client:

        async def readiness(expected: int):
            response = await client.get("/readyz")
            return response if response.status_code == expected else None

        await eventually(lambda: readiness(200), timeout=20)
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([own_topic])
            # The other topics of this prefix stay: only the own topic's absence can make it unready.
            response = await eventually(lambda: readiness(503), timeout=20)
            assert response.json()["checks"] == {"database": True, "kafka": False}
            for _ in range(3):  # the test broker auto-creates a topic asked about: the check must not ask that
                await client.get("/readyz")
                await asyncio.sleep(1)
                assert own_topic not in await admin.list_topics()
            assert f"{prefix}visits.v1" in await admin.list_topics()
        finally:
            await admin.close()


@pytest.mark.parametrize("service", SERVICES)
async def test_an_unreachable_kafka_fails_readiness_but_the_process_stays_up(service, tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    await asyncio.to_thread(upgrade, service, url)
    app = _app(service, database_url=url, kafka_bootstrap="127.0.0.1:1")
    async with serve(app) as client:
        await asyncio.sleep(0.5)
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"] == {"database": True, "kafka": False}
        assert (await client.get("/healthz")).status_code == 200


async def test_a_started_service_keeps_what_start_up_built_out_of_the_garbage_collectors_scans(tmp_path):
    # Full collections under load scanned every start-up object and paused a service 150-200 ms (bench/README.md).
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    await asyncio.to_thread(upgrade, "capacity", url)
    async with serve(_app("capacity", database_url=url, kafka_bootstrap="127.0.0.1:1")) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert gc.get_freeze_count() > 10_000


def test_a_missing_setting_stops_the_service_with_one_line_naming_it():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VISITS_", "VISITDESK_"))}
    result = subprocess.run(
        [sys.executable, "-c", "from services.visits.main import create_app; create_app()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == ["visitdesk: setting VISITS_DATABASE_URL: Field required"]


def test_production_mode_without_an_oidc_provider_refuses_to_start():
    env = {**os.environ, "VISITS_DATABASE_URL": "sqlite:///unused.db", "VISITDESK_ENVIRONMENT": "production"}
    env.pop("VISITDESK_OIDC_ISSUER", None)
    result = subprocess.run(
        [sys.executable, "-c", "from services.visits.main import create_app; create_app()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "VISITDESK_OIDC_ISSUER" in result.stderr


async def test_an_unreachable_database_fails_readiness_and_the_relay_keeps_retrying(kafka_bootstrap):
    app = _app(
        "visits",
        database_url="postgresql://nobody@127.0.0.1:1/none",
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=f"{unique()}.",
    )
    async with serve(app) as client:

        async def relay_failed_at_least_once():
            return app.state.runtime.kafka_started.is_set() and not app.state.runtime.relay.healthy

        await eventually(relay_failed_at_least_once, timeout=20)
        response = await client.get("/readyz")
        assert response.status_code == 503 and response.json()["checks"]["database"] is False
        assert (await client.get("/healthz")).status_code == 200
        assert not app.state.runtime.relay_task.done()  # still running, retrying
