"""The load run: a constant arrival rate (open loop) of submissions, listings and decisions for a fixed time."""

import asyncio
import os
import resource
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field

import httpx

from tests.builders import form_fields
from tests.faults.checks import Verdict, consumer_lags
from tests.faults.suite import Rig
from tests.faults.workload import Submission, new_submission, staff_headers
from visitdesk import SERVICES

# Of every 20 arrivals: 6 JSON submissions, 3 form submissions, 7 listings, 4 decisions.
MIX = [
    "api",
    "list",
    "form",
    "decide",
    "api",
    "list",
    "api",
    "list",
    "decide",
    "form",
    "api",
    "list",
    "decide",
    "api",
    "list",
    "form",
    "api",
    "list",
    "decide",
    "list",
]


@dataclass
class LoadReport:
    rate: float
    duration: float
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_samples: list[str] = field(default_factory=list)
    skipped: int = 0  # arrivals not sent because `max_in_flight` were outstanding (the client's own bound)
    elapsed: float = 0.0  # first arrival to last completion
    end_to_end: list[float] = field(default_factory=list)  # submission sent -> delegation's receipt stored
    missing_receipts: int = 0
    max_lag: tuple[int, str] = (0, "")
    drained_after: float | None = None
    verdict: Verdict | None = None
    load_average: tuple[float, float] = (0.0, 0.0)  # the machine's 1-minute load average at start and end
    harness_cpu: float = 0.0  # CPU seconds this process (load generator and Kafka proxy) used meanwhile
    service_cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds each service used meanwhile

    @property
    def sent(self) -> int:
        return sum(len(v) for v in self.latencies.values()) + sum(self.errors.values())

    def table(self) -> str:
        lines = ["| operation | sent | errors | p50 ms | p95 ms | p99 ms |", "|---|---:|---:|---:|---:|---:|"]
        kinds = sorted(set(self.latencies) | set(self.errors))
        for kind in [*kinds, "all"]:
            values = [v for k in kinds for v in self.latencies[k]] if kind == "all" else self.latencies[kind]
            errors = sum(self.errors.values()) if kind == "all" else self.errors[kind]
            p50, p95, p99 = _percentiles(values) if values else (float("nan"),) * 3
            lines.append(
                f"| {kind} | {len(values) + errors} | {errors} | {p50 * 1000:.0f} | {p95 * 1000:.0f} | "
                f"{p99 * 1000:.0f} |"
            )
        e50, e95, e99 = _percentiles(self.end_to_end) if self.end_to_end else (float("nan"),) * 3
        verdict = self.verdict
        lines += [
            "",
            f"- offered {self.rate:g}/s for {self.duration:g} s; achieved {self.sent / self.elapsed:.2f}/s "
            f"({self.sent} requests, {sum(self.errors.values())} errors, {self.skipped} not sent: client bound)",
            f"- submission -> delegation's e-mail: p50 {e50:.2f} s, p95 {e95:.2f} s, p99 {e99:.2f} s "
            f"over {len(self.end_to_end)} submissions ({self.missing_receipts} receipts missing)",
            f"- largest consumer lag: {self.max_lag[0]} messages ({self.max_lag[1] or 'none'}); everything drained "
            f"{'never' if self.drained_after is None else f'{self.drained_after:.1f} s'} after the last arrival",
            f"- machine: load average {self.load_average[0]:.1f} at the start, {self.load_average[1]:.1f} at the end "
            f"({os.cpu_count()} cores); CPU seconds used meanwhile: "
            + ", ".join(f"{name} {cpu:.0f}" for name, cpu in self.service_cpu.items())
            + f", load generator and Kafka proxy {self.harness_cpu:.0f}",
        ]
        if verdict is not None:
            lines.append(
                f"- afterwards: {verdict.lost} lost, {verdict.duplicated} duplicated, {verdict.mail_copies} "
                f"e-mails resent, {len(verdict.violations)} other violations, {len(verdict.pending)} "
                f"checks still pending"
            )
        return "\n".join(lines)


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) == 1:
        return values[0], values[0], values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


