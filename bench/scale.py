"""3. Scale: p99 of the Communications queue and the staff listing with 10k and with 1M requests stored.

Rows go straight into the visits tables of a fresh, migrated database with server-side multi-row INSERT ... SELECT
over generate_series (fast: no Python per row). Both sizes hold the same open queue (~300 requests of the last
30 days: routed, dates proposed, waitlisted, accepted with a visit ahead; some escalated); the rest is closed
history (completed, declined, cancelled) spread over five years, with a Zipf mix of countries, weighted focus
areas, ranks and languages. Each endpoint is called one at a time (latency, not throughput) after a warm-up;
EXPLAIN (ANALYZE, BUFFERS) of the very statements the service runs (captured from listing/queue code) shows
which index each query uses; the plans go to var/bench/explain-<size>.txt.

    uv run python -m bench.scale [--small 10000] [--large 1000000] [--samples 150]
"""

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import asyncpg
import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from bench.harness import (
    COUNTRIES,
    COUNTRY_WEIGHTS,
    FOCUS_AREAS,
    FOCUS_WEIGHTS,
    LANGUAGE_WEIGHTS,
    LANGUAGES,
    RANK_WEIGHTS,
    RANKS,
    RESULTS,
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
)
from services.visits import listing
from services.visits.schemas import ListFilters
from shared.auth import Principal
from shared.db import async_url

OPEN_REQUESTS = 300
BATCH = 100_000
OPEN_STATUSES = {"routed": 50, "accepted": 25, "dates_proposed": 8, "waitlisted": 7, "submitted": 0}
CLOSED_STATUSES = {"completed": 60, "declined": 25, "cancelled": 15}
RARE_COUNTRY = COUNTRIES[-1]


def weighted(values: list[str], weights: list[float], slots: int = 200) -> list[str]:
    """A list in which each value appears in proportion to its weight: a uniform pick from it is weighted."""
    total = sum(weights)
    return [v for v, w in zip(values, weights, strict=True) for _ in range(max(1, round(w / total * slots)))]


INSERT = """
WITH base AS (
    SELECT g,
           ($3::text[])[1 + floor(random() * cardinality($3::text[]))::int] AS focus,
           ($4::text[])[1 + floor(random() * cardinality($4::text[]))::int] AS country,
           ($5::text[])[1 + floor(random() * cardinality($5::text[]))::int] AS rank,
           ($6::text[])[1 + floor(random() * cardinality($6::text[]))::int] AS language,
           ($7::text[])[1 + floor(random() * cardinality($7::text[]))::int] AS status,
           $8::timestamptz - random() * $9::interval AS created_at,
           random() AS r
    FROM generate_series($1::int, $2::int) AS g
)
, ins AS (
INSERT INTO requests (id, reference, status, division, info_divisions, primary_focus_area, organisation,
    organisation_key, country, language, contact_name, contact_email, highest_rank, delegation_size,
    preferred_dates, proposed_dates, purpose, needs, visit_date, host, decline_reason, short_notice, duplicate_of,
    decision_deadline, escalated_at, tracking_token_hash, created_at, updated_at, ended_at)
SELECT gen_random_uuid()::text,
       'HEL-' || extract(year FROM b.created_at)::int || '-' || lpad(b.g::text, 7, '0'),
       b.status,
       CASE WHEN b.r < 0.05 THEN 'international-affairs' ELSE coalesce(rr.division, 'international-affairs') END,
       '[]', b.focus, 'Organisation ' || (b.g % 20000), 'organisation ' || (b.g % 20000), b.country, b.language,
       'Contact ' || b.g, 'contact' || b.g || '@example.org', b.rank, 2 + b.g % 30,
       json_build_array(json_build_object('start', (b.created_at + interval '60 days')::date,
                                          'end', (b.created_at + interval '62 days')::date)),
       '[]', 'Study visit on how the city organises its services', '{"press": false}',
       CASE WHEN b.status IN ('accepted', 'completed') THEN (b.created_at + interval '61 days')::date END,
       CASE WHEN b.status IN ('accepted', 'completed') THEN 'Host' END,
       CASE WHEN b.status = 'declined' THEN 'no_capacity' END,
       b.r < 0.1, CASE WHEN b.r > 0.95 THEN 'HEL-2020-0000001' END,
       CASE WHEN b.status IN ('routed', 'dates_proposed') THEN (b.created_at + interval '7 days')::date END,
       CASE WHEN b.status = 'routed' AND b.created_at < now() - interval '10 days'
            THEN b.created_at + interval '8 days' END,
       md5(b.g::text) || md5((b.g + 1)::text), b.created_at, b.created_at + interval '3 days',
       CASE WHEN b.status IN ('completed', 'declined', 'cancelled') THEN b.created_at + interval '5 days' END
FROM base b LEFT JOIN routing_rules rr ON rr.focus_area = b.focus
RETURNING id, primary_focus_area
)
INSERT INTO request_focus_areas (request_id, position, focus_area)
SELECT id, 0, primary_focus_area FROM ins
UNION ALL
SELECT id, 1, CASE WHEN primary_focus_area = 'education' THEN 'smart-city' ELSE 'education' END
FROM ins WHERE random() < 0.4
"""


