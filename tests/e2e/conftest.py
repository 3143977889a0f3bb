"""The whole city in one event loop: four real services on PostgreSQL and Kafka, and a real SMTP server."""

import importlib
import subprocess
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from shared.settings import ServiceSettings
from tests.e2e.city import City
from tests.support import serve, unique
from visitdesk import SERVICES
from visitdesk.mailsink import mailsink

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium, installed by the project's own script if missing; never a Playwright download."""
    result = subprocess.run([str(ROOT / "deploy" / "browser.sh")], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"deploy/browser.sh failed:\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def axe() -> Path:
    """axe-core's script, installed from tests/e2e/axe's lock by npm the first time."""
    package = ROOT / "tests" / "e2e" / "axe"
    script = package / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        command = ["npm", "ci", "--prefix", str(package), "--ignore-scripts", "--no-audit", "--no-fund"]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            pytest.fail(f"npm ci for axe-core failed:\n{result.stderr}")
    return script


def _settings(service: str, **values) -> ServiceSettings:
    return importlib.import_module(f"services.{service}.config").Settings(**values)


@pytest.fixture(scope="module")
async def city(kafka_bootstrap, new_database, tmp_path_factory):
    """Started once per test module; tests keep apart by their own requests and references."""
    prefix = f"{unique()}."
    async with mailsink(tmp_path_factory.mktemp("mail")) as sink, AsyncExitStack() as stack:
        common = {"kafka_bootstrap": kafka_bootstrap, "topic_prefix": prefix, "public_base_url": "http://testserver"}
        extra = {
            "notifications": {
                "smtp_host": sink.host,
                "smtp_port": sink.port,
                "retry_base_seconds": 0.2,
                "dispatcher_poll_seconds": 0.2,
            }
        }
        settings = {s: _settings(s, database_url=await new_database(s), **common, **extra.get(s, {})) for s in SERVICES}
        apps = {
            service: importlib.import_module(f"services.{service}.main").create_app(service_settings)
            for service, service_settings in settings.items()
        }
        clients = {service: await stack.enter_async_context(serve(app)) for service, app in apps.items()}
        yield City(apps, clients, settings, sink, prefix)
