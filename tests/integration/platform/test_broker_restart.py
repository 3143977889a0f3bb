"""The broker stopped and restarted while the relay publishes: every event arrives, none twice in effect."""

import asyncio
import os
import subprocess

from shared.outbox import add_event
from tests.integration.platform.probe import Probe, ProbeHappened, outbox
from tests.support import create_database, eventually, unique

KAFKA = ["deploy/kafka.sh"]


async def _kafka(command: str, env: dict) -> str:
    result = await asyncio.to_thread(subprocess.run, [*KAFKA, command], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


async def test_a_broker_restart_while_the_relay_publishes_loses_and_duplicates_nothing(postgres_url, tmp_path):
    env = {**os.environ, "VISITDESK_VAR": str(tmp_path / "var")}  # a broker of its own, not the session's
    bootstrap = await _kafka("start", env)
    probe = Probe(bootstrap, await create_database(postgres_url, unique("vd_restart_")))
    await probe.start()
    relay = asyncio.create_task(probe.relay().run())
    notes = [f"event-{i}" for i in range(60)]
    try:
        for i, note in enumerate(notes):
            if i == 20:
                await _kafka("stop", env)
            if i == 40:
                assert await _kafka("start", env) == bootstrap
            async with probe.sessions() as session:
                await add_event(
                    session, outbox, ProbeHappened(note=note), source="probe", key=f"k{i % 5}", topic=probe.topic
                )
                await session.commit()
            await asyncio.sleep(0.02)
        loop = probe.loop()
        await loop.consumer.start()
        consuming = asyncio.create_task(loop.run())

        async def all_handled():
            return await probe.effect_count() >= len(notes)

        await eventually(all_handled, timeout=90)
        await asyncio.sleep(0.5)
        consuming.cancel()
        await asyncio.gather(consuming, return_exceptions=True)
        await loop.consumer.stop()
        assert sorted(await probe.effect_notes()) == sorted(notes)
    finally:
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)
        await probe.stop()
        await _kafka("stop", env)
