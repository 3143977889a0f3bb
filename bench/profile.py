"""5. Profile a service under load with pyinstrument, sampling only the load window (after warm-up).

    uv run python -m bench.profile intake          # visits under the intake load
    uv run python -m bench.profile notifications   # notifications draining visit.submitted events

The call tree goes to var/bench/profile-<what>.txt and the flat self-time list to .flat.txt; the top of the
flat list is printed. BENCH_SOURCE=<tree> profiles a scratch copy with a proposed patch instead.
"""

import argparse
import asyncio
import random

import httpx

from bench.harness import (
    RESULTS,
    Server,
    closed_loop,
    drop_database,
    fresh_database,
    infrastructure,
    log,
    service_env,
    topic_prefix,
    visit_payload,
)


def profiled_server(name: str, service: str, env: dict[str, str], out) -> Server:
    return Server(
        name,
        "bench.profiled:create_app",
        env | {"BENCH_PROFILE_SERVICE": service, "BENCH_PROFILE_OUT": str(out)},
        workers=1,
    )


async def profile_intake(postgres: str, kafka: str, *, seconds: float, concurrency: int):
    out = RESULTS / "profile-intake.txt"
    database = await fresh_database(postgres, "visits")
    server = profiled_server(
        "profile-visits",
        "visits",
        service_env("visits", database, kafka, topic_prefix(), VISITS_SUBMIT_RATE_LIMIT="1000000000"),
        out,
    )
    rng = random.Random(5)
    try:
        await server.start()
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency)) as client:

            def submit():
                return "POST", server.url + "/api/v1/requests", {"json": visit_payload(rng)}

            await closed_loop(client, submit, concurrency=concurrency, seconds=3)
            await client.post(server.url + "/__bench/profile/start")
            result = await closed_loop(client, submit, concurrency=concurrency, seconds=seconds)
            await client.post(server.url + "/__bench/profile/stop")
        log(f"profiled intake: {result.ok} requests, {result.rate:.1f} req/s under the profiler")
    finally:
        await server.stop()
        await drop_database(postgres, database)
    return out


async def profile_notifications(postgres: str, kafka: str, *, events: int):
    from bench import throughput

    out = RESULTS / "profile-notifications.txt"
    await throughput.run(postgres, kafka, events=events, raw_repeats=1, profile=out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["intake", "notifications"])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=40)
    args = parser.parse_args()
    postgres, kafka = infrastructure()
    if args.what == "intake":
        out = asyncio.run(profile_intake(postgres, kafka, seconds=args.seconds, concurrency=args.concurrency))
    else:
        out = asyncio.run(profile_notifications(postgres, kafka, events=args.events))
    print("\n".join(out.with_suffix(".flat.txt").read_text().splitlines()[: args.lines]))
    print(f"(call tree: {out})")


if __name__ == "__main__":
    main()
