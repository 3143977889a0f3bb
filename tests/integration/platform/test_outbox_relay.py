"""The outbox relay against real PostgreSQL and Kafka."""

import asyncio

from shared.outbox import add_event
from shared.tracing import configure_tracing, tracer
from tests.integration.platform.probe import ProbeHappened, outbox
from tests.support import envelopes, read_topic, unique


async def _stage(probe, key: str, *notes: str, commit: bool = True) -> None:
    async with probe.sessions() as session:
        for note in notes:
            await add_event(session, outbox, ProbeHappened(note=note), source="probe", key=key, topic=probe.topic)
        await (session.commit() if commit else session.rollback())


async def test_a_rolled_back_transaction_publishes_nothing_and_a_committed_one_exactly_its_events(probe):
    relay = asyncio.create_task(probe.relay().run())
    try:
        rolled_back, committed = unique("req-"), unique("req-")
        await _stage(probe, rolled_back, "never", commit=False)
        await _stage(probe, committed, "first", "second")
        records = await read_topic(probe.bootstrap, probe.topic, count=3, timeout=8)
    finally:
        relay.cancel()
    assert [r.key.decode() for r in records] == [committed, committed]
    assert [e["data"]["note"] for e in envelopes(records)] == ["first", "second"]
    envelope = envelopes(records)[0]
    assert envelope["type"] == "probe.happened.v1" and envelope["specversion"] == "1.0"
    assert envelope["subject"] == committed and envelope["source"] == "probe"
    assert dict(records[0].headers)["traceparent"].decode().startswith("00-")


async def test_two_transactions_that_commit_out_of_order_are_both_published(probe):
    relay = asyncio.create_task(probe.relay().run())
    try:
        early, late = probe.sessions(), probe.sessions()
        await add_event(early, outbox, ProbeHappened(note="began first"), source="probe", key="k1", topic=probe.topic)
        await _stage(probe, "k2", "committed first")
        first = await read_topic(probe.bootstrap, probe.topic, count=1, timeout=8)
        await early.commit()
        await early.close()
        await late.close()
        records = await read_topic(probe.bootstrap, probe.topic, count=2, timeout=8)
    finally:
        relay.cancel()
    assert [e["data"]["note"] for e in envelopes(first)] == ["committed first"]
    assert sorted(e["data"]["note"] for e in envelopes(records)) == ["began first", "committed first"]


async def test_the_relay_wakes_promptly_after_a_commit_instead_of_waiting_for_its_poll(probe):
    relay = probe.relay()  # polls every 30 s: only the commit wake-up can make this quick
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.5)
        await _stage(probe, "k", "prompt")
        records = await read_topic(probe.bootstrap, probe.topic, count=1, timeout=10)
    finally:
        task.cancel()
    assert len(records) == 1


async def test_an_event_carries_the_trace_of_the_span_that_wrote_it(probe):
    configure_tracing("probe")
    relay = asyncio.create_task(probe.relay().run())
    try:
        with tracer.start_as_current_span("form submission") as span:
            await _stage(probe, "traced", "with context")
            trace_id = format(span.get_span_context().trace_id, "032x")
        records = await read_topic(probe.bootstrap, probe.topic, count=1, timeout=8)
    finally:
        relay.cancel()
    assert dict(records[0].headers)["traceparent"].decode().split("-")[1] == trace_id
