"""`visitdesk dev` brings up four healthy services on SQLite and stops them all on Ctrl-C."""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx


def _free_port_block(size: int = 4) -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + size < 65535 and all(_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no block of free ports")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_make_dev_runs_four_healthy_services_and_ctrl_c_stops_them(tmp_path, kafka_bootstrap):
    base = _free_port_block()
    dev = subprocess.Popen([sys.executable, "-m", "visitdesk.cli", "dev", "--port-base", str(base),
                            "--data-dir", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any("Ctrl-C" in line for line in lines):
            lines.append(dev.stdout.readline())
            assert dev.poll() is None, "".join(lines)
        output = "".join(lines)
        assert f"http://127.0.0.1:{base}/apply?lang=en" in output
        assert "division_officer (education)" in output
        for port in range(base, base + 4):
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
    finally:
        dev.send_signal(signal.SIGINT)
        dev.wait(timeout=60)
    assert all(_free(port) for port in range(base, base + 4))
    assert (tmp_path / "dev" / "visits.db").exists()
