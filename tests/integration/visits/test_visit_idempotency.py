"""Retried submissions: an Idempotency-Key (API) or the form's nonce stores one request and answers it again."""

import asyncio
import re
from datetime import timedelta

import asyncpg
import httpx
import pytest

from services.visits import models, privacy
from tests.builders import request_body
from tests.integration.visits.running import form_data, someone_waits_for_a_lock, token_of
from tests.support import envelopes, eventually, read_topic, unique


async def post(visits, body: dict, key: str | bytes) -> httpx.Response:
    return await visits.client.post("/api/v1/requests", json=body, headers={"Idempotency-Key": key})


async def stored(visits, organisation: str) -> list[str]:
    rows = await visits.rows(models.VisitRequest, models.VisitRequest.organisation == organisation)
    return [row.reference for row in rows]


async def totals(visits) -> list[int]:
    return [
        await visits.count(models.VisitRequest),
        await visits.count(models.AuditEntry),
        await visits.count(models.outbox),
        await visits.count(models.SubmissionKey),
    ]


def header_named(response) -> bool:
    return any(error["loc"] == ["header", "Idempotency-Key"] for error in response.json()["detail"])


async def test_a_retry_with_the_same_key_gets_the_first_answer_and_one_submitted_event(visits):
    body, key = request_body(), unique("retry-") + "-" * 180  # 191 characters: long keys are fine
    first = await post(visits, body, key)
    again = await post(visits, body, key)
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json()  # reference, status, division, flags and the same tracking URL
    assert await stored(visits, body["organisation"]) == [first.json()["reference"]]
    own = await visits.client.get(
        f"/api/v1/requests/{first.json()['reference']}", params={"token": token_of(again.json())}
    )
    assert own.status_code == 200
    outbox = models.outbox
    request_id = (await visits.view(first.json()["reference"]))["id"]
    assert await visits.count(outbox, outbox.c.key == request_id) == 2
    await eventually(lambda: _all_published(visits, request_id))
    # The outbox is drained, so the topic holds all there will be: asking for a third waits out its timeout.
    records = await read_topic(
        visits.settings.kafka_bootstrap, visits.settings.topic("visits.v1"), count=3, key=request_id, timeout=3
    )
    assert [e["type"] for e in envelopes(records)] == ["visit.submitted.v1", "visit.routed.v1"]


async def _all_published(visits, request_id: str) -> bool:
    outbox = models.outbox
    return await visits.count(outbox, outbox.c.key == request_id, outbox.c.sent_at.is_(None)) == 0


async def test_the_same_key_with_another_body_is_refused_naming_the_header_and_stores_nothing(visits):
    body, key = request_body(), unique("reused-")
    assert (await post(visits, body, key)).status_code == 201
    before = await totals(visits)
    other = await post(visits, body | {"delegation_size": 13}, key)
    assert other.status_code == 422 and header_named(other), other.text
    assert await totals(visits) == before


async def test_an_api_key_and_a_form_nonce_with_the_same_value_are_different_keys(visits):
    key = unique("shared-value-")
    api = await post(visits, request_body(), key)
    csrf, _ = await _form(visits, "en")
    form = await visits.client.post(
        "/apply", data=form_data(csrf, "en", organisation=unique("Form "), submission_id=key)
    )
    assert api.status_code == 201 and form.status_code == 303, form.text  # not 422: no clash with the API's key
    assert api.json()["reference"] not in form.headers["location"]


@pytest.mark.parametrize(
    "key",
    ["", "x" * 201, "tab\tinside", "caf\u00e9".encode()],
    ids=["empty", "too-long", "control-character", "not-ascii"],
)
async def test_an_idempotency_key_that_is_empty_too_long_or_not_printable_is_refused(visits, key):
    before = await totals(visits)
    response = await post(visits, request_body(), key)
    assert response.status_code == 422 and header_named(response), response.text
    assert await totals(visits) == before


async def test_concurrent_posts_with_one_key_store_one_request_and_all_get_its_answer(visits):
    """The first waits at the key's insert (a test lock holds it); the two that came with it wait for its
    transaction, find the key and answer as it did, without spending a reference number."""
    body, key = request_body(), unique("race-")
    before, counter = await totals(visits), await _last_reference_number(visits)
    holder = await asyncpg.connect(visits.settings.database_url)
    try:
        async with holder.transaction():
            await holder.execute("LOCK TABLE submission_keys IN SHARE MODE")  # reads pass, inserts wait
            posts = asyncio.gather(*(post(visits, body, key) for _ in range(3)))
            await eventually(lambda: someone_waits_for_a_lock(holder), timeout=30)
        answers = await posts
    finally:
        await holder.close()
    assert [a.status_code for a in answers] == [201, 201, 201], [a.text for a in answers]
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert await stored(visits, body["organisation"]) == [answers[0].json()["reference"]]
    assert await totals(visits) == [n + added for n, added in zip(before, [1, 2, 2, 1], strict=True)]
    assert await _last_reference_number(visits) == counter + 1


