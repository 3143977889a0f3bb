"""The visits service most of the room shares; tests use their own organisations, countries and weeks so they
do not see each other's rows."""

from collections.abc import AsyncIterator

import pytest

from tests.integration.visits.running import Visits, start_visits


@pytest.fixture(scope="session")
async def visits(new_database, kafka_bootstrap) -> AsyncIterator[Visits]:
    async with start_visits(await new_database("visits"), kafka_bootstrap, submit_rate_limit=100_000) as service:
        yield service
