"""1. Intake: sustained POST /api/v1/requests throughput against a bare one-row FastAPI endpoint.

Both servers are separate uvicorn processes with the same worker count, on the same PostgreSQL, driven by the
same closed-loop client (one httpx.AsyncClient, fixed concurrency). Rounds alternate A/B so drift on a shared
machine hits both; the figure is the median round, and after each visits round the outbox must drain (the
relay keeps up, so the rate is sustainable, not just buffered).

    uv run python -m bench.intake [--seconds 10] [--rounds 3] [--concurrency 16]
"""

import argparse
import asyncio
import random
import statistics
import time

import asyncpg
import httpx

from bench.harness import (
    Server,
    closed_loop,
    cpu_seconds,
    drop_database,
    fresh_database,
    infrastructure,
    log,
    ms,
    percentile,
    plain_dsn,
    save,
    service_env,
    spread,
    topic_prefix,
    visit_payload,
)


async def unsent(visits_db: str) -> int:
    conn = await asyncpg.connect(plain_dsn(visits_db))
    try:
        return await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
    finally:
        await conn.close()


async def drain_seconds(visits_db: str, limit: float = 60) -> float:
    """How long after the load the relay needed to publish what was left; inf if it did not within `limit`."""
    began = time.perf_counter()
    while await unsent(visits_db):
        if time.perf_counter() - began > limit:
            return float("inf")
        await asyncio.sleep(0.05)
    return time.perf_counter() - began


async def lock_waits(database: str, stop: asyncio.Event) -> float:
    """Mean number of this database's sessions waiting for a lock, sampled every 50 ms until `stop`."""
    conn = await asyncpg.connect(plain_dsn(database))
    samples = []
    try:
        while not stop.is_set():
            samples.append(
                await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
                    database.rsplit("/", 1)[1],
                )
            )
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    return sum(samples) / len(samples) if samples else 0.0


async def start_servers(postgres: str, kafka: str, *, profile=None) -> tuple[Server, Server, list[str]]:
    visits_db = await fresh_database(postgres, "visits")
    baseline_db = await fresh_database(postgres, "baseline", migrate=False)
    visits = Server(
        "intake-visits",
        "services.visits.main:create_app",
        service_env("visits", visits_db, kafka, topic_prefix(), VISITS_SUBMIT_RATE_LIMIT="1000000000"),
        profile=profile,
    )
    baseline = Server(
        "intake-baseline",
        "bench.baseline_app:create_app",
        service_env("baseline", baseline_db, kafka, topic_prefix(), BASELINE_DATABASE_URL=baseline_db),
    )
    try:
        await asyncio.gather(visits.start(), baseline.start())
    except BaseException:
        await asyncio.gather(visits.stop(), baseline.stop())
        for url in (visits_db, baseline_db):
            await drop_database(postgres, url)
        raise
    return visits, baseline, [visits_db, baseline_db]


