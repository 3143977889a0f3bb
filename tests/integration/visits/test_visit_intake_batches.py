"""Submissions that arrive while a transaction is being written wait for it and are stored together in the next."""

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.exc import IntegrityError

from services.visits import models
from tests.builders import request_body
from tests.integration.visits.running import someone_waits_for_a_lock
from tests.support import envelopes, eventually, unique


@asynccontextmanager
async def queued_behind_a_held_submission(
    visits, *, first_fails: bool = False, meanwhile: str = ""
) -> AsyncIterator[Callable[..., asyncio.Task]]:
    """Hold the reference counter, so the intake's writer waits on a first submission; what is posted meanwhile
    queues, and goes into one transaction when the hold ends. Yields `post(body, headers)`, which starts a post and
    returns once the intake holds it. `meanwhile`: SQL run by the holder before it lets go."""
    holder = await asyncpg.connect(visits.settings.database_url)
    intake = visits.app.state.intake
    try:
        async with holder.transaction():
            await holder.execute("LOCK TABLE reference_counters IN EXCLUSIVE MODE")  # the bump of a reference waits
            first = asyncio.create_task(visits.client.post("/api/v1/requests", json=request_body()))
            await eventually(lambda: someone_waits_for_a_lock(holder), timeout=30)
            posts: list[asyncio.Task] = []

            async def post(body: dict, headers: dict | None = None) -> asyncio.Task:
                posts.append(
                    asyncio.create_task(visits.client.post("/api/v1/requests", json=body, headers=headers or {}))
                )
                await eventually(queued, timeout=30)
                return posts[-1]

            async def queued() -> bool:
                return len(intake.waiting) == len(posts)

            yield post
            if meanwhile:
                await holder.execute(meanwhile)
        [outcome] = await asyncio.gather(first, return_exceptions=True)
        assert isinstance(outcome, IntegrityError) if first_fails else outcome.status_code == 201
    finally:
        await holder.close()


async def transactions_of(visits, references: list[str]) -> set[str]:
    """The ids of the transactions that wrote these requests (PostgreSQL's xmin)."""
    connection = await asyncpg.connect(visits.settings.database_url)
    try:
        return {
            row["xmin"]
            for row in await connection.fetch(
                "SELECT xmin::text AS xmin FROM requests WHERE reference = ANY($1)", references
            )
        }
    finally:
        await connection.close()


async def metrics(visits, *samples: str) -> list[float]:
    """Values of these samples (name with labels, as /metrics writes them)."""
    text = (await visits.client.get("/metrics")).text
    return [float(re.search(rf"^{re.escape(sample)} (\S+)$", text, re.M).group(1)) for sample in samples]


async def batches_of_three_or_four(visits) -> float:
    """How many transactions so far carried three or four submissions."""
    four, two = await metrics(
        visits, 'visitdesk_intake_batch_size_bucket{le="4.0"}', 'visitdesk_intake_batch_size_bucket{le="2.0"}'
    )
    return four - two


async def test_submissions_queued_together_are_one_transaction_with_consecutive_references(visits):
    organisation = unique("Batch ")
    before = await batches_of_three_or_four(visits)
    async with queued_behind_a_held_submission(visits) as post:
        tasks = [
            await post(request_body(organisation=organisation, focus_areas=[area]))
            for area in ("education", "culture", "climate", "mobility")
        ]
    answers = [(await task).json() for task in tasks]
    references = [answer["reference"] for answer in answers]
    numbers = [int(reference.rsplit("-", 1)[1]) for reference in references]
    assert numbers == list(range(numbers[0], numbers[0] + 4))  # in the order they came
    assert [answer["division"] for answer in answers] == [
        "education",
        "culture-and-leisure",
        "urban-environment",
        "urban-environment",
    ]
    assert len(await transactions_of(visits, references)) == 1
    assert await batches_of_three_or_four(visits) == before + 1
    traces = set()
    for answer in answers:  # each has its own rows, both events, and its own request's trace
        [row] = await visits.rows(models.VisitRequest, models.VisitRequest.reference == answer["reference"])
        records = await visits.events(row.id, 2)
        assert [e["type"] for e in envelopes(records)] == ["visit.submitted.v1", "visit.routed.v1"]
        assert await visits.count(models.HistoryEntry, models.HistoryEntry.request_id == row.id) == 2
        [trace] = {dict(r.headers)["traceparent"].split(b"-")[1] for r in records}
        traces.add(trace)
    assert len(traces) == 4


async def test_a_later_submission_of_the_same_batch_is_flagged_as_a_duplicate_of_the_earlier(visits):
    organisation = unique("Twice ")
    async with queued_behind_a_held_submission(visits) as post:
        first = await post(request_body(organisation=organisation))
        again = await post(request_body(organisation=organisation.upper()))  # the same organisation, as typed
    first, again = (await first).json(), (await again).json()
    assert len(await transactions_of(visits, [first["reference"], again["reference"]])) == 1
    assert "possible_duplicate" not in first["flags"] and "possible_duplicate" in again["flags"]
    assert (await visits.view(again["reference"]))["duplicate_of"] == first["reference"]


async def test_one_key_twice_in_a_batch_is_stored_once_and_answered_alike_without_failing_the_batch(visits):
    """A double click: the second with the same body gets the first's answer, another body under that key a 422;
    the others in the batch are not held up by a failed transaction, and no reference number is spent on them."""
    key, splits = unique("twice-"), await _splits(visits)
    body = request_body()
    async with queued_behind_a_held_submission(visits) as post:
        plain = await post(request_body())
        keyed = [await post(b, {"Idempotency-Key": key}) for b in (body, body, request_body(delegation_size=6))]
        last = await post(request_body())
    answers = [await task for task in (plain, *keyed, last)]
    assert [a.status_code for a in answers] == [201, 201, 201, 422, 201], [a.text for a in answers]
    assert answers[1].json() == answers[2].json() and "Idempotency-Key" in answers[3].text
    stored = [answers[i].json()["reference"] for i in (0, 1, 4)]
    numbers = sorted(int(reference.rsplit("-", 1)[1]) for reference in stored)
    assert numbers == list(range(numbers[0], numbers[0] + 3))
    assert len(await transactions_of(visits, stored)) == 1
    assert await _splits(visits) == splits


async def test_a_submission_that_fails_its_batch_fails_alone(visits):
    """The counter is set back so that the first of a batch gets a reference already taken: the transaction fails,
    each is tried on its own, and only that one is refused."""
    splits = await _splits(visits)
    async with queued_behind_a_held_submission(
        visits,
        first_fails=True,  # the held one gets the other number already taken
        meanwhile="UPDATE reference_counters SET last_value = last_value - 2",
    ) as post:
        tasks = [await post(request_body()) for _ in range(3)]
    failed, *answers = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(failed, IntegrityError) and "uq_requests_reference" in str(failed)  # a 500 over HTTP
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    assert len(await transactions_of(visits, [a.json()["reference"] for a in answers])) == 2
    assert await _splits(visits) == splits + 1


async def _splits(visits) -> float:
    [splits] = await metrics(visits, "visitdesk_intake_batches_split_total")
    return splits