async def _last_reference_number(visits) -> int:
    rows = await visits.rows(models.ReferenceCounter)
    return max(row.last_value for row in rows)


async def test_references_stay_unique_and_increasing_under_concurrent_submissions(visits):
    first = await visits.submit()
    batch = await asyncio.gather(*(visits.submit() for _ in range(16)))
    last = await visits.submit()
    numbers = [int(s["reference"].rsplit("-", 1)[1]) for s in batch]
    assert len(set(numbers)) == 16
    assert _number(first) < min(numbers) and max(numbers) < _number(last)


def _number(submitted: dict) -> int:
    return int(submitted["reference"].rsplit("-", 1)[1])


async def test_the_retention_job_forgets_keys_after_a_day_and_the_key_then_makes_a_new_request(visits):
    body, key = request_body(), unique("old-")
    first = (await post(visits, body, key)).json()
    [row] = await visits.rows(
        models.SubmissionKey, models.SubmissionKey.request_id == (await visits.view(first["reference"]))["id"]
    )
    async with visits.app.state.sessions() as session:
        await privacy.retention_round(
            session=session, settings=visits.settings, now=row.created_at + timedelta(hours=23)
        )
    assert (await post(visits, body, key)).json() == first
    async with visits.app.state.sessions() as session:
        await privacy.retention_round(
            session=session, settings=visits.settings, now=row.created_at + timedelta(hours=24, seconds=1)
        )
    assert await visits.count(models.SubmissionKey, models.SubmissionKey.key_hash == row.key_hash) == 0
    later = await post(visits, request_body(organisation=unique("Someone else ")), key)
    assert later.status_code == 201 and later.json()["reference"] != first["reference"]
    # The key's second request has a token of its own: it does not open the first one.
    assert token_of(later.json()) != token_of(first)
    peek = await visits.client.get(f"/api/v1/requests/{first['reference']}", params={"token": token_of(later.json())})
    assert peek.status_code == 404


# ---------------------------------------------------------------- the form's nonce


async def _form(visits, lang: str) -> tuple[str, str]:
    page = await visits.client.get("/apply", params={"lang": lang})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    nonce = re.search(r'name="submission_id" value="([^"]+)"', page.text).group(1)
    return csrf, nonce


async def _confirmation(visits, posted) -> tuple[str, str]:
    assert posted.status_code == 303, posted.text
    page = await visits.client.get(posted.headers["location"])
    reference = re.search(r"<strong>(HEL-\d{4}-\d{6})</strong>", page.text).group(1)
    return reference, re.search(r'class="tracking-link" href="([^"]+)"', page.text).group(1)


async def test_a_form_sent_twice_stores_one_request_and_confirms_the_first_both_times(visits):
    csrf, nonce = await _form(visits, "en")
    data = form_data(csrf, "en", organisation=unique("Double click "), submission_id=nonce)
    first = await _confirmation(visits, await visits.client.post("/apply", data=data))
    again = await _confirmation(visits, await visits.client.post("/apply", data=data))
    assert again == first  # the same reference and the same tracking link
    assert await stored(visits, data["organisation"]) == [first[0]]
    own = await visits.client.get(f"/api/v1/requests/{first[0]}", params={"token": first[1].split("token=")[1]})
    assert own.status_code == 200


async def test_a_form_sent_again_with_other_details_is_refused_and_stores_nothing(visits):
    csrf, nonce = await _form(visits, "fi")
    data = form_data(csrf, "fi", organisation=unique("Edited "), submission_id=nonce)
    assert (await visits.client.post("/apply", data=data)).status_code == 303
    before = await totals(visits)
    edited = await visits.client.post("/apply", data=data | {"delegation_size": "9"})
    assert edited.status_code == 422 and "Lomake on jo lähetetty" in edited.text
    assert await totals(visits) == before


async def test_each_form_page_has_its_own_nonce_and_a_page_without_one_still_submits(visits):
    assert (await _form(visits, "sv"))[1] != (await _form(visits, "sv"))[1]
    csrf, _ = await _form(visits, "sv")
    data = form_data(csrf, "sv", organisation=unique("Old page "))  # served before nonces: no submission_id
    first = await _confirmation(visits, await visits.client.post("/apply", data=data))
    second = await _confirmation(visits, await visits.client.post("/apply", data=data))
    assert first[0] != second[0]
