"""Delegations submitting at a steady rate, retrying like a browser; division officers accepting some."""

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

import httpx

from shared.auth import mint_token
from shared.settings import ServiceSettings
from tests.builders import request_body

FOCUS_AREAS = ["smart-city", "climate", "innovation", "mobility", "education", "participation", "culture", "design"]
RANKS = ["head_of_state", "head_of_government", "minister", "ambassador", "mayor", "senior_official", "expert", "other"]
# The ranks Communications hears about (services/notifications/domain.py HIGH_LEVEL_RANKS).
PROMINENT_RANKS = {"head_of_state", "head_of_government", "minister", "ambassador", "mayor"}
COUNTRIES = ["SE", "EE", "DE", "JP", "KR", "US", "NL", "FR", "CN", "BR", "KE", "NO"]
LANGUAGES = ["fi", "sv", "en"]
EDUCATION_WEEKLY_LIMIT = 6  # DESIGN.md: education hosts 6 visits a week by default
TOKEN_SETTINGS = ServiceSettings(database_url="unused")  # the development secret every service verifies with


def staff_headers(role: str, division: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(TOKEN_SETTINGS, role=role, division=division)}"}


@dataclass
class Submission:
    """One delegation's request as the harness sent it, and what the API answered."""

    marker: str  # the organisation name: unique, so the stored rows can be counted
    payload: dict
    accept: bool
    started: float = 0.0  # wall clock of the first attempt
    acked: float | None = None  # wall clock of the 201
    reference: str | None = None
    division: str | None = None
    status: str | None = None
    attempts: int = 0
    failed_attempts: int = 0
    accepted: bool = False  # the accept decision was answered 200 (or 409 after an unanswered try)
    decision_attempts: int = 0
    decision_unanswered: bool = False  # sent, but no answer came: whether it was made is read back later
    errors: list[str] = field(default_factory=list)
    idempotency_key: str = field(default_factory=lambda: str(uuid.uuid4()))
    retried: list[str] = field(default_factory=list)  # why attempts failed, e.g. "POST ... ReadTimeout after 10.0 s"

    @property
    def contact_email(self) -> str:
        return self.payload["contact"]["email"]

    @property
    def prominent(self) -> bool:
        return self.payload["highest_rank"] in PROMINENT_RANKS or self.payload["needs"]["press"]

    @property
    def visit_date(self) -> str:
        return self.payload["preferred_dates"][0]["start"]


class WeekBook:
    """Keeps accepted education visits below the weekly limit, so no request is waitlisted by our own doing."""

    def __init__(self):
        self.education: dict[str, int] = {}

    def take(self, division: str, visit_date: str) -> bool:
        if division != "education":
            return True
        year, week, _ = date.fromisoformat(visit_date).isocalendar()
        key = f"{year}-W{week:02d}"
        if self.education.get(key, 0) >= EDUCATION_WEEKLY_LIMIT - 1:
            return False
        self.education[key] = self.education.get(key, 0) + 1
        return True


def new_submission(run: str, batch: str, i: int, *, accept: bool) -> Submission:
    """A valid request; focus areas, ranks, languages and press needs rotate so every rule gets exercised."""
    primary = FOCUS_AREAS[i % len(FOCUS_AREAS)]
    others = [FOCUS_AREAS[(i * 3 + 1) % len(FOCUS_AREAS)]] if i % 2 else []
    start = date.today() + timedelta(weeks=12 + (i * 7919 + sum(map(ord, batch))) % 150)
    marker = f"Reliability {run} {batch} #{i}"
    payload = request_body(
        organisation=marker,
        country=COUNTRIES[i % len(COUNTRIES)],
        contact={"name": f"Delegate {i}", "email": f"d-{run}-{batch}-{i}@example.org".lower()},
        language=LANGUAGES[i % len(LANGUAGES)],
        focus_areas=[primary] + [a for a in others if a != primary],
        delegation_size=1 + i % 30,
        highest_rank=RANKS[i % len(RANKS)],
        preferred_dates=[{"start": start.isoformat(), "end": (start + timedelta(days=4)).isoformat()}],
        purpose="Study visit planned by the reliability suite.",
        members=[],
        needs={"press": i % 5 == 0},
    )
    return Submission(marker=marker, payload=payload, accept=accept)


class Workload:
    """Submits at a steady rate; a 5xx or a broken connection is retried until `give_up_after` seconds."""

    def __init__(self, client: httpx.AsyncClient, book: WeekBook, *, give_up_after: float = 240.0):
        self.client, self.book, self.give_up_after = client, book, give_up_after

    async def run(self, submissions: list[Submission], rate: float) -> None:
        """Launch one task per submission on a fixed schedule (`rate` a second), then wait for all."""
        start = time.monotonic()
        tasks = []
        for i, submission in enumerate(submissions):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(self.submit_and_decide(submission)))
        await asyncio.gather(*tasks)

    async def submit_and_decide(self, submission: Submission) -> None:
        await self.submit(submission)
        if submission.reference and submission.accept and self.book.take(submission.division, submission.visit_date):
            await self.accept(submission)

    async def submit(self, submission: Submission) -> None:
        submission.started = time.time()
        # The same key on every attempt: an API that honours it can answer a retry with the first result.
        response = await self._retrying(
            "POST",
            "/api/v1/requests",
            submission,
            json=submission.payload,
            headers={"Idempotency-Key": submission.idempotency_key},
        )
        if response is None:
            return
        if response.status_code != 201:
            submission.errors.append(f"submit answered {response.status_code}: {response.text[:200]}")
            return
        body = response.json()
        submission.acked = time.time()
        submission.reference, submission.division, submission.status = (
            body["reference"],
            body["division"],
            body["status"],
        )

    async def accept(self, submission: Submission) -> None:
        """The owning division's officer accepts for the first preferred day."""
        decision = {"decision": "accept", "visit_date": submission.visit_date, "host": "Deputy Mayor"}
        attempts_before = submission.attempts
        response = await self._retrying(
            "POST",
            f"/api/v1/requests/{submission.reference}/decision",
            submission,
            json=decision,
            headers=staff_headers("division_officer", submission.division),
        )
        submission.decision_attempts = submission.attempts - attempts_before
        if response is None:
            return
        if response.status_code == 200 or (response.status_code == 409 and submission.decision_attempts > 1):
            submission.accepted = True  # a 409 after an unanswered try: that try went through
        else:
            submission.errors.append(f"decision answered {response.status_code}: {response.text[:200]}")

    async def _retrying(self, method: str, url: str, submission: Submission, **kwargs) -> httpx.Response | None:
        deadline = time.monotonic() + self.give_up_after
        while True:
            submission.attempts += 1
            sent = time.monotonic()
            try:
                response = await self.client.request(method, url, **kwargs)
                if response.status_code < 500:
                    return response
                problem = f"HTTP {response.status_code}"
            except httpx.TransportError as exc:
                problem = type(exc).__name__
            submission.failed_attempts += 1
            if len(submission.retried) < 5:
                submission.retried.append(
                    f"{method} {url.rsplit('/', 1)[-1]} {problem} after {time.monotonic() - sent:.1f} s"
                )
            if time.monotonic() > deadline:
                submission.errors.append(f"{method} {url} gave up: {problem}")
                return None
            await asyncio.sleep(0.5)
