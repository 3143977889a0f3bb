"""A fresh probe service (its own database, topic and consumer group) for each plumbing test."""

import pytest

from tests.integration.platform.probe import Probe
from tests.support import create_database, unique


@pytest.fixture
async def probe(kafka_bootstrap, postgres_url):
    p = Probe(kafka_bootstrap, await create_database(postgres_url, unique("vd_probe_")))
    await p.start()
    yield p
    await p.stop()
