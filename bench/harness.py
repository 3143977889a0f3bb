"""What every benchmark shares: the local servers, fresh databases, service processes, load clients, statistics.

Every load goes to 127.0.0.1 only, and every loop is bounded by a count and a deadline.
"""

import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "var" / "bench"
# The tree under test: a scratch copy with a proposed patch applied, for "after" numbers. The service processes
# run from it, and so does what runs in this process (migrations, `bench.submission`'s service layer).
SOURCE = Path(os.environ.get("BENCH_SOURCE", ROOT)).resolve()
sys.path.insert(0, str(SOURCE))

from shared.auth import mint_token  # noqa: E402 (from SOURCE, put on the path above)
from shared.migrations import upgrade  # noqa: E402
from shared.settings import ServiceSettings  # noqa: E402
from tests.builders import request_body  # noqa: E402

WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))
TOKENS = ServiceSettings(database_url="unused")  # the development secret every service verifies with

FOCUS_AREAS = ["education", "smart-city", "climate", "innovation", "mobility", "culture", "design", "participation"]
FOCUS_WEIGHTS = [25, 15, 15, 10, 10, 10, 8, 7]
RANKS = ["head_of_state", "head_of_government", "minister", "ambassador", "mayor", "senior_official", "expert", "other"]
RANK_WEIGHTS = [1, 1, 6, 8, 10, 30, 34, 10]
COUNTRIES = [
    "SE",
    "EE",
    "DE",
    "JP",
    "CN",
    "KR",
    "US",
    "NO",
    "DK",
    "NL",
    "FR",
    "GB",
    "PL",
    "LV",
    "LT",
    "IT",
    "ES",
    "CA",
    "AU",
    "SG",
    "IN",
    "BR",
    "KE",
    "ZA",
    "NG",
    "VN",
    "TH",
    "ID",
    "MX",
    "CL",
    "AR",
    "NZ",
    "IS",
    "IE",
    "BE",
    "AT",
    "CH",
    "CZ",
    "HU",
    "PT",
    "GR",
    "TR",
    "UA",
    "GE",
    "AE",
    "SA",
    "IL",
    "EG",
    "MA",
    "TZ",
]
COUNTRY_WEIGHTS = [1 / (i + 1) for i in range(len(COUNTRIES))]  # Zipf: neighbours and big partners dominate
LANGUAGES, LANGUAGE_WEIGHTS = ["en", "fi", "sv"], [70, 20, 10]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ infrastructure


def local_server(script: str) -> str:
    """Start (or reuse) a local server with the project's own deploy script; it prints the address."""
    result = subprocess.run([str(ROOT / "deploy" / script), "start"], capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"deploy/{script} start failed:\n{result.stderr[-2000:]}")
    return result.stdout.strip().splitlines()[-1]


def infrastructure() -> tuple[str, str]:
    """(PostgreSQL URL, Kafka bootstrap): the same servers the tests use."""
    postgres = os.environ.get("DATABASE_URL") or local_server("postgres.sh")
    kafka = os.environ.get("VISITDESK_TEST_KAFKA") or local_server("kafka.sh")
    return postgres, kafka


async def fresh_database(postgres_url: str, service: str, *, migrate: bool = True) -> str:
    """A new database on the server, migrated to head with shared.migrations.upgrade."""
    name = f"bench_{service}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = f"{postgres_url.rsplit('/', 1)[0]}/{name}"
    if migrate:
        await asyncio.to_thread(upgrade, service, url)
    return url


async def drop_database(postgres_url: str, url: str) -> None:
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await conn.close()


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def topic_prefix() -> str:
    return f"bench{uuid.uuid4().hex[:8]}."


