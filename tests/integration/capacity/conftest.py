"""One capacity service serves the whole room; each test takes fresh weeks and request ids from it, so tests do
not see each other's counts."""

from contextlib import AsyncExitStack

import pytest

from tests.integration.capacity.running import start_capacity


@pytest.fixture(scope="package")
async def capacity(new_database, kafka_bootstrap):
    async with AsyncExitStack() as stack:
        yield await start_capacity(stack, new_database=new_database, kafka_bootstrap=kafka_bootstrap)
