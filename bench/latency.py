"""2. End-to-end latency: submission accepted -> visit.routed handled by notifications -> e-mail at the SMTP server.

Open loop at a steady rate (default 5/s for 30 s): each submission's clock starts when its 201 arrives and stops
when the division's e-mail with its reference reaches a recording SMTP server in this process. The yardstick is
a raw aiokafka produce -> consume round trip on the same broker at the same rate, with the same client settings
(shared.kafka.make_producer / make_consumer). Stage split from the notifications database: accepted -> delivery
planned (outbox relay, Kafka, consumer) and planned -> e-mail accepted (dispatcher, SMTP).

    uv run python -m bench.latency [--rate 5] [--seconds 30]
"""

import argparse
import asyncio
import random
import time
import uuid

import asyncpg
import httpx

from bench.harness import (
    Server,
    bearer,
    drop_database,
    fresh_database,
    infrastructure,
    log,
    ms,
    percentile,
    plain_dsn,
    save,
    service_env,
    topic_prefix,
    visit_payload,
)
from bench.smtp import start_recorder
from shared.kafka import ensure_topics, make_consumer, make_producer

DIVISIONS = [
    "education",
    "urban-environment",
    "culture-and-leisure",
    "social-services-health",
    "city-executive-office",
    "economic-development",
    "forum-virium",
    "business-hub",
    "international-affairs",
]
DIVISION_DOMAIN = "divisions.example.org"


async def raw_round_trip(kafka: str, *, rate: float, seconds: float) -> list[float]:
    """Produce at `rate` for `seconds`; seconds from before send() until a consumer in this process has it."""
    topic = f"{topic_prefix()}raw.rtt"
    await ensure_topics(kafka, [topic])
    producer, consumer = make_producer(kafka), make_consumer(kafka, f"bench-{uuid.uuid4().hex[:8]}", [topic])
    await producer.start()
    await consumer.start()
    sent, received = {}, {}
    count = int(rate * seconds)

    async def read(expected: set[bytes], deadline: float) -> None:
        while not expected <= received.keys() and time.perf_counter() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                now = time.perf_counter()
                for record in records:
                    received.setdefault(record.key, now)

    try:
        await producer.send_and_wait(topic, b"warm-up", key=b"warm-up")
        await read({b"warm-up"}, time.perf_counter() + 60)
        reader = asyncio.create_task(read({f"m{i}".encode() for i in range(count)}, time.perf_counter() + seconds + 60))
        began, tasks = time.perf_counter(), []
        for i in range(count):
            await asyncio.sleep(max(0.0, began + i / rate - time.perf_counter()))
            key = f"m{i}".encode()
            sent[key] = time.perf_counter()
            tasks.append(asyncio.create_task(producer.send_and_wait(topic, b'{"bench": true}', key=key)))
        await asyncio.gather(*tasks)
        await reader
    finally:
        await consumer.stop()
        await producer.stop()
    return [received[k] - sent[k] for k in sent if k in received]


async def configure_divisions(notifications: Server) -> None:
    async with httpx.AsyncClient(base_url=notifications.url, headers=bearer("admin"), timeout=30) as client:
        for division in DIVISIONS:
            response = await client.put(
                f"/api/v1/recipients/divisions/{division}", json={"email": f"{division}@{DIVISION_DOMAIN}"}
            )
            response.raise_for_status()


async def start_pair(postgres: str, kafka: str, smtp_port: int, extra: dict | None = None):
    """visits and notifications as two uvicorn processes on fresh databases and this run's topics."""
    prefix = topic_prefix()
    visits_db = await fresh_database(postgres, "visits")
    notifications_db = await fresh_database(postgres, "notifications")
    visits = Server(
        "latency-visits",
        "services.visits.main:create_app",
        service_env("visits", visits_db, kafka, prefix, VISITS_SUBMIT_RATE_LIMIT="1000000000"),
    )
    notifications = Server(
        "latency-notifications",
        "services.notifications.main:create_app",
        service_env(
            "notifications",
            notifications_db,
            kafka,
            prefix,
            NOTIFICATIONS_SMTP_HOST="127.0.0.1",
            NOTIFICATIONS_SMTP_PORT=str(smtp_port),
            **(extra or {}),
        ),
    )
    try:
        await asyncio.gather(visits.start(), notifications.start())
        await configure_divisions(notifications)
    except BaseException:
        await asyncio.gather(visits.stop(), notifications.stop())
        for url in (visits_db, notifications_db):
            await drop_database(postgres, url)
        raise
    return visits, notifications, [visits_db, notifications_db]


async def planned_at(notifications_db: str) -> dict[str, float]:
    """reference -> when notifications stored the division's delivery (wall clock)."""
    conn = await asyncpg.connect(plain_dsn(notifications_db))
    try:
        rows = await conn.fetch(
            "SELECT reference, created_at FROM deliveries "
            "WHERE event_type = 'visit.routed.v1' AND recipient_kind = 'division'"
        )
    finally:
        await conn.close()
    return {r["reference"]: r["created_at"].timestamp() for r in rows}


