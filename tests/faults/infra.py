"""The fault suite's own PostgreSQL cluster and Kafka broker (never the session's shared ones), Kafka behind a proxy."""

import asyncio
import os
import shutil
import signal
import tempfile
from pathlib import Path

from tests.faults.proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]


class Infra:
    """`VISITDESK_VAR=<tmp>` copies of deploy/postgres.sh and deploy/kafka.sh; the broker advertises the proxy."""

    def __init__(self):
        # Short path: PostgreSQL's unix socket path must stay under 108 bytes.
        self.var = Path(tempfile.mkdtemp(prefix="vdfaults-"))
        self.var.chmod(0o755)  # deploy/postgres.sh runs the server as the postgres user when we are root
        self.outer_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # the project's own var/
        self.env = self.outer_env | {"VISITDESK_VAR": str(self.var)}
        self.proxy = TcpProxy(self._broker_listener)
        self.postgres_url = ""

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.proxy.port}"

    async def start_postgres(self) -> str:
        self.postgres_url = await _script("postgres.sh", "start", self.env)
        return self.postgres_url

    async def start_kafka(self) -> None:
        """Start the proxy before this: the broker's readiness check already goes through it."""
        await self._share_kafka_jars()
        await self.start_broker()

    async def stop(self) -> None:
        for script in ("kafka.sh", "postgres.sh"):
            try:
                await _script(script, "stop", self.env)
            except RuntimeError:
                pass
        await self.proxy.stop()
        shutil.rmtree(self.var, ignore_errors=True)

    async def start_broker(self) -> None:
        env = self.env | {"KAFKA_ADVERTISED_PORT": str(self.proxy.port), "KAFKA_READY_TIMEOUT": "120"}
        bootstrap = await _script("kafka.sh", "start", env)
        assert bootstrap == self.bootstrap, f"broker advertises {bootstrap}, proxy is {self.bootstrap}"

    def kill_broker(self) -> None:
        """SIGKILL the broker JVM: no controlled shutdown, the log recovers on the next start."""
        os.kill(int((self.var / "kafka" / "broker.pid").read_text()), signal.SIGKILL)

    async def restart_postgres(self) -> None:
        await _script("postgres.sh", "restart", self.env)

    def _broker_listener(self) -> tuple[str, int]:
        return "127.0.0.1", int((self.var / "kafka" / "ports").read_text().split()[0])

    async def _share_kafka_jars(self) -> None:
        """Fetch once into the project's var/ (under kafka.sh's lock), then link: no Maven run per suite."""
        await _script("kafka.sh", "fetch", self.outer_env)
        libs = Path(self.outer_env.get("VISITDESK_VAR", ROOT / "var")).resolve() / "kafka" / "libs"
        (self.var / "kafka").mkdir(parents=True, exist_ok=True)
        (self.var / "kafka" / "libs").symlink_to(libs)


async def _script(name: str, command: str, env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        str(ROOT / "deploy" / name),
        command,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"deploy/{name} {command} failed ({process.returncode}):\n{err.decode()[-3000:]}")
    lines = out.decode().strip().splitlines()
    return lines[-1] if lines else ""
