"""A service whose Kafka consumer can no longer fetch gets a new one and carries on (aio-libs/aiokafka#1038)."""

from services.visits import models
from tests.integration.visits.running import start_visits
from tests.support import eventually


async def test_a_consumer_whose_fetching_died_is_replaced_and_events_arrive_again(new_database, kafka_bootstrap):
    async with start_visits(await new_database("visits"), kafka_bootstrap) as visits:
        runtime = visits.app.state.runtime
        deaf = runtime.loop
        # After a broker restart under uvloop, aiokafka's fetch routine can end on an error it does not expect;
        # `getmany` then returns nothing for good and raises nothing. Ending the routine here does the same.
        deaf.consumer._fetcher._fetch_task.cancel()

        async def replaced():
            return runtime.loop is not deaf and bool(runtime.loop.consumer.assignment())

        await eventually(replaced, timeout=30)
        await visits.publish_capacity("capacity.week_full.v1", "education", "2030-W44")

        async def marked_full():
            return [w.iso_week for w in await visits.rows(models.FullWeek, models.FullWeek.iso_week == "2030-W44")]

        assert await eventually(marked_full, timeout=30) == ["2030-W44"]