async def run(
    postgres: str, kafka: str, *, seconds: float = 10, rounds: int = 3, concurrency: int = 16, name: str = "intake"
) -> dict:
    visits, baseline, databases = await start_servers(postgres, kafka)
    rng = random.Random(11)
    targets = {"visits": (visits, "/api/v1/requests"), "baseline": (baseline, "/submit")}
    rates: dict[str, list[float]] = {"visits": [], "baseline": []}
    latencies: dict[str, list[float]] = {"visits": [], "baseline": []}
    cpu: dict[str, list[float]] = {"visits": [], "baseline": []}
    server_cpu: dict[str, list[float]] = {"visits": [], "baseline": []}
    waits: dict[str, list[float]] = {"visits": [], "baseline": []}
    drains, errors, accepted = [], [], 0
    try:
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency)) as client:
            for server, path in targets.values():  # warm-up: connections, caches, the relay's producer
                await closed_loop(
                    client,
                    lambda url=server.url + path: ("POST", url, {"json": visit_payload(rng)}),
                    concurrency=concurrency,
                    seconds=2,
                )
            await drain_seconds(databases[0])
            for round_ in range(rounds):
                order = ["visits", "baseline"] if round_ % 2 == 0 else ["baseline", "visits"]
                for name in order:
                    server, path = targets[name]
                    stop, cpu_before = asyncio.Event(), cpu_seconds(server.process.pid)
                    waiting = asyncio.create_task(lock_waits(databases[0 if name == "visits" else 1], stop))
                    result = await closed_loop(
                        client,
                        lambda url=server.url + path: ("POST", url, {"json": visit_payload(rng)}),
                        concurrency=concurrency,
                        seconds=seconds,
                    )
                    stop.set()
                    server_cpu[name].append((cpu_seconds(server.process.pid) - cpu_before) / max(result.ok, 1))
                    waits[name].append(await waiting)
                    rates[name].append(result.rate)
                    latencies[name] += result.latencies
                    cpu[name].append(result.client_cpu / max(result.ok, 1))
                    errors += result.error_samples
                    if name == "visits":
                        accepted += result.ok
                        drains.append(await drain_seconds(databases[0]))
                    log(f"intake round {round_ + 1} {name}: {result.rate:.1f} req/s, {result.errors} errors")
    finally:
        await asyncio.gather(visits.stop(), baseline.stop())
        for url in databases:
            await drop_database(postgres, url)
    ratios = [v / b for v, b in zip(rates["visits"], rates["baseline"], strict=True)]
    figures = {
        "visits_rps": statistics.median(rates["visits"]),
        "baseline_rps": statistics.median(rates["baseline"]),
        "ratio": statistics.median(rates["visits"]) / statistics.median(rates["baseline"]),
        "round_ratios": ratios,
        "visits_rounds": rates["visits"],
        "baseline_rounds": rates["baseline"],
        "visits_p50_ms": ms(percentile(latencies["visits"], 50)),
        "visits_p99_ms": ms(percentile(latencies["visits"], 99)),
        "baseline_p50_ms": ms(percentile(latencies["baseline"], 50)),
        "baseline_p99_ms": ms(percentile(latencies["baseline"], 99)),
        "client_cpu_ms_per_request": {k: ms(statistics.median(v)) for k, v in cpu.items()},
        "server_cpu_ms_per_request": {k: ms(statistics.median(v)) for k, v in server_cpu.items()},
        "sessions_waiting_for_locks": {k: statistics.median(v) for k, v in waits.items()},
        "outbox_drain_seconds_after_round": drains,
        "error_samples": errors[:5],
        "concurrency": concurrency,
        "seconds": seconds,
        "rounds": rounds,
    }
    save(name, figures)
    return figures


def report(f: dict) -> str:
    return "\n".join(
        [
            "1. Intake (POST /api/v1/requests vs bare one-row endpoint, closed loop, "
            f"concurrency {f['concurrency']}, {f['rounds']}×{f['seconds']:.0f}s each, alternating)",
            f"   visits   {spread(f['visits_rounds'])} req/s   p50 {f['visits_p50_ms']:.1f} ms  "
            f"p99 {f['visits_p99_ms']:.1f} ms",
            f"   baseline {spread(f['baseline_rounds'])} req/s   p50 {f['baseline_p50_ms']:.1f} ms  "
            f"p99 {f['baseline_p99_ms']:.1f} ms",
            f"   ratio    {f['ratio']:.2f} (per round: {', '.join(f'{r:.2f}' for r in f['round_ratios'])})"
            "   goal ≥ 0.70",
            f"   server CPU per request: visits {f['server_cpu_ms_per_request']['visits']:.1f} ms, baseline "
            f"{f['server_cpu_ms_per_request']['baseline']:.1f} ms (CPU ratio "
            f"{f['server_cpu_ms_per_request']['baseline'] / f['server_cpu_ms_per_request']['visits']:.2f}); "
            f"sessions waiting for a lock: visits {f['sessions_waiting_for_locks']['visits']:.1f} "
            f"of {f['concurrency']}, "
            f"baseline {f['sessions_waiting_for_locks']['baseline']:.1f}",
            f"   outbox drained {max(f['outbox_drain_seconds_after_round']):.2f} s after the worst round; "
            f"client CPU per request {f['client_cpu_ms_per_request']['visits']:.2f} / "
            f"{f['client_cpu_ms_per_request']['baseline']:.2f} ms",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    postgres, kafka = infrastructure()
    print(
        report(
            asyncio.run(run(postgres, kafka, seconds=args.seconds, rounds=args.rounds, concurrency=args.concurrency))
        )
    )


if __name__ == "__main__":
    main()
