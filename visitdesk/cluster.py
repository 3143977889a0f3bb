"""The four services as separate processes on real PostgreSQL, Kafka and SMTP: for fault tests and benchmarks.

    async with Cluster(postgres_url=..., kafka_bootstrap=..., workdir=tmp) as cluster:
        cluster.url("visits")          # http://127.0.0.1:<port>
        await cluster.kill("visits")   # SIGKILL, no goodbye
        await cluster.restart("visits")

Each service gets a fresh database on the given server (migrated to head), every process the same
unique topic prefix, and notifications an SMTP sink (`visitdesk.mailsink`) writing .eml files
under `workdir/mail`. Service output goes to `workdir/logs/<service>.log`.

The processes run a copy of the code taken at start() (`workdir/src`), like a deployed image: a
restart brings back the same version even while someone edits the tree.
"""

import asyncio
import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

from visitdesk import SERVICES

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("services", "shared", "visitdesk")  # what the processes import; copied at start
# Quick retries so a test sees recovery in seconds; one client address may submit as often as it likes.
FAST_SETTINGS = {
    "NOTIFICATIONS_RETRY_BASE_SECONDS": "0.5",
    "NOTIFICATIONS_RETRY_MAX_SECONDS": "5",
    "NOTIFICATIONS_MAX_ATTEMPTS": "30",
    "NOTIFICATIONS_DISPATCHER_POLL_SECONDS": "0.2",
    "NOTIFICATIONS_SEND_LEASE_SECONDS": "10",
    "NOTIFICATIONS_SMTP_TIMEOUT_SECONDS": "5",
    "VISITS_SUBMIT_RATE_LIMIT": "1000000",
}


def free_port() -> int:
    return free_ports(1)


