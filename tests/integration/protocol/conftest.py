"""One protocol service per test module; tests keep apart by their own visits and days."""

import pytest
from aiokafka import AIOKafkaProducer

from services.protocol.config import Settings
from services.protocol.main import create_app
from tests.integration.protocol.running import ProtocolService
from tests.support import serve, unique


@pytest.fixture(scope="module")
async def protocol(new_database, kafka_bootstrap):
    settings = Settings(
        database_url=await new_database("protocol"), kafka_bootstrap=kafka_bootstrap, topic_prefix=unique() + "."
    )
    app = create_app(settings)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    async with serve(app) as client:
        await app.state.runtime.kafka_started.wait()
        await producer.start()
        try:
            yield ProtocolService(settings, client, producer)
        finally:
            await producer.stop()
