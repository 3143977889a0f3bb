"""The consumer loop against real PostgreSQL and Kafka: idempotence, dead letters, crash safety."""

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import text

from shared.events import Envelope
from shared.logs import configure_logging
from tests.integration.platform.probe import ProbeHappened, record_effect
from tests.support import eventually, read_topic


async def _send(probe, envelope: Envelope | bytes, key: str = "req-1") -> None:
    value = envelope if isinstance(envelope, bytes) else envelope.model_dump_json().encode()
    await probe.producer.send_and_wait(probe.topic, value=value, key=key.encode())


def _probe_event(note: str) -> Envelope:
    return Envelope.wrap(ProbeHappened(note=note), source="test", subject="req-1")


async def _run_until(probe, loop, notes: list[str]):
    task = asyncio.create_task(loop.run())
    try:

        async def arrived():
            return await probe.effect_notes() if len(await probe.effect_notes()) >= len(notes) else None

        await eventually(arrived, timeout=20)
        await asyncio.sleep(0.3)  # room for a wrongful second effect to show up
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await loop.consumer.stop()


@pytest.mark.parametrize("events_per_transaction", [20, 1])  # twice in one run, and in two transactions
async def test_the_same_event_delivered_twice_has_one_effect(probe, events_per_transaction):
    event = _probe_event("once")
    await _send(probe, event)
    await _send(probe, event)
    await _send(probe, _probe_event("marker"))
    loop = probe.loop(events_per_transaction=events_per_transaction)
    await loop.consumer.start()
    await _run_until(probe, loop, ["once", "marker"])
    assert await probe.effect_notes() == ["once", "marker"]


async def test_an_undecodable_message_goes_to_the_dlq_and_the_next_one_is_still_handled(probe):
    await _send(probe, b"{not json")
    await _send(probe, _probe_event("after garbage"))
    loop = probe.loop()
    await loop.consumer.start()
    await _run_until(probe, loop, ["after garbage"])
    dead = await read_topic(probe.bootstrap, f"{probe.topic}.dlq", count=1, timeout=10)
    assert await probe.effect_notes() == ["after garbage"]
    assert dead[0].value == b"{not json"
    headers = dict(dead[0].headers)
    assert headers["dlq.origin.topic"].decode() == probe.topic
    assert headers["dlq.origin.offset"] == b"0"
    assert b"undecodable" in headers["dlq.error"]


async def test_a_handler_that_keeps_failing_is_dead_lettered_after_retries_and_the_partition_moves_on(probe):
    await _send(probe, _probe_event("boom"))
    await _send(probe, _probe_event("fine"))
    loop = probe.loop(max_attempts=3)
    await loop.consumer.start()
    await _run_until(probe, loop, ["fine"])
    dead = await read_topic(probe.bootstrap, f"{probe.topic}.dlq", count=1, timeout=10)
    assert b"failed 3 times" in dict(dead[0].headers)["dlq.error"]
    assert await probe.effect_notes() == ["fine"]