async def load(database: str, first: int, last: int, *, open_requests: int = 0) -> float:
    """Insert requests numbered first..last (the first `open_requests` of them recent and open); seconds taken."""
    began = time.perf_counter()
    conn = await asyncpg.connect(plain_dsn(database))
    common = [
        weighted(FOCUS_AREAS, FOCUS_WEIGHTS),
        weighted(COUNTRIES, COUNTRY_WEIGHTS, 400),
        weighted(RANKS, RANK_WEIGHTS),
        weighted(LANGUAGES, LANGUAGE_WEIGHTS),
    ]
    secondary = []
    try:
        if last - first > 50_000:  # building the secondary indexes once afterwards is much faster than row by row
            await conn.execute("SET maintenance_work_mem = '256MB'")
            secondary = await conn.fetch(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('requests', 'request_focus_areas') "
                "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
            )
            for index in secondary:
                await conn.execute(f'DROP INDEX "{index["indexname"]}"')
        if open_requests:
            await conn.execute(
                INSERT,
                first,
                first + open_requests - 1,
                *common,
                weighted(list(OPEN_STATUSES), list(OPEN_STATUSES.values())),
                _now(),
                timedelta(days=30),
            )
            first += open_requests
        closed = weighted(list(CLOSED_STATUSES), list(CLOSED_STATUSES.values()))
        for start in range(first, last + 1, BATCH):
            end = min(start + BATCH - 1, last)
            await conn.execute(INSERT, start, end, *common, closed, _now(-30), timedelta(days=1825))
        for index in secondary:
            await conn.execute(index["indexdef"])
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - began


def _now(days: int = 0) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


async def cursor_at(database: str, position: int, division: str | None = None) -> str:
    """The listing's own cursor for the row at `position` in newest-first order (as if paged that far)."""
    conn = await asyncpg.connect(plain_dsn(database))
    try:
        where = "WHERE division = $2" if division else ""
        count_where = "WHERE division = $1" if division else ""
        row = await conn.fetchrow(
            f"SELECT created_at, id FROM requests {where} ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1",
            position,
            *([division] if division else []),
        )
        total = await conn.fetchval(f"SELECT count(*) FROM requests {count_where}", *([division] if division else []))
    finally:
        await conn.close()
    log(f"scale: cursor at {position} of {total} ({division or 'all divisions'})")
    return listing.encode_cursor(SimpleNamespace(created_at=row["created_at"], id=row["id"]))


