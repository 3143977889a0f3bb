"""An admin erases a delegation's personal data: gone from every service's database and the logs, stats kept."""

import json
from datetime import timedelta

import asyncpg

from shared.logs import configure_logging
from tests.e2e.city import accept, mails, next_monday, submit
from tests.support import envelopes, eventually, read_topic, unique
from visitdesk import SERVICES

TEXT_TYPES = ("text", "character varying", "json", "jsonb")
STATS = "/api/v1/stats?group_by=country,focus_area,outcome"


def personal_data() -> dict:
    """Distinctive values, so that any copy of them anywhere is found."""
    tag = unique("")
    digits = str(int(tag, 16))[-7:].rjust(7, "0")
    return {
        "contact": {
            "name": f"Zephyrine Quillfeather{tag}",
            "email": f"zq.{tag}@example.org",
            "phone": f"+358 40 {digits}",
        },
        "members": [
            {"name": f"Octavian Brightwater{tag}", "title": f"Undersecretary Plenipo{tag}"},
            {"name": f"Marisol Thistledown{tag}", "title": f"Attache Extraordinaire{tag}"},
        ],
    }


def values_of(person: dict) -> list[str]:
    contact = person["contact"]
    members = [v for m in person["members"] for v in (m["name"], m["title"])]
    return [contact["name"], contact["email"], contact["phone"], *members]


async def test_erasure_leaves_no_personal_value_in_any_service_or_log_and_keeps_the_stats(city, capfd):
    person = personal_data()
    secrets = values_of(person)
    configure_logging("INFO")  # the services' structlog now prints to this test's captured stdout
    try:
        request, submitted = await _accepted_and_delivered(city, person)
        before = await _stats(city)
        stored = await _hits(city, secrets)  # the values are really there to be found, and where
        assert {value for *_, value in stored} == set(secrets)
        assert {service for service, *_ in stored} >= {"visits", "notifications"}

        dry = await _erase(city, submitted["reference"], dry_run=True)
        assert dry["dry_run"] is True and dry["erased_at"] is None and dry["fields"]["contact_name"] == 1
        assert (await _staff_view(city, submitted["reference"]))["contact_name"] == person["contact"]["name"]

        erased = await _erase(city, submitted["reference"], dry_run=False)
        assert erased["erased_at"] is not None and erased["fields"]["member_names"] == 2
        try:
            await eventually(lambda: _nothing_left(city, secrets), timeout=30)
        except AssertionError:
            assert await _hits(city, secrets) == []  # names where each value was left
        assert await _stats(city) == before
        erasure_events = await eventually(lambda: _erasure_events(city, request["id"]), timeout=20)
        assert [e["data"]["reference"] for e in erasure_events] == [submitted["reference"]]
        output = capfd.readouterr().out
    finally:
        with capfd.disabled():  # later tests log to pytest's own capture again, not to this test's
            configure_logging("INFO")
    assert submitted["reference"] in output  # the services did log about this request
    for value in secrets + [json.dumps(v)[1:-1] for v in secrets]:
        assert value.lower() not in output.lower(), value


async def _accepted_and_delivered(city, person: dict) -> tuple[dict, dict]:
    """An accepted education request whose plan, reservation and delegation e-mails all exist."""
    submitted = await submit(city, focus="education", email=person["contact"]["email"], **person)
    visit_date = next_monday(20) + timedelta(days=1)
    await accept(city, submitted, visit_date)
    reference, admin = submitted["reference"], city.auth("admin")
    await eventually(lambda: mails(city, person["contact"]["email"], reference, at_least=2), timeout=30)
    await eventually(lambda: _ok(city, "protocol", f"/api/v1/plans/{reference}", admin), timeout=30)
    iso = visit_date.isocalendar()
    week = await eventually(
        lambda: _ok(city, "capacity", f"/api/v1/capacity/education/{iso.year}-W{iso.week:02d}", admin), timeout=30
    )
    assert reference in [r["reference"] for r in week["requests"]]
    await eventually(lambda: _all_sent(city, reference), timeout=30)
    return await _staff_view(city, reference), submitted


async def _erase(city, reference: str, *, dry_run: bool) -> dict:
    response = await city.visits.delete(
        f"/api/v1/requests/{reference}/personal-data",
        params={"dry_run": str(dry_run).lower()},
        headers=city.auth("admin"),
    )
    assert response.status_code == 200, response.text
    return response.json()


async def _staff_view(city, reference: str) -> dict:
    response = await city.visits.get(f"/api/v1/requests/{reference}", headers=city.auth("admin"))
    assert response.status_code == 200, response.text
    return response.json()


async def _stats(city) -> dict:
    response = await city.visits.get(STATS, headers=city.auth("communications"))
    assert response.status_code == 200, response.text
    return response.json()


async def _ok(city, service: str, path: str, headers: dict):
    response = await city.clients[service].get(path, headers=headers)
    return response.json() if response.status_code == 200 else None


async def _all_sent(city, reference: str) -> bool:
    deliveries = await _ok(
        city, "notifications", f"/api/v1/deliveries?reference={reference}", city.auth("communications")
    )
    return bool(deliveries) and all(d["status"] != "pending" for d in deliveries)


async def _nothing_left(city, secrets: list[str]) -> bool:
    return not await _hits(city, secrets)


async def _hits(city, secrets: list[str]) -> list[tuple]:
    """(service, table, column, value) for every text or JSON column, in every service, holding a value."""
    found = []
    for service in SERVICES:
        conn = await asyncpg.connect(city.settings[service].database_url.replace("+asyncpg", ""))
        try:
            columns = await conn.fetch(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND data_type = ANY($1::text[])",
                list(TEXT_TYPES),
            )
            for table, column in columns:
                for value in secrets:
                    count = await conn.fetchval(
                        f'SELECT count(*) FROM "{table}" WHERE position(lower($1) in lower("{column}"::text)) > 0',
                        value,
                    )
                    if count:
                        found.append((service, table, column, value))
        finally:
            await conn.close()
    return found


async def _erasure_events(city, request_id: str) -> list[dict]:
    records = await read_topic(
        city.settings["visits"].kafka_bootstrap, city.topic("visits.v1"), count=100, key=request_id, timeout=2
    )
    return [e for e in envelopes(records) if e["type"] == "visit.personal_data_erased.v1"]