class LoadRun:
    """`rate` arrivals a second for `duration` seconds, whatever the answers take (bounded by `max_in_flight`)."""

    def __init__(self, rig: Rig, *, rate: float = 10.0, duration: float = 60.0, max_in_flight: int = 200):
        self.rig, self.rate, self.duration, self.max_in_flight = rig, rate, duration, max_in_flight
        self.report = LoadReport(rate=rate, duration=duration)
        self.submissions: list[Submission] = []
        self.undecided: list[Submission] = []
        self.sent_at: dict[str, float] = {}  # reference -> wall clock the submission was sent
        self.in_flight = 0
        self.comms, self.admin = staff_headers("communications"), staff_headers("admin")

    async def run(self) -> LoadReport:
        cpu_before, services_before = _cpu_seconds(), self._service_cpu()
        self.report.load_average = (os.getloadavg()[0], 0.0)
        sampler = asyncio.create_task(self._sample_lag())
        limits = httpx.Limits(max_connections=self.max_in_flight, max_keepalive_connections=50)
        async with httpx.AsyncClient(base_url=self.rig.cluster.url("visits"), timeout=10, limits=limits) as client:
            start, tasks = time.monotonic(), []
            for i in range(int(self.rate * self.duration)):
                await asyncio.sleep(max(0.0, start + i / self.rate - time.monotonic()))
                if self.in_flight >= self.max_in_flight:
                    self.report.skipped += 1
                    continue
                tasks.append(asyncio.create_task(self._operate(client, MIX[i % len(MIX)], i)))
            last_arrival = time.monotonic()
            await asyncio.gather(*tasks)
            self.report.elapsed = time.monotonic() - start
            self.report.load_average = (self.report.load_average[0], os.getloadavg()[0])
            self.report.harness_cpu = _cpu_seconds() - cpu_before
            self.report.service_cpu = {
                name: cpu - services_before.get(name, 0.0) for name, cpu in self._service_cpu().items()
            }
            await self._learn_outcomes(client)
        await self._wait_drained(last_arrival)
        sampler.cancel()
        self._end_to_end()
        try:
            self.report.verdict = await self.rig.checker.verify([s for s in self.submissions if s.division])
        except Exception as exc:  # e.g. a service still swamped: report it rather than lose the figures
            self.report.verdict = Verdict(pending=[f"final check failed: {exc!r}"])
        return self.report

    async def _operate(self, client: httpx.AsyncClient, kind: str, i: int) -> None:
        self.in_flight += 1
        started = time.monotonic()
        try:
            if kind == "decide" and not self.undecided:
                kind = "list"  # nothing routed to decide on yet
            ok = await getattr(self, f"_{kind}")(client, i)
        except httpx.HTTPError as exc:
            ok = f"{type(exc).__name__}"
        finally:
            self.in_flight -= 1
        if ok is True:
            self.report.latencies[kind].append(time.monotonic() - started)
        else:
            self.report.errors[kind] += 1
            if len(self.report.error_samples) < 10:
                self.report.error_samples.append(f"{kind}: {ok}")

    async def _api(self, client: httpx.AsyncClient, i: int) -> bool | str:
        submission = new_submission(self.rig.run, f"load{self.rate:g}-api", i, accept=True)
        self.submissions.append(submission)
        submission.started = time.time()
        response = await client.post("/api/v1/requests", json=submission.payload)
        if response.status_code != 201:
            return f"HTTP {response.status_code}"
        body = response.json()
        submission.reference, submission.division = body["reference"], body["division"]
        submission.acked = time.time()
        self.sent_at[submission.reference] = submission.started
        self.undecided.append(submission)
        return True

    async def _form(self, client: httpx.AsyncClient, i: int) -> bool | str:
        """What a browser does: fetch the form (CSRF cookie), post it, follow nothing: the 303 names the reference."""
        submission = new_submission(self.rig.run, f"load{self.rate:g}-form", i, accept=False)
        self.submissions.append(submission)
        p = submission.payload
        async with httpx.AsyncClient(base_url=client.base_url, timeout=10) as browser:
            page = await browser.get("/apply", params={"lang": p["language"]})
            if page.status_code != 200:
                return f"GET /apply HTTP {page.status_code}"
            fields = form_fields(p, csrf_token=browser.cookies["visitdesk_csrf"], lang=p["language"])
            submission.started = time.time()
            response = await browser.post("/apply", data=fields)
        location = response.headers.get("location", "")
        if response.status_code != 303 or "/apply/confirmation/" not in location:
            return f"POST /apply HTTP {response.status_code}"
        submission.reference = location.split("/apply/confirmation/")[1].split("?")[0]
        submission.acked = time.time()
        self.sent_at[submission.reference] = submission.started
        return True

    async def _list(self, client: httpx.AsyncClient, i: int) -> bool | str:
        if i % 2:
            response = await client.get("/api/v1/requests", params={"limit": 50}, headers=self.comms)
        else:
            division = ["education", "urban-environment", "culture-and-leisure"][i % 3]
            response = await client.get(
                "/api/v1/requests",
                params={"limit": 50, "status": "routed"},
                headers=staff_headers("division_officer", division),
            )
        return True if response.status_code == 200 else f"HTTP {response.status_code}"

    async def _decide(self, client: httpx.AsyncClient, i: int) -> bool | str:
        submission = self.undecided.pop(0)
        if not self.rig.book.take(submission.division, submission.visit_date):
            return await self._list(client, i)  # that education week is nearly full: leave it routed
        submission.decision_unanswered = True  # until answered: a decision that times out may still be made
        response = await client.post(
            f"/api/v1/requests/{submission.reference}/decision",
            json={"decision": "accept", "visit_date": submission.visit_date, "host": "Deputy Mayor"},
            headers=staff_headers("division_officer", submission.division),
        )
        submission.decision_unanswered = False
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        submission.accepted = True
        return True

    def _service_cpu(self) -> dict[str, float]:
        """utime + stime of each service process so far, from /proc (Linux); empty elsewhere."""
        ticks, found = os.sysconf("SC_CLK_TCK"), {}
        for name, process in self.rig.cluster.processes.items():
            try:
                fields = open(f"/proc/{process.pid}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[name] = (int(fields[11]) + int(fields[12])) / ticks
        return found

    async def _learn_outcomes(self, client: httpx.AsyncClient) -> None:
        """What the answers did not say, read back as staff: a form request's division, an unanswered decision."""
        for submission in [s for s in self.submissions if s.reference and (not s.division or s.decision_unanswered)]:
            response = await client.get(f"/api/v1/requests/{submission.reference}", headers=self.admin, timeout=60)
            response.raise_for_status()
            submission.division = response.json()["division"]
            if submission.decision_unanswered:
                submission.accepted = response.json()["status"] == "accepted"

    async def _sample_lag(self) -> None:
        async with httpx.AsyncClient(timeout=5) as http:
            while True:
                for service in SERVICES:
                    try:
                        text = (await http.get(f"{self.rig.cluster.url(service)}/metrics")).text
                    except httpx.HTTPError:
                        continue
                    lag = consumer_lags(text, service)
                    if lag > self.report.max_lag[0]:
                        self.report.max_lag = (lag, service)
                await asyncio.sleep(1)

    async def _wait_drained(self, last_arrival: float, timeout: float = 180) -> None:
        """Until every receipt arrived and the checks pass for what was submitted."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                verdict = await self.rig.checker.verify([s for s in self.submissions if s.division])
            except Exception:
                verdict = Verdict(pending=["check failed"])
            if not verdict.pending:
                self.report.drained_after = time.monotonic() - last_arrival
                return
            await asyncio.sleep(1)

    def _end_to_end(self) -> None:
        arrived = self.rig.checker.mailbox.by_reference()
        for submission in self.submissions:
            if not submission.reference:
                continue
            receipts = [
                at
                for recipients, _, at in arrived.get(submission.reference, [])
                if submission.contact_email in recipients
            ]
            if receipts:
                self.report.end_to_end.append(min(receipts) / 1e9 - self.sent_at[submission.reference])
            else:
                self.report.missing_receipts += 1


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