def service_env(service: str, database_url: str, kafka: str, prefix: str, **extra: str) -> dict[str, str]:
    """The process environment of one service: its database, the broker, this run's topics, default settings."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL") and not k.startswith("VISITDESK_")}
    return (
        env
        | {
            f"{service.upper()}_DATABASE_URL": database_url,
            "VISITDESK_KAFKA_BOOTSTRAP": kafka,
            "VISITDESK_TOPIC_PREFIX": prefix,
            "VISITDESK_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(SOURCE),
        }
        | extra
    )


class Server:
    """One uvicorn process (optionally under pyinstrument); SIGINT stops it so a profile gets written."""

    def __init__(
        self, name: str, app: str, env: dict[str, str], *, workers: int = WORKERS, profile: Path | None = None
    ):
        self.name, self.app, self.env, self.workers, self.profile = name, app, env, workers, profile
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        RESULTS.mkdir(parents=True, exist_ok=True)
        self.log_path = RESULTS / f"{name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> None:
        command = [
            "-m",
            "uvicorn",
            "--factory",
            self.app,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        if self.profile is not None:
            command = ["-m", "pyinstrument", "--renderer", "text", "--show-all", "-o", str(self.profile), *command]
        log_file = open(self.log_path, "ab")
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, *command],
            cwd=SOURCE,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        log_file.close()

    async def start(self, *, timeout: float = 120) -> "Server":
        """Spawn and wait until /readyz answers 200, or at least /healthz (see below)."""
        self.spawn()
        try:
            await self.wait_ok("/healthz", timeout)
        except BaseException:
            await self.stop()
            raise
        try:
            await self.wait_ok("/readyz", 45)
        except RuntimeError:
            # /readyz asks the broker for the metadata of every topic it has, with a 2 s timeout; on a test
            # broker holding thousands of topics that alone takes longer (bench/README.md, finding E).
            log(f"{self.name}: /readyz still failing after 45 s; going on with /healthz only")
        return self

    async def wait_ok(self, path: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited while starting; see {self.log_path}")
                try:
                    if (await client.get(path)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} {path} not OK within {timeout:.0f}s; see {self.log_path}")
                await asyncio.sleep(0.1)

    async def stop(self, timeout: float = 60) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if self.process.poll() is None:
            self.process.kill()
            await asyncio.to_thread(self.process.wait)


def cpu_seconds(pid: int) -> float:
    """User+system CPU of a process and its worker children so far (Linux /proc)."""
    total, pids = 0.0, [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        pids += [int(p) for p in task.read_text().split()]
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def bearer(role: str, division: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(TOKENS, role=role, division=division)}"}


# ------------------------------------------------------------------ what delegations send


def visit_payload(rng: random.Random, today: date | None = None, *, organisation: str | None = None) -> dict:
    """A valid `POST /api/v1/requests` body with a realistic mix of focus areas, ranks, countries and dates."""
    today = today or date.today()
    primary = rng.choices(FOCUS_AREAS, FOCUS_WEIGHTS)[0]
    others = rng.sample([a for a in FOCUS_AREAS if a != primary], k=rng.choices([0, 1, 2], [60, 30, 10])[0])
    start = today + timedelta(days=rng.randint(14, 200))
    return request_body(
        organisation=organisation or f"Bench Organisation {rng.randint(1, 5000)}",
        country=rng.choices(COUNTRIES, COUNTRY_WEIGHTS)[0],
        contact={"name": "Bench Contact", "email": f"delegation{rng.randint(1, 10**9)}@bench.example.org"},
        language=rng.choices(LANGUAGES, LANGUAGE_WEIGHTS)[0],
        focus_areas=[primary, *others],
        delegation_size=rng.randint(2, 40),
        highest_rank=rng.choices(RANKS, RANK_WEIGHTS)[0],
        preferred_dates=[{"start": start.isoformat(), "end": (start + timedelta(days=rng.randint(0, 4))).isoformat()}],
        purpose="Study visit on how the city organises its services; " * rng.randint(1, 6),
        members=[{"name": f"Member {i}", "title": "Adviser"} for i in range(rng.randint(0, 4))],
        needs={"press": rng.random() < 0.1, "interpreter_language": None},
    )


# ------------------------------------------------------------------ load and statistics


@dataclass
class LoadResult:
    ok: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    client_cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0


async def closed_loop(
    client: httpx.AsyncClient,
    make_request,
    *,
    concurrency: int,
    seconds: float,
    max_requests: int = 1_000_000,
    expect: int = 201,
) -> LoadResult:
    """`concurrency` workers each send one request at a time until the time or the count runs out."""
    result, sent = LoadResult(), 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal sent
        while time.perf_counter() < deadline and sent < max_requests:
            sent += 1
            method, url, kwargs = make_request()
            began = time.perf_counter()
            try:
                response = await client.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                result.errors += 1
                result.error_samples = ([*result.error_samples, repr(exc)])[-3:]
                continue
            if response.status_code == expect:
                result.ok += 1
                result.latencies.append(time.perf_counter() - began)
            else:
                result.errors += 1
                result.error_samples = ([*result.error_samples, f"{response.status_code} {response.text[:200]}"])[-3:]

    cpu, began = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed, result.client_cpu = time.perf_counter() - began, time.process_time() - cpu
    return result


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def spread(values: list[float]) -> str:
    """`median (min–max, ±x% around the median)` for repeated measurements."""
    middle = statistics.median(values)
    width = (max(values) - min(values)) / 2 / middle * 100 if middle else 0
    return f"{middle:.1f} (min {min(values):.1f}, max {max(values):.1f}, ±{width:.0f}%)"


def ms(seconds: float) -> float:
    return seconds * 1000


def save(name: str, data: dict) -> Path:
    """Write a benchmark's figures as JSON under var/bench/ (the summary reads them)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    return path