def free_ports(count: int) -> int:
    """The first of `count` consecutive ports of 127.0.0.1 that nothing holds, outside the ephemeral range.

    A server started later binds them, so they must not be ones the kernel may give a client socket as its
    local port in the meantime (a port from bind(0) is one: `make dev`'s test once lost two of its four so).
    """
    low, high = _ephemeral_range()
    spans = [(lo, hi) for lo, hi in ((10_000, low), (high + 1, 65_536)) if hi - lo > 1_000 + count]
    for _ in range(200):
        lo, hi = spans[secrets.randbelow(len(spans))] if spans else (1_024, 65_536)
        base = lo + secrets.randbelow(hi - lo - count)
        if all(_bindable(base + i) for i in range(count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports on 127.0.0.1")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32_768, 60_999  # Linux's default


def _bindable(port: int) -> bool:
    """Without SO_REUSEADDR, bind fails on a port any socket holds, listening, connected or in TIME_WAIT."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def die_with_parent() -> None:
    """Runs in the child before exec: a harness killed outright takes its services with it (Linux)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Cluster:
    """Start, kill, restart and stop the services; ports, databases and topics are this cluster's own."""

    def __init__(
        self,
        *,
        postgres_url: str,
        kafka_bootstrap: str,
        workdir: Path | str,
        topic_prefix: str | None = None,
        env: dict[str, str] | None = None,
        log_level: str = "WARNING",
        source: Path | str = ROOT,
    ):
        self.postgres_url, self.kafka_bootstrap = postgres_url, kafka_bootstrap
        self.workdir = Path(workdir)
        self.topic_prefix = topic_prefix if topic_prefix is not None else f"c{uuid.uuid4().hex[:10]}."
        self.extra_env = {**FAST_SETTINGS, **(env or {})}
        self.log_level = log_level
        self.mail_dir = self.workdir / "mail"
        self.source = Path(source)  # the tree whose code runs (e.g. a scratch copy with a patch applied)
        self.src = self.workdir / "src"
        self.ports = {service: free_port() for service in SERVICES}
        self.smtp_port = free_port()
        self.databases: dict[str, str] = {}
        self.processes: dict[str, subprocess.Popen] = {}
        self.sink: subprocess.Popen | None = None

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def database_url(self, service: str) -> str:
        return self.databases[service]

    async def __aenter__(self) -> "Cluster":
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *_) -> None:
        await self.stop()

    async def start(self) -> None:
        """Databases, the mail sink, then all four services, ready (database and Kafka reachable)."""
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        self._copy_code()
        for service in SERVICES:
            self.databases[service] = await self._create_database(service)
        await self._migrate()
        self._start_sink()
        await _wait_for_port(self.smtp_port, self.sink, "mailsink")
        for service in SERVICES:
            self._spawn(service)
        await asyncio.gather(*(self.wait_ready(service) for service in SERVICES))

    async def kill(self, service: str) -> None:
        """SIGKILL: no shutdown hook runs, whatever was in flight is cut off."""
        process = self.processes.pop(service)
        process.kill()
        await _wait_exit(process)

    async def restart(self, service: str, *, ready: bool = True) -> None:
        """Start the service again on its port (stopping it first if it runs); wait for /readyz unless told not to."""
        if service in self.processes:
            await self._terminate(self.processes.pop(service))
        self._spawn(service)
        if ready:
            await self.wait_ready(service)
        else:
            await self.wait_healthy(service)

    async def stop(self, *, drop_databases: bool = True) -> None:
        """SIGTERM everything (SIGKILL after 20 s), then drop this cluster's databases."""
        processes = list(self.processes.values()) + ([self.sink] if self.sink else [])
        self.processes, self.sink = {}, None
        await asyncio.gather(*(self._terminate(p) for p in processes))
        if drop_databases:
            for name in [url.rsplit("/", 1)[1] for url in self.databases.values()]:
                await self._drop_database(name)
            self.databases = {}

    async def wait_healthy(self, service: str, timeout: float = 90) -> None:
        await self._wait_ok(service, "/healthz", timeout)

    async def wait_ready(self, service: str, timeout: float = 120) -> None:
        await self._wait_ok(service, "/healthz", timeout)
        await self._wait_ok(service, "/readyz", timeout)

    def log_tail(self, service: str, lines: int = 30) -> str:
        path = self.workdir / "logs" / f"{service}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    # ------------------------------------------------------------ internals

    def _copy_code(self) -> None:
        shutil.rmtree(self.src, ignore_errors=True)
        for package in PACKAGES:
            shutil.copytree(self.source / package, self.src / package)

    async def _migrate(self) -> None:
        """Each database to head with the copied code's migrations, in a child process like a deploy job."""
        script = (
            "import sys\nfrom shared.migrations import upgrade\n"
            "for service, url in zip(sys.argv[1::2], sys.argv[2::2]):\n    upgrade(service, url)\n"
        )
        args = [part for item in self.databases.items() for part in item]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            script,
            *args,
            cwd=self.src,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"migrations failed:\n{output.decode()[-3000:]}")

    def _env(self, service: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.endswith("_DATABASE_URL")}
        return {
            **env,
            f"{service.upper()}_DATABASE_URL": self.databases[service],
            "VISITDESK_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "VISITDESK_TOPIC_PREFIX": self.topic_prefix,
            "VISITDESK_PUBLIC_BASE_URL": self.url("visits"),
            "VISITDESK_LOG_LEVEL": self.log_level,
            "NOTIFICATIONS_SMTP_HOST": "127.0.0.1",
            "NOTIFICATIONS_SMTP_PORT": str(self.smtp_port),
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }

    def _spawn(self, service: str) -> None:
        # Popen in the loop's own thread: the parent-death signal follows the thread that forked.
        log = open(self.workdir / "logs" / f"{service}.log", "ab")
        log.write(f"\n---- {time.strftime('%H:%M:%S')} starting {service}\n".encode())
        log.flush()
        self.processes[service] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                f"services.{service}.main:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.ports[service]),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=self.src,
            env=self._env(service),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        log.close()

    def _start_sink(self) -> None:
        log = open(self.workdir / "logs" / "mailsink.log", "ab")
        self.sink = subprocess.Popen(
            [sys.executable, "-m", "visitdesk.mailsink", "--dir", str(self.mail_dir), "--port", str(self.smtp_port)],
            cwd=self.src,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        log.close()

    async def _wait_ok(self, service: str, path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.url(service), timeout=2) as client:
            while True:
                process = self.processes.get(service)
                if process is None or process.poll() is not None:
                    raise RuntimeError(f"{service} exited while starting:\n{self.log_tail(service)}")
                try:
                    if (await client.get(path)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{service} {path} not OK within {timeout:.0f}s:\n{self.log_tail(service)}")
                await asyncio.sleep(0.2)

    async def _create_database(self, service: str) -> str:
        name = f"vd_{service}_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(self.postgres_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return f"{self.postgres_url.rsplit('/', 1)[0]}/{name}"

    async def _drop_database(self, name: str) -> None:
        try:
            conn = await asyncpg.connect(self.postgres_url)
        except (OSError, asyncpg.PostgresError):
            return  # the server is gone already: nothing to clean
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    @staticmethod
    async def _terminate(process: subprocess.Popen) -> None:
        if process.poll() is None:
            process.terminate()
            try:
                await asyncio.wait_for(_wait_exit(process), 20)
            except TimeoutError:
                process.kill()
                await _wait_exit(process)


async def _wait_exit(process: subprocess.Popen) -> None:
    while process.poll() is None:
        await asyncio.sleep(0.05)


async def _wait_for_port(port: int, process: subprocess.Popen, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited while starting")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} not listening on {port} within {timeout:.0f}s") from None
            await asyncio.sleep(0.1)
