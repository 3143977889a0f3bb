"""Faults one at a time while delegations submit; then wait until every check passes and time the recovery."""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.faults.checks import Checker, Verdict
from tests.faults.infra import Infra
from tests.faults.workload import Submission, WeekBook, Workload, new_submission
from visitdesk.cluster import Cluster


@dataclass
class Rig:
    """Everything a fault needs to act on."""

    infra: Infra
    cluster: Cluster
    checker: Checker
    book: WeekBook = field(default_factory=WeekBook)
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:6])


async def kill_broker(rig: Rig) -> None:
    rig.infra.kill_broker()
    await asyncio.sleep(2)
    await rig.infra.start_broker()


def kill_service(service: str) -> Callable[[Rig], Awaitable[None]]:
    async def fault(rig: Rig) -> None:
        await rig.cluster.kill(service)
        await asyncio.sleep(2)
        await rig.cluster.restart(service)

    return fault


async def restart_postgres(rig: Rig) -> None:
    await rig.infra.restart_postgres()


async def cut_kafka(rig: Rig) -> None:
    await rig.infra.proxy.cut(10)


FAULTS: dict[str, Callable[[Rig], Awaitable[None]]] = {
    "broker SIGKILL + restart": kill_broker,
    "visits SIGKILL + restart": kill_service("visits"),
    "notifications SIGKILL + restart": kill_service("notifications"),
    "capacity SIGKILL + restart": kill_service("capacity"),
    "protocol SIGKILL + restart": kill_service("protocol"),
    "postgres restart": restart_postgres,
    "kafka network cut 10 s": cut_kafka,
}
# A notifications process killed between the SMTP server's "250 accepted" and its own commit sends that
# e-mail again (same Message-ID, so mail clients can fold the copies): no SMTP sender can close that window.
# Everywhere else a resent e-mail is a defect.
RESENDS_EXCUSED = {"notifications SIGKILL + restart"}
# `make test`: faults whose outcome does not hinge on what was in flight at the instant of the kill. Killing
# visits or notifications mid-request can hit the commit-to-answer window (see the README's Reliability section).
SHORT = ["broker SIGKILL + restart", "capacity SIGKILL + restart", "kafka network cut 10 s"]


@dataclass
class Outcome:
    fault: str
    requests: int
    acknowledged: int
    lost: int
    duplicated: int
    recovery: float | None  # seconds from the end of the fault until every check passed; None: never
    verdict: Verdict
    failed_attempts: int
    errors: list[str]

    @property
    def ok(self) -> bool:
        resends_ok = not self.verdict.resent or self.fault in RESENDS_EXCUSED
        return self.verdict.passed and resends_ok and not self.errors and self.acknowledged == self.requests


@asynccontextmanager
async def rig(workdir: Path, log: Callable[[str], None] = print):
    """Own PostgreSQL, own broker behind the proxy, and the four services as processes."""
    infra = Infra()
    t0 = time.monotonic()
    cluster = None
    try:
        await infra.proxy.start()  # its port is the bootstrap the services are given
        await infra.start_postgres()
        cluster = Cluster(postgres_url=infra.postgres_url, kafka_bootstrap=infra.bootstrap, workdir=workdir)
        # The broker boots while the services import; they wait for it, as they would in production.
        await asyncio.gather(infra.start_kafka(), cluster.start())
        log(
            f"own PostgreSQL, own broker behind {infra.bootstrap} and four services ready in "
            f"{time.monotonic() - t0:.0f} s"
        )
        yield Rig(infra, cluster, Checker(cluster, infra.bootstrap))
    finally:
        if cluster is not None:
            await cluster.stop()
        await infra.stop()


