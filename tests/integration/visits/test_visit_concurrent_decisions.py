"""Decisions on one request are made one at a time, on SQLite (`make dev`) as on PostgreSQL, and a decision sent
with `If-Match` lands only on the version its maker saw."""

import asyncio
from collections import Counter

import pytest

from services.visits import domain
from services.visits.models import HistoryEntry
from shared.migrations import upgrade
from tests.builders import future
from tests.integration.visits.running import start_visits
from tests.support import envelopes, read_topic

DECISIONS = (
    [{"decision": "accept", "visit_date": future(101), "host": "Deputy Mayor"}] * 4
    + [{"decision": "decline", "reason": "other", "message": "We cannot host you."}] * 4
    + [{"decision": "propose", "proposed_dates": [{"start": future(120), "end": future(122)}], "message": "Later?"}] * 4
)
DECIDED = {"accepted": "accept", "declined": "decline", "dates_proposed": "propose"}


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_visits(request, tmp_path, new_database, kafka_bootstrap):
    """A visits service of its own on each database the project runs on."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/visits.db"
        await asyncio.to_thread(upgrade, "visits", url)
    else:
        url = await new_database("visits")
    async with start_visits(url, kafka_bootstrap, submit_rate_limit=1000) as service:
        yield service


async def decisions_recorded(service, reference: str) -> list[str]:
    request_id = (await service.view(reference))["id"]
    entries = await service.rows(HistoryEntry, HistoryEntry.request_id == request_id)
    return [e.action for e in sorted(entries, key=lambda e: e.id) if e.action in DECIDED]


async def test_twelve_concurrent_decisions_land_in_an_order_one_at_a_time_could_and_the_rest_are_refused(any_visits):
    submitted = await any_visits.submit(country="LV")
    answers = await asyncio.gather(
        *(any_visits.decide(submitted["reference"], "education", **decision) for decision in DECISIONS)
    )

    codes = Counter(answer.status_code for answer in answers)
    assert set(codes) <= {200, 409}, [a.text for a in answers if a.status_code not in (200, 409)]
    landed = await decisions_recorded(any_visits, submitted["reference"])
    assert len(landed) == codes[200] >= 1
    status = "routed"
    for action in landed:  # each landed decision was allowed from the status the one before left
        status = domain.check_transition(DECIDED[action], status)
    view = await any_visits.view(submitted["reference"])
    assert view["status"] == status
    # submitted, routed, then one event per landed decision and no more (a short wait for any extra)
    records = await read_topic(
        any_visits.settings.kafka_bootstrap,
        any_visits.settings.topic("visits.v1"),
        count=len(landed) + 3,
        key=view["id"],
        timeout=3,
    )
    types = [e["type"] for e in envelopes(records)]
    assert types[2:] == [f"visit.{action}.v1" for action in landed]


async def test_a_decision_sent_with_the_version_its_maker_saw_is_refused_with_412_once_another_landed(any_visits):
    submitted = await any_visits.submit(country="LT")
    reference = submitted["reference"]
    seen = await any_visits.client.get(f"/api/v1/requests/{reference}", headers=any_visits.staff())
    etag = seen.headers["ETag"]

    accepted = await any_visits.client.post(
        f"/api/v1/requests/{reference}/decision",
        json=DECISIONS[0],
        headers=any_visits.officer("education") | {"If-Match": etag},
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.headers["ETag"] != etag

    stale = await any_visits.client.post(
        f"/api/v1/requests/{reference}/decision",
        json=DECISIONS[4],
        headers=any_visits.officer("education") | {"If-Match": etag},
    )
    assert stale.status_code == 412, stale.text
    assert (await any_visits.view(reference))["status"] == "accepted"
    assert await decisions_recorded(any_visits, reference) == ["accepted"]

    fresh = await any_visits.client.post(
        f"/api/v1/requests/{reference}/decision",
        json=DECISIONS[4],
        headers=any_visits.officer("education") | {"If-Match": accepted.headers["ETag"]},
    )
    assert fresh.status_code == 200, fresh.text
    assert await decisions_recorded(any_visits, reference) == ["accepted", "declined"]


async def test_twelve_concurrent_decisions_sent_with_one_version_land_once_and_the_rest_answer_412(any_visits):
    submitted = await any_visits.submit(country="EE")
    reference = submitted["reference"]
    etag = (await any_visits.client.get(f"/api/v1/requests/{reference}", headers=any_visits.staff())).headers["ETag"]
    answers = await asyncio.gather(
        *(
            any_visits.client.post(
                f"/api/v1/requests/{reference}/decision",
                json=decision,
                headers=any_visits.officer("education") | {"If-Match": etag},
            )
            for decision in DECISIONS
        )
    )
    assert sorted(a.status_code for a in answers) == [200] + [412] * 11
    assert len(await decisions_recorded(any_visits, reference)) == 1