async def test_a_consumer_killed_after_its_transaction_but_before_its_offset_commit_has_one_effect(probe):
    await _send(probe, _probe_event("survives a crash"))
    # The first consumer handles the event (its transaction commits) and dies before committing the offset.
    doomed = AIOKafkaConsumer(
        probe.topic,
        bootstrap_servers=probe.bootstrap,
        group_id=probe.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await doomed.start()
    record = await read_one(doomed)
    await probe.loop(consumer=doomed).handle(record)
    await doomed.stop()
    assert await probe.effect_notes() == ["survives a crash"]
    # The restarted consumer in the same group gets the event again.
    await _send(probe, _probe_event("next"))
    loop = probe.loop()
    await loop.consumer.start()
    await _run_until(probe, loop, ["survives a crash", "next"])
    assert await probe.effect_notes() == ["survives a crash", "next"]
    assert len(await read_topic(probe.bootstrap, probe.topic, count=2)) == 2


async def read_one(consumer: AIOKafkaConsumer):
    batch = {}
    while not batch:
        batch = await consumer.getmany(timeout_ms=500, max_records=1)
    return next(iter(batch.values()))[0]


async def test_partitions_of_a_batch_are_handled_side_by_side_and_each_keeps_its_order(probe):
    # The first event of each partition waits for the other's: handled one partition after the other,
    # neither could get past its barrier, and both would be recorded as "alone".
    barrier = asyncio.Barrier(2)

    async def meet_then_record(session, envelope: Envelope) -> None:
        note = envelope.parse(ProbeHappened).note
        if note.endswith("-1"):
            try:
                await asyncio.wait_for(barrier.wait(), 5)
            except (TimeoutError, asyncio.BrokenBarrierError):
                note += " alone"
        await record_effect(session, Envelope.wrap(ProbeHappened(note=note), source="test", subject="x"))

    for partition, side in ((0, "a"), (1, "b")):
        for n in (1, 2, 3):
            await probe.producer.send_and_wait(
                probe.topic,
                value=_probe_event(f"{side}-{n}").model_dump_json().encode(),
                key=side.encode(),
                partition=partition,
            )
    loop = probe.loop(concurrency=4)
    loop.handlers = {ProbeHappened.type: meet_then_record}
    await loop.consumer.start()
    await _run_until(probe, loop, ["a-1", "a-2", "a-3", "b-1", "b-2", "b-3"])
    notes = await probe.effect_notes()
    assert sorted(notes) == ["a-1", "a-2", "a-3", "b-1", "b-2", "b-3"]
    assert [n for n in notes if n.startswith("a")] == ["a-1", "a-2", "a-3"]
    assert [n for n in notes if n.startswith("b")] == ["b-1", "b-2", "b-3"]


async def _note_transaction(session, envelope: Envelope) -> None:
    """Records which PostgreSQL transaction handled the event."""
    txid = await session.scalar(text("SELECT txid_current()"))
    note = envelope.parse(ProbeHappened).note
    await record_effect(session, Envelope.wrap(ProbeHappened(note=f"{note}@{txid}"), source="test", subject="x"))


@pytest.mark.parametrize(("events_per_transaction", "transactions"), [(20, 1), (1, 5)])
async def test_a_fetched_run_of_one_partitions_events_shares_one_transaction_in_order(
    probe, events_per_transaction, transactions
):
    for n in range(5):  # all on the broker before the loop starts: one fetch brings them
        await _send(probe, _probe_event(f"e{n}"))
    loop = probe.loop(events_per_transaction=events_per_transaction)
    loop.handlers = {ProbeHappened.type: _note_transaction}
    await loop.consumer.start()
    await _run_until(probe, loop, [f"e{n}" for n in range(5)])
    notes = [n.split("@") for n in await probe.effect_notes()]
    assert [note for note, _ in notes] == ["e0", "e1", "e2", "e3", "e4"]
    assert len({txid for _, txid in notes}) == transactions


async def test_a_failing_event_in_a_run_costs_only_itself_and_the_others_take_effect_once(probe):
    for note in ("before", "boom", "after"):
        await _send(probe, _probe_event(note))
    loop = probe.loop(max_attempts=2, events_per_transaction=20)
    await loop.consumer.start()
    await _run_until(probe, loop, ["before", "after"])
    dead = await read_topic(probe.bootstrap, f"{probe.topic}.dlq", count=2, timeout=5)
    assert [dict(d.headers)["dlq.origin.offset"] for d in dead] == [b"1"]
    assert await probe.effect_notes() == ["before", "after"]


async def test_an_event_that_fails_validation_is_logged_and_dead_lettered_without_its_data(probe, capsys):
    # In a run of events, a handler's parse fails on one carrying personal data: the log of the failed run and
    # the DLQ name the field, not the data.
    secret = "liisa.secret@example.ee"
    bad = Envelope(type="probe.happened.v1", source="test", subject="req-1", data={"contact_email": secret})
    await _send(probe, bad)
    await _send(probe, _probe_event("fine"))
    try:
        configure_logging("INFO")
        loop = probe.loop(max_attempts=2, events_per_transaction=20)
        await loop.consumer.start()
        await _run_until(probe, loop, ["fine"])
        output = capsys.readouterr().out
    finally:
        with capsys.disabled():
            configure_logging("INFO")
    dead = await read_topic(probe.bootstrap, f"{probe.topic}.dlq", count=1, timeout=10)
    reason = dict(dead[0].headers)["dlq.error"].decode()
    assert "note: Field required" in reason and secret not in reason
    assert '"event": "consumer.run_failed"' in output and "note: Field required" in output
    assert secret not in output
