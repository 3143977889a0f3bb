"""`visitdesk dev`: the embedded default — SQLite per service, a local broker, an SMTP sink, four services."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from shared.auth import mint_token
from shared.migrations import upgrade
from shared.settings import ServiceSettings
from visitdesk import FIRST_PORT, service_ports
from visitdesk.cluster import die_with_parent, free_port

ROOT = Path(__file__).resolve().parent.parent
DEV_TOKENS = [
    ("admin", None),
    ("communications", None),
    ("protocol_officer", None),
    ("division_officer", "education"),
    ("division_officer", "urban-environment"),
]


# The visitdesk client's secret in deploy/keycloak/visitdesk-realm.json: a fixture of the local test provider.
LOCAL_CLIENT_SECRET = "visitdesk-local-secret"


def start_local(script: str) -> tuple[str, bool]:
    """The project's local broker or Keycloak; returns what its script prints and whether this run started it."""
    was_running = subprocess.run([ROOT / "deploy" / script, "status"], capture_output=True).returncode == 0
    out = subprocess.run([ROOT / "deploy" / script, "start"], check=True, capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1], not was_running


def service_env(
    service: str, var: Path, bootstrap: str, smtp_port: int, port_base: int, issuer: str | None
) -> dict[str, str]:
    prefix = service.upper()
    provider = {"VISITDESK_OIDC_ISSUER": issuer, "VISITS_OIDC_CLIENT_SECRET": LOCAL_CLIENT_SECRET} if issuer else {}
    return {
        **os.environ,
        f"{prefix}_DATABASE_URL": f"sqlite:///{var / f'{service}.db'}",
        "VISITDESK_KAFKA_BOOTSTRAP": bootstrap,
        "VISITDESK_PUBLIC_BASE_URL": f"http://127.0.0.1:{port_base}",
        "NOTIFICATIONS_SMTP_HOST": "127.0.0.1",
        "NOTIFICATIONS_SMTP_PORT": str(smtp_port),
        **provider,
    }


def wait_healthy(ports: dict[str, int], children: dict[str, subprocess.Popen], timeout: float = 120) -> None:
    """Until every service answers /healthz; a process that exits meanwhile ends the wait at once."""
    deadline = time.monotonic() + timeout
    pending = {service: f"http://127.0.0.1:{port}/healthz" for service, port in ports.items()}
    while pending and time.monotonic() < deadline:
        if exited := first_exited(children):
            raise RuntimeError(f"{exited} exited with {children[exited].returncode} during start-up")
        for service, url in list(pending.items()):
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    del pending[service]
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    if pending:
        raise RuntimeError(f"not healthy within {timeout:.0f}s: {', '.join(pending)}")


def first_exited(children: dict[str, subprocess.Popen]) -> str | None:
    return next((name for name, child in children.items() if child.poll() is not None), None)


def progress(message: str) -> None:
    """Start-up takes a while on a small machine; say what it is doing (stderr: stdout is the welcome)."""
    print(f"visitdesk dev: {message}", file=sys.stderr, flush=True)


def run_dev(port_base: int = FIRST_PORT, data_dir: Path = ROOT / "var", keycloak: str | None = None) -> None:
    """Start everything, print where to go, and stop what was started on Ctrl-C.

    `keycloak`: staff sign in at a Keycloak instead of the development page; "local" starts (or reuses) the
    project's own (deploy/keycloak.sh), anything else is the issuer of one already running.
    """
    var = data_dir / "dev"
    var.mkdir(parents=True, exist_ok=True)
    # From the start, so a stop during start-up stops what was started; SIGINT too, which a parent running this
    # in the background may have set to be ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    children: dict[str, subprocess.Popen] = {}
    started_broker = started_keycloak = False
    issuer = None
    try:
        progress("starting (or reusing) the local Kafka broker")
        bootstrap, started_broker = start_local("kafka.sh")
        if keycloak == "local":
            progress("starting (or reusing) the local Keycloak; its first start takes a minute or two")
            issuer, started_keycloak = start_local("keycloak.sh")
        elif keycloak:
            issuer = keycloak
        progress(f"Kafka at {bootstrap}; migrating the SQLite databases and starting the services")
        smtp_port = free_port()
        children["mailsink"] = subprocess.Popen(
            [sys.executable, "-m", "visitdesk.mailsink", "--dir", str(data_dir / "mail"), "--port", str(smtp_port)],
            preexec_fn=die_with_parent,
        )
        ports = service_ports(port_base)
        for service, port in ports.items():
            env = service_env(service, var, bootstrap, smtp_port, port_base, issuer)
            upgrade(service, env[f"{service.upper()}_DATABASE_URL"])
            children[service] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    f"services.{service}.main:create_app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                    "--timeout-graceful-shutdown",
                    "5",
                ],  # tokens ride in query strings
                env=env,
                preexec_fn=die_with_parent,
            )  # a `kill -9` of this command takes them along
        progress("waiting for the services to answer /healthz")
        wait_healthy(ports, children)
        print_welcome(ports, bootstrap, smtp_port, issuer)
        while not (exited := first_exited(children)):
            time.sleep(0.5)
        progress(f"{exited} exited; stopping the rest")
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:  # a service did not come up (its own error is above): stop the rest
        progress(f"{exc}; stopping the rest")
        raise SystemExit(1) from None
    finally:
        for child in children.values():
            child.terminate()
        for child in children.values():
            child.wait(timeout=20)
        if started_broker:
            subprocess.run([ROOT / "deploy/kafka.sh", "stop"], check=False)
        if started_keycloak:
            subprocess.run([ROOT / "deploy/keycloak.sh", "stop"], check=False)
        print("visitdesk dev: stopped")


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def print_welcome(ports: dict[str, int], bootstrap: str, smtp_port: int, issuer: str | None) -> None:
    settings = ServiceSettings(database_url="unused")
    base = f"http://127.0.0.1:{ports['visits']}"
    print(f"\nvisitdesk is running (Kafka {bootstrap}, SMTP sink 127.0.0.1:{smtp_port} -> var/mail/)")
    for service, port in ports.items():
        print(f"  {service:<14} http://127.0.0.1:{port}/docs")
    print(f"\nThe public form:  {base}/apply?lang=en   (fi, sv too)")
    print(f"The queue:        {base}/queue")
    if issuer:
        print(f"Staff sign in at Keycloak ({issuer}) as a test user of deploy/keycloak/visitdesk-realm.json,")
        print("                  e.g. communications / communications-test-password")
    else:
        print(f"Staff sign-in:    {base}/auth/dev   (development: one click per role and division)")
    print("\nDevelopment tokens (Authorization: Bearer ...):")
    for role, division in DEV_TOKENS:
        label = f"{role}{f' ({division})' if division else ''}"
        print(f"  {label:<36} {mint_token(settings, role=role, division=division)}")
    print("\nCtrl-C stops everything this command started.", flush=True)
