"""Notifications scaled out: replicas share the partitions, and a SIGTERM mid-stream loses nothing."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from contextlib import AsyncExitStack

from aiokafka import AIOKafkaProducer

from services.notifications.config import Settings
from services.notifications.main import create_app
from tests.integration.notifications.running import visit_envelope
from tests.support import eventually, serve, unique
from visitdesk.mailsink import mailsink


def receipts(sink, prefix: str) -> list[str]:
    """References of the delegation receipts that arrived for this test's requests."""
    return [m["Subject"].rsplit(" ", 1)[-1] for m in sink.messages() if prefix in m["Subject"]]


async def produce_submissions(bootstrap: str, topic: str, prefix: str, count: int, pause: float = 0.0) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for i in range(count):
            envelope = visit_envelope(
                "visit.submitted.v1",
                reference=f"{prefix}-{i:04d}",
                language="en",
                contact_email=f"{prefix.lower()}-{i}@example.org",
            )
            await producer.send_and_wait(topic, json.dumps(envelope).encode(), key=envelope["subject"].encode())
            await asyncio.sleep(pause)
    finally:
        await producer.stop()


async def test_two_replicas_in_one_group_split_the_partitions_and_deliver_every_message_once(
    kafka_bootstrap, new_database, tmp_path
):
    prefix, tag = f"{unique()}.", unique("R").upper()
    async with mailsink(tmp_path) as sink, AsyncExitStack() as stack:
        settings = Settings(
            database_url=await new_database("notifications"),
            kafka_bootstrap=kafka_bootstrap,
            topic_prefix=prefix,
            smtp_host=sink.host,
            smtp_port=sink.port,
            dispatcher_poll_seconds=0.2,
        )
        apps = [create_app(settings), create_app(settings)]
        for app in apps:
            await stack.enter_async_context(serve(app))

        async def both_assigned():
            consumers = [app.state.runtime.consumer for app in apps]
            return all(c is not None and c.assignment() for c in consumers)

        await eventually(both_assigned, timeout=40)
        shares = [{(tp.topic, tp.partition) for tp in app.state.runtime.consumer.assignment()} for app in apps]
        assert shares[0].isdisjoint(shares[1]) and len(shares[0] | shares[1]) == 9  # 3 topics x 3 partitions
        await produce_submissions(kafka_bootstrap, settings.topic("visits.v1"), tag, 30)
        await eventually(lambda: _at_least(receipts(sink, tag), 30), timeout=60)
        await asyncio.sleep(1)
        assert sorted(receipts(sink, tag)) == sorted(f"{tag}-{i:04d}" for i in range(30))
        handled = [app.state.runtime.loop.handled_count for app in apps]
        assert all(count > 0 for count in handled), handled


async def test_a_sigterm_mid_stream_loses_nothing(kafka_bootstrap, new_database, tmp_path):
    prefix, tag = f"{unique()}.", unique("S").upper()
    database_url = await new_database("notifications")
    async with mailsink(tmp_path) as sink:
        env = {
            **os.environ,
            "NOTIFICATIONS_DATABASE_URL": database_url,
            "VISITDESK_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "VISITDESK_TOPIC_PREFIX": prefix,
            "NOTIFICATIONS_SMTP_HOST": sink.host,
            "NOTIFICATIONS_SMTP_PORT": str(sink.port),
            "NOTIFICATIONS_DISPATCHER_POLL_SECONDS": "0.2",
        }
        first = _uvicorn(env)
        producing = asyncio.create_task(produce_submissions(kafka_bootstrap, f"{prefix}visits.v1", tag, 40, 0.05))
        await eventually(lambda: _at_least(receipts(sink, tag), 5), timeout=60)
        first.send_signal(signal.SIGTERM)
        _, log = await asyncio.to_thread(first.communicate, timeout=60)
        assert "Application shutdown complete" in log  # the lifespan ran down: batch committed, producer flushed
        await producing
        second = _uvicorn(env)
        try:
            await eventually(lambda: _at_least(receipts(sink, tag), 40), timeout=90)
            await asyncio.sleep(1)
        finally:
            second.send_signal(signal.SIGTERM)
            await asyncio.to_thread(second.communicate, timeout=60)
    assert sorted(receipts(sink, tag)) == sorted(f"{tag}-{i:04d}" for i in range(40))


def _uvicorn(env: dict) -> subprocess.Popen:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "services.notifications.main:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


async def _at_least(items: list, count: int):
    return items if len(items) >= count else None
