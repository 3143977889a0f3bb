"""`visitdesk dev` brings up four healthy services on SQLite and stops them all on Ctrl-C."""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from visitdesk.cluster import free_ports


def _free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _start_dev(base: int, data_dir, *options: str) -> tuple[subprocess.Popen, list[str]]:
    """`visitdesk dev` on ports base..base+3, its output so far once it says Ctrl-C (or ends, or 180 s pass)."""
    dev = subprocess.Popen(
        [sys.executable, "-m", "visitdesk.cli", "dev", "--port-base", str(base), "--data-dir", str(data_dir), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    done = threading.Event()

    def read() -> None:  # in a thread: a silent process must not hold the test past its own deadline
        for line in dev.stdout:
            lines.append(line)
            if "Ctrl-C" in line:
                done.set()
        done.set()

    threading.Thread(target=read, daemon=True).start()
    # Five cold Python processes and four migrations: ~25 s alone, far more on a busy two-core machine.
    done.wait(180)
    return dev, lines


def _eventually_free(ports: range, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while not all(_free(port) for port in ports):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.mark.timeout(300)
def test_make_dev_runs_four_healthy_services_and_ctrl_c_stops_them(tmp_path, kafka_bootstrap):
    base = free_ports(4)
    dev, lines = _start_dev(base, tmp_path)
    try:
        output = "".join(lines)
        assert "Ctrl-C" in output and dev.poll() is None, output
        assert f"http://127.0.0.1:{base}/apply?lang=en" in output
        assert "division_officer (education)" in output
        assert f"Staff sign-in:    http://127.0.0.1:{base}/auth/dev" in output
        for port in range(base, base + 4):
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
        sign_in = httpx.get(f"http://127.0.0.1:{base}/auth/signin", params={"next": "/queue"})
        assert sign_in.headers["location"] == "/auth/dev?next=%2Fqueue&lang=fi"
        assert "Sign in: Communications" in httpx.get(f"http://127.0.0.1:{base}/auth/dev?lang=en").text
    finally:
        dev.send_signal(signal.SIGINT)
        dev.wait(timeout=60)
    assert all(_free(port) for port in range(base, base + 4))
    assert (tmp_path / "dev" / "visits.db").exists()


@pytest.mark.timeout(300)
def test_make_dev_killed_outright_takes_its_services_with_it(tmp_path, kafka_bootstrap):
    base = free_ports(4)
    dev, lines = _start_dev(base, tmp_path)
    try:
        assert "Ctrl-C" in "".join(lines) and dev.poll() is None, "".join(lines)
        assert not any(_free(port) for port in range(base, base + 4))
    finally:
        dev.kill()  # no handler runs: only the children's parent-death signal can stop them
        dev.wait(timeout=60)
    assert _eventually_free(range(base, base + 4)), "services outlived a killed `visitdesk dev`"


@pytest.mark.timeout(300)
def test_a_service_that_cannot_start_stops_make_dev_naming_it_and_the_rest_stop_too(tmp_path, kafka_bootstrap):
    base = free_ports(4)
    with socket.socket() as taken:  # capacity's port is someone else's: its uvicorn exits at once
        taken.bind(("127.0.0.1", base + 3))
        taken.listen()
        dev = subprocess.run(
            [sys.executable, "-m", "visitdesk.cli", "dev", "--port-base", str(base), "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=240,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    assert dev.returncode == 1
    said = r"visitdesk dev: capacity exited with \d+ during start-up; stopping the rest"
    assert re.search(said, dev.stderr), dev.stderr
    assert "visitdesk dev: stopped" in dev.stdout
    assert all(_free(port) for port in range(base, base + 3))


@pytest.mark.timeout(300)
def test_make_dev_with_the_keycloak_switch_sends_staff_to_keycloaks_sign_in(tmp_path, kafka_bootstrap, keycloak_issuer):
    base = free_ports(4)
    dev, lines = _start_dev(base, tmp_path, "--keycloak", keycloak_issuer)
    try:
        output = "".join(lines)
        assert "Ctrl-C" in output and dev.poll() is None, output
        assert f"Staff sign in at Keycloak ({keycloak_issuer})" in output
        sign_in = httpx.get(f"http://127.0.0.1:{base}/auth/signin", params={"next": "/queue"})
        assert sign_in.status_code == 303
        assert sign_in.headers["location"].startswith(f"{keycloak_issuer}/protocol/openid-connect/auth?")
        assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in sign_in.headers["location"]
        assert httpx.get(f"http://127.0.0.1:{base}/auth/dev").status_code == 404
    finally:
        dev.send_signal(signal.SIGINT)
        dev.wait(timeout=60)