async def cases(database: str, total: int) -> dict[str, tuple[str, dict, str | None, Principal]]:
    """name -> (path, query, division of the caller, principal) of each endpoint measured."""
    admin, communications = Principal(sub="bench", role="admin"), Principal(sub="bench", role="communications")
    officer = Principal(sub="bench", role="division_officer", division="education")
    education = await division_size(database, "education")
    return {
        "listing, first page": ("/api/v1/requests", {"limit": 50}, admin),
        "listing, deep page (middle)": (
            "/api/v1/requests",
            {"limit": 50, "cursor": await cursor_at(database, total // 2)},
            admin,
        ),
        "listing, division officer, first page": ("/api/v1/requests", {"limit": 50}, officer),
        "listing, division officer, deep page": (
            "/api/v1/requests",
            {"limit": 50, "cursor": await cursor_at(database, education // 2, "education")},
            officer,
        ),
        f"listing, country={RARE_COUNTRY} (rare)": ("/api/v1/requests", {"limit": 50, "country": RARE_COUNTRY}, admin),
        "queue, communications": ("/api/v1/queue", {}, communications),
        "queue, division officer": ("/api/v1/queue", {}, officer),
    }


async def division_size(database: str, division: str) -> int:
    conn = await asyncpg.connect(plain_dsn(database))
    try:
        return await conn.fetchval("SELECT count(*) FROM requests WHERE division = $1", division)
    finally:
        await conn.close()


def headers(principal: Principal) -> dict[str, str]:
    return bearer(principal.role, principal.division)


async def measure(server: Server, cases: dict, samples: int, budget: float = 240) -> dict[str, dict]:
    """p50/p99 per endpoint, one request at a time; cases are interleaved so drift hits them all alike.

    Stops early (after at least 30 samples each) when `budget` seconds are spent: a slow endpoint must not
    make the run unbounded."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    deadline = time.perf_counter() + budget
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        for round_ in range(samples + 10):
            if round_ >= 40 and time.perf_counter() > deadline:
                break
            for name, (path, query, principal) in cases.items():
                began = time.perf_counter()
                response = await client.get(path, params=query, headers=headers(principal))
                elapsed = time.perf_counter() - began
                if response.status_code == 404 and path == "/api/v1/queue":
                    times[name] = None
                    continue
                response.raise_for_status()
                if round_ >= 10 and times[name] is not None:
                    times[name].append(elapsed)
            cases = {k: v for k, v in cases.items() if times[k] is not None}
    return {
        name: {"p50_ms": ms(percentile(t, 50)), "p99_ms": ms(percentile(t, 99)), "n": len(t)} if t else None
        for name, t in times.items()
    }


async def explain(database: str, total: int, measured: dict) -> dict[str, list[dict]]:
    """EXPLAIN ANALYZE of the statements each case runs, captured from the service's own listing/queue code."""
    from services.visits import queue

    engine = create_async_engine(async_url(database))
    captured: list[tuple[str, object]] = []
    event.listen(
        engine.sync_engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, parameters, context, many: captured.append((statement, parameters)),
    )
    plans, text = {}, []
    try:
        for name, (path, query, principal) in measured.items():
            captured.clear()
            async with AsyncSession(engine) as session:
                if path == "/api/v1/queue":
                    await queue.queue_snapshot(
                        session=session, principal=principal, filters=queue.QueueFilters(), position=None, now=_now()
                    )
                else:
                    await listing.list_requests(session=session, principal=principal, filters=ListFilters(**query))
            # The listing's own page query comes first (then the selectin loads); the queue runs five.
            statements = [(s, p) for s, p in captured if s.lstrip().upper().startswith("SELECT")]
            async with engine.connect() as conn:
                for i, (statement, parameters) in enumerate(statements[:5] if "queue" in path else statements[:1]):
                    rows = (await conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)).all()
                    plan = "\n".join(r[0] for r in rows)
                    text.append(f"==== {name} #{i}\n{statement}\n{parameters}\n{plan}\n")
                    plans.setdefault(name, []).append(_summary(plan))
    finally:
        await engine.dispose()
    (RESULTS / f"explain-{total}.txt").write_text("\n".join(text))
    return plans


def _summary(plan: str) -> dict:
    import re

    lines = plan.splitlines()
    scans = [
        re.sub(r"\s+\(cost.*", "", line.strip().lstrip("->").strip())
        for line in lines
        if "Scan" in line and "(cost" in line
    ]
    removed = sum(int(m) for m in re.findall(r"Rows Removed by Filter: (\d+)", plan))
    execution = re.search(r"Execution Time: ([\d.]+)", plan)
    return {
        "scans": scans,
        "rows_removed_by_filter": removed,
        "execution_ms": float(execution.group(1)) if execution else None,
    }


async def run(postgres: str, kafka: str, *, small: int = 10_000, large: int = 1_000_000, samples: int = 150) -> dict:
    database = await fresh_database(postgres, "visits")
    server = Server(
        "scale-visits", "services.visits.main:create_app", service_env("visits", database, kafka, topic_prefix())
    )
    results: dict = {"small": small, "large": large, "samples": samples}
    try:
        log(f"scale: loading {small} requests")
        results["load_small_seconds"] = await load(database, 1, small, open_requests=OPEN_REQUESTS)
        await server.start()
        measured = await cases(database, small)
        results["at_small"] = await measure(server, measured, samples)
        results["plans_small"] = await explain(database, small, measured)
        log(f"scale: growing to {large} requests")
        results["load_large_seconds"] = await load(database, small + 1, large)
        measured = await cases(database, large)
        results["at_large"] = await measure(server, measured, samples)
        results["plans_large"] = await explain(database, large, measured)
    finally:
        await server.stop()
        await drop_database(postgres, database)
    results["ratios_p99"] = {
        name: (results["at_large"][name]["p99_ms"] / small_["p99_ms"])
        for name, small_ in results["at_small"].items()
        if small_ and results["at_large"].get(name)
    }
    save("scale", results)
    return results


def report(f: dict) -> str:
    lines = [
        f"3. Scale (one request at a time, up to {f['samples']} samples each; loaded {f['small']} rows in "
        f"{f['load_small_seconds']:.0f} s, grew to {f['large']} in {f['load_large_seconds']:.0f} s)",
        f"   {'endpoint':44s} {'p99 @' + str(f['small']):>12s} {'p99 @' + str(f['large']):>14s}  ratio   "
        f"(p50 small / large)",
    ]
    for name, small in f["at_small"].items():
        large = f["at_large"].get(name)
        if small is None or large is None:
            lines.append(f"   {name:44s} not present in this build")
            continue
        lines.append(
            f"   {name:44s} {small['p99_ms']:9.1f} ms {large['p99_ms']:11.1f} ms  "
            f"{f['ratios_p99'][name]:5.2f}×  ({small['p50_ms']:.1f} / {large['p50_ms']:.1f} ms, "
            f"n={small['n']}/{large['n']})"
        )
    lines.append("   goal ≤ 2×; index use at the large size:")
    for name, plans in f["plans_large"].items():
        first = plans[0]
        lines.append(
            f"     {name}: {'; '.join(first['scans'][:3])}; rows removed by filter "
            f"{first['rows_removed_by_filter']}; {first['execution_ms']} ms"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=150)
    args = parser.parse_args()
    postgres, kafka = infrastructure()
    print(report(asyncio.run(run(postgres, kafka, small=args.small, large=args.large, samples=args.samples))))


if __name__ == "__main__":
    main()
