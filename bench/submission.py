"""The submission's CPU without HTTP: `Intake.submit` called in a row, in this process, on PostgreSQL.

    uv run python -m bench.submission [--count 600]
    BENCH_SOURCE=/tmp/base uv run python -m bench.submission   # the same for another tree (A/B)

Much steadier than the intake figure for comparing two versions of the service layer: no client, no server
process, one call at a time, CPU read from `time.process_time` (a busy machine changes it by a few percent,
not by the 2-5× it changes throughput). It leaves out FastAPI, the relay and the live queue (not started).
"""

import argparse
import asyncio
import os
import random
import time
from datetime import UTC, datetime

from bench.harness import (  # puts the tree under test (BENCH_SOURCE) first on sys.path
    SOURCE,
    drop_database,
    fresh_database,
    infrastructure,
    service_env,
    topic_prefix,
    visit_payload,
)


async def run(postgres: str, kafka: str, *, count: int, warm_up: int = 100) -> dict:
    database = await fresh_database(postgres, "visits")
    os.environ.update(service_env("visits", database, kafka, topic_prefix()))
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from services.visits import intake
    from services.visits.config import Settings
    from services.visits.schemas import VisitRequestCreate
    from shared.db import make_engine
    from shared.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_level)
    engine = make_engine(settings.database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    rng = random.Random(5)
    bodies = [VisitRequestCreate.model_validate(visit_payload(rng)) for _ in range(warm_up + count)]
    intake = intake.Intake(sessions, settings)
    try:
        for body in bodies[:warm_up]:
            await intake.submit(body, now=datetime.now(UTC))
        cpu, wall = time.process_time(), time.perf_counter()
        for body in bodies[warm_up:]:
            await intake.submit(body, now=datetime.now(UTC))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await engine.dispose()
        await drop_database(postgres, database)
    return {"source": str(SOURCE), "count": count, "cpu_ms": 1000 * cpu / count, "wall_ms": 1000 * wall / count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=600)
    args = parser.parse_args()
    figures = asyncio.run(run(*infrastructure(), count=args.count))
    print(
        f"submission in-process ({figures['source']}): {figures['cpu_ms']:.2f} ms CPU, "
        f"{figures['wall_ms']:.2f} ms wall per call, {figures['count']} calls"
    )


if __name__ == "__main__":
    main()