async def run_fault(
    rig: Rig,
    name: str,
    requests: int,
    *,
    rate: float = 5.0,
    settle_timeout: float = 240,
    log: Callable[[str], None] = print,
) -> Outcome:
    """Submit `requests` at `rate`/s (every third accepted), inject the fault a quarter in, then check until all
    pass."""
    batch = [new_submission(rig.run, _slug(name), i, accept=i % 3 == 0) for i in range(requests)]
    # A browser waits a minute for an answer; it retries sooner only when the connection breaks or a 5xx comes.
    async with httpx.AsyncClient(base_url=rig.cluster.url("visits"), timeout=60) as client:
        workload = asyncio.create_task(Workload(client, rig.book).run(batch, rate))
        await asyncio.sleep(requests / rate / 4)
        log(f"  {name}: injecting")
        started = time.monotonic()
        await FAULTS[name](rig)
        fault_end = time.monotonic()
        log(f"  {name}: fault over after {fault_end - started:.1f} s; waiting for the submissions")
        await workload
    recovery, verdict = await _until_recovered(rig.checker, batch, fault_end, settle_timeout, log)
    acknowledged = [s for s in batch if s.reference]
    return Outcome(
        fault=name,
        requests=requests,
        acknowledged=len(acknowledged),
        lost=verdict.lost,
        duplicated=verdict.duplicated,
        recovery=recovery,
        verdict=verdict,
        failed_attempts=sum(s.failed_attempts for s in batch),
        errors=[f"{s.marker}: {e}" for s in batch for e in s.errors],
    )


async def _until_recovered(
    checker: Checker, batch: list[Submission], fault_end: float, timeout: float, log: Callable[[str], None]
) -> tuple[float | None, Verdict]:
    deadline = time.monotonic() + timeout
    last_note = ""
    while True:
        try:
            verdict = await checker.verify(batch)
        except Exception as exc:  # a service or the broker still coming back
            verdict = Verdict(pending=[f"check failed: {exc!r}"[:300]])
        if not verdict.pending:
            return time.monotonic() - fault_end, verdict
        if time.monotonic() > deadline:
            return None, verdict
        note = verdict.pending[0]
        if note != last_note:
            log(f"    waiting: {note}" + (f" (+{len(verdict.pending) - 1} more)" if len(verdict.pending) > 1 else ""))
            last_note = note
        await asyncio.sleep(1)


async def run_suite(
    workdir: Path, faults: list[str], requests: int, *, rate: float = 5.0, log: Callable[[str], None] = print
) -> list[Outcome]:
    """Start the rig once and run each fault in turn on it."""
    outcomes = []
    async with rig(workdir, log) as r:
        for name in faults:
            outcome = await run_fault(r, name, requests, rate=rate, log=log)
            log(
                f"  {name}: {'ok' if outcome.ok else 'FAILED'}, recovery "
                f"{'never' if outcome.recovery is None else f'{outcome.recovery:.1f} s'}"
            )
            outcomes.append(outcome)
    return outcomes


def table(outcomes: list[Outcome]) -> str:
    """The fault table, as `make faults` prints it and the README shows it."""
    lines = [
        "| fault | requests | lost | duplicated | recovery s | client retries | e-mails checked | e-mails resent "
        "| events republished | result |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for o in outcomes:
        recovery = "never" if o.recovery is None else f"{o.recovery:.1f}"
        lines.append(
            f"| {o.fault} | {o.requests} | {o.lost} | {o.duplicated} | {recovery} | {o.failed_attempts} | "
            f"{o.verdict.mails} | {o.verdict.mail_copies} | {o.verdict.redelivered_events} | "
            f"{'ok' if o.ok else 'FAILED'} |"
        )
    return "\n".join(lines)


def problems(outcomes: list[Outcome]) -> list[str]:
    """Why a run failed, one line each (the first few per fault)."""
    out = []
    for o in outcomes:
        if o.acknowledged != o.requests:
            out.append(f"{o.fault}: only {o.acknowledged}/{o.requests} submissions were acknowledged")
        excused = " (excused: a crash after the send)" if o.fault in RESENDS_EXCUSED else ""
        for line in (o.verdict.violations + o.verdict.pending + o.errors + [r + excused for r in o.verdict.resent])[
            :10
        ]:
            out.append(f"{o.fault}: {line}")
    return out


def _slug(name: str) -> str:
    return name.split()[0]  # unique per fault: broker, visits, notifications, ...
