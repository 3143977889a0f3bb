"""4. Notifications throughput: N visit.submitted.v1 events -> e-mails at a local SMTP server, against raw aiokafka.

The events (each a delegation receipt e-mail) are produced onto a fresh visits.v1 topic first. The raw yardstick
is an aiokafka consumer (shared.kafka.make_consumer settings) reading and JSON-decoding all N; the service is
timed from its process start until the N-th e-mail arrives, and in steady state from the first to the last
e-mail (start-up excluded). The consumer stage alone is read from processed_events in its database.

    uv run python -m bench.throughput [--events 2000]
"""

import argparse
import asyncio
import json
import statistics
import time
import uuid
from datetime import date, timedelta

import asyncpg
import httpx

from bench.harness import (
    Server,
    cpu_seconds,
    drop_database,
    fresh_database,
    infrastructure,
    log,
    plain_dsn,
    save,
    service_env,
    topic_prefix,
)
from bench.smtp import start_recorder
from services.visits.events import VisitSubmitted
from shared.events import Envelope
from shared.kafka import ensure_topics, make_consumer, make_producer
from tests.builders import visit_state


def submitted_event(i: int) -> tuple[bytes, bytes]:
    """(key, value) of one visit.submitted.v1 envelope as the visits outbox publishes it."""
    request_id, start = str(uuid.uuid4()), date.today() + timedelta(days=60 + i % 90)
    state = visit_state(
        "visit.submitted.v1",
        request_id=request_id,
        reference=f"HEL-2031-{i + 1:06d}",
        organisation=f"Bench School {i}",
        language=("fi", "sv", "en")[i % 3],
        contact_name="Bench Contact",
        contact_email=f"d{i}@bench.example.org",
        preferred_dates=[{"start": start, "end": start + timedelta(days=2)}],
        tracking_url=f"http://127.0.0.1:8001/track/HEL-2031-{i + 1:06d}?token=t{i}",
        actor="delegation",
    )
    event = VisitSubmitted.model_validate(state)
    envelope = Envelope.wrap(event, source="visits", subject=request_id)
    return request_id.encode(), envelope.model_dump_json().encode()


async def produce(kafka: str, topic: str, count: int) -> None:
    producer = make_producer(kafka)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value=value, key=key)
            for key, value in (submitted_event(i) for i in range(count))
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def raw_consume(kafka: str, topic: str, count: int) -> float:
    """Seconds for a fresh consumer group (started and assigned) to read and decode `count` records."""
    consumer = make_consumer(kafka, f"bench-raw-{uuid.uuid4().hex[:8]}", [topic])
    await consumer.start()
    try:
        seen, began, deadline = 0, time.perf_counter(), time.perf_counter() + 120
        while seen < count and time.perf_counter() < deadline:
            for records in (await consumer.getmany(timeout_ms=500, max_records=200)).values():
                for record in records:
                    json.loads(record.value)
                seen += len(records)
        return time.perf_counter() - began if seen >= count else float("inf")
    finally:
        await consumer.stop()


async def processed(database: str) -> int:
    conn = await asyncpg.connect(plain_dsn(database))
    try:
        return await conn.fetchval("SELECT count(*) FROM processed_events")
    finally:
        await conn.close()


async def run(postgres: str, kafka: str, *, events: int = 2000, raw_repeats: int = 3, profile=None) -> dict:
    prefix = topic_prefix()
    topic = f"{prefix}visits.v1"
    topics = ("visits.v1", "capacity.v1", "protocol.v1", "notifications.v1")
    await ensure_topics(kafka, [f"{prefix}{t}" for t in topics])
    log(f"throughput: producing {events} visit.submitted.v1 events")
    await produce(kafka, topic, events)
    raw = [await raw_consume(kafka, topic, events) for _ in range(raw_repeats)]
    smtp, recorder = await start_recorder()
    database = await fresh_database(postgres, "notifications")
    env = service_env(
        "notifications",
        database,
        kafka,
        prefix,
        NOTIFICATIONS_SMTP_HOST="127.0.0.1",
        NOTIFICATIONS_SMTP_PORT=str(smtp.sockets[0].getsockname()[1]),
    )
    if profile is not None:
        env |= {"BENCH_PROFILE_SERVICE": "notifications", "BENCH_PROFILE_OUT": str(profile)}
    server = Server(
        "throughput-notifications",
        "bench.profiled:create_app" if profile else "services.notifications.main:create_app",
        env,
    )
    consumed_at, server_cpu = None, 0.0
    try:
        log("throughput: notifications draining them")
        server.spawn()
        if profile is not None:
            await server.wait_ok("/healthz")
            async with httpx.AsyncClient() as client:
                await client.post(server.url + "/__bench/profile/start")
        deadline = time.perf_counter() + 600
        while len(recorder.arrivals) < events and time.perf_counter() < deadline:
            await asyncio.sleep(0.2)
            if consumed_at is None and await processed(database) >= events:
                consumed_at = time.perf_counter()
            server_cpu = cpu_seconds(server.process.pid)
        if profile is not None:
            async with httpx.AsyncClient() as client:
                await client.post(server.url + "/__bench/profile/stop", timeout=120)
    finally:
        await server.stop()
        smtp.close()
        await drop_database(postgres, database)
    arrivals = sorted(a.at for a in recorder.arrivals)
    raw_seconds = statistics.median(raw)
    figures = {
        "events": events,
        "mails": len(arrivals),
        "raw_seconds": raw,
        "raw_eps": events / raw_seconds,
        "service_total_seconds": arrivals[-1] - server.started_at if arrivals else float("inf"),
        "service_first_mail_after_start_seconds": arrivals[0] - server.started_at if arrivals else float("inf"),
        "service_steady_eps": (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else 0.0,
        "consumer_stage_seconds": (consumed_at - server.started_at) if consumed_at else None,
        "server_cpu_ms_per_event": server_cpu / events * 1000,  # start-up included (about 2-4 s of CPU)
    }
    figures["service_total_eps"] = events / figures["service_total_seconds"]
    figures["ratio_steady"] = figures["service_steady_eps"] / figures["raw_eps"]
    if profile is None:
        save("throughput", figures)
    return figures


def report(f: dict) -> str:
    consumer = (
        f"; consumer stage done {f['consumer_stage_seconds']:.1f} s after start" if f["consumer_stage_seconds"] else ""
    )
    return "\n".join(
        [
            f"4. Notifications throughput ({f['events']} visit.submitted.v1 -> {f['mails']} e-mails "
            "at a local SMTP server)",
            f"   service  {f['service_steady_eps']:.1f} events/s steady (first->last e-mail); "
            f"{f['service_total_eps']:.1f} events/s from process start ({f['service_total_seconds']:.1f} s{consumer})",
            f"   service CPU {f['server_cpu_ms_per_event']:.1f} ms per event (start-up included)",
            f"   raw      {f['raw_eps']:.0f} events/s (aiokafka read+decode, median of "
            f"{', '.join(f'{s:.2f}' for s in f['raw_seconds'])} s)",
            f"   ratio    {f['ratio_steady']:.3f}",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    postgres, kafka = infrastructure()
    print(report(asyncio.run(run(postgres, kafka, events=args.events))))


if __name__ == "__main__":
    main()