async def run(postgres: str, kafka: str, *, rate: float = 5, seconds: float = 30, name: str = "latency") -> dict:
    log(f"latency: raw aiokafka round trip at {rate}/s for {seconds:.0f}s")
    raw = await raw_round_trip(kafka, rate=rate, seconds=seconds)
    smtp, recorder = await start_recorder()
    visits, notifications, databases = await start_pair(postgres, kafka, smtp.sockets[0].getsockname()[1])
    rng, accepted, failures = random.Random(2), {}, []

    async def submit(client: httpx.AsyncClient) -> None:
        response = await client.post("/api/v1/requests", json=visit_payload(rng))
        if response.status_code != 201:
            failures.append(f"{response.status_code} {response.text[:200]}")
            return
        accepted[response.json()["reference"]] = (time.perf_counter(), time.time())

    def division_mail() -> dict[str, tuple[float, float]]:
        return {
            a.reference: (a.at, a.wall)
            for a in recorder.arrivals
            if any(r.endswith("@" + DIVISION_DOMAIN) for r in a.recipients)
        }

    try:
        async with httpx.AsyncClient(base_url=visits.url, timeout=30) as client:
            await asyncio.gather(*(submit(client) for _ in range(3)))  # warm-up: group joined, templates loaded
            warm = set(accepted)
            deadline = time.perf_counter() + 120
            while not warm <= division_mail().keys() and time.perf_counter() < deadline:
                await asyncio.sleep(0.1)
            accepted.clear()
            log(f"latency: pipeline at {rate}/s for {seconds:.0f}s")
            began, tasks = time.perf_counter(), []
            for i in range(int(rate * seconds)):
                await asyncio.sleep(max(0.0, began + i / rate - time.perf_counter()))
                tasks.append(asyncio.create_task(submit(client)))
            await asyncio.gather(*tasks)
        deadline = time.perf_counter() + 120
        while not accepted.keys() <= division_mail().keys() and time.perf_counter() < deadline:
            await asyncio.sleep(0.1)
        arrived, planned = division_mail(), await planned_at(databases[1])
    finally:
        await asyncio.gather(visits.stop(), notifications.stop())
        smtp.close()
        for url in databases:
            await drop_database(postgres, url)
    done = [r for r in accepted if r in arrived]
    e2e = [arrived[r][0] - accepted[r][0] for r in done]
    to_planned = [planned[r] - accepted[r][1] for r in done if r in planned]
    planned_to_mail = [arrived[r][1] - planned[r] for r in done if r in planned]
    figures = {
        "rate": rate,
        "seconds": seconds,
        "submitted": len(accepted),
        "arrived": len(done),
        "failures": failures[:5],
        "e2e_p50_ms": ms(percentile(e2e, 50)),
        "e2e_p99_ms": ms(percentile(e2e, 99)),
        "e2e_max_ms": ms(max(e2e)),
        "raw_p50_ms": ms(percentile(raw, 50)),
        "raw_p99_ms": ms(percentile(raw, 99)),
        "raw_count": len(raw),
        "accepted_to_planned_p50_ms": ms(percentile(to_planned, 50)),
        "accepted_to_planned_p99_ms": ms(percentile(to_planned, 99)),
        "planned_to_mail_p50_ms": ms(percentile(planned_to_mail, 50)),
        "planned_to_mail_p99_ms": ms(percentile(planned_to_mail, 99)),
    }
    figures["ratio_p50"] = figures["e2e_p50_ms"] / figures["raw_p50_ms"]
    figures["ratio_p99"] = figures["e2e_p99_ms"] / figures["raw_p99_ms"]
    save(name, figures)
    return figures


def report(f: dict) -> str:
    return "\n".join(
        [
            f"2. End-to-end latency (accepted -> division e-mail at SMTP), open loop {f['rate']:g}/s for "
            f"{f['seconds']:.0f}s, "
            f"{f['arrived']}/{f['submitted']} arrived",
            f"   pipeline p50 {f['e2e_p50_ms']:.0f} ms  p99 {f['e2e_p99_ms']:.0f} ms  (max {f['e2e_max_ms']:.0f} ms)",
            f"     of which accepted -> delivery planned p50 {f['accepted_to_planned_p50_ms']:.0f} ms "
            f"(p99 {f['accepted_to_planned_p99_ms']:.0f}), planned -> e-mail p50 {f['planned_to_mail_p50_ms']:.0f} ms "
            f"(p99 {f['planned_to_mail_p99_ms']:.0f})",
            f"   raw aiokafka produce->consume p50 {f['raw_p50_ms']:.1f} ms  p99 {f['raw_p99_ms']:.1f} ms",
            f"   ratio p50 {f['ratio_p50']:.1f}×  p99 {f['ratio_p99']:.1f}×   goal p50 ≤ 5×",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    postgres, kafka = infrastructure()
    print(report(asyncio.run(run(postgres, kafka, rate=args.rate, seconds=args.seconds))))


if __name__ == "__main__":
    main()
