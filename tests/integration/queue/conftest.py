"""One visits service over real HTTP for the queue tests; each test keeps to its own countries."""

from collections.abc import AsyncIterator

import pytest

from tests.integration.queue.live import LiveVisits, live_visits


@pytest.fixture(scope="session")
async def live(new_database, kafka_bootstrap) -> AsyncIterator[LiveVisits]:
    async with live_visits(await new_database("visits"), kafka_bootstrap) as service:
        yield service
