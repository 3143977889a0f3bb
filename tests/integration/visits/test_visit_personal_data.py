"""Personal data: erased on an admin's request or after retention, leaving statistics, and never logged."""

import json
from datetime import datetime, time, timedelta

from sqlalchemy import Text, case, cast, column, func, or_, select, table, text, update

from services.visits import domain, models, privacy
from services.visits.schemas import helsinki_today
from shared.logs import configure_logging
from tests.builders import future
from tests.integration.visits.running import start_visits, token_of
from tests.support import envelopes, eventually, read_topic, unique


def personal_data() -> dict:
    """Values no other test uses, one with letters JSON escapes, so a scan can find every copy."""
    tag = unique("")
    digits = f"{int(tag, 16) % 10**7:07d}"
    return {
        "contact": {"name": f"Liisa Ülemiste {tag}", "email": f"liisa.{tag}@example.ee", "phone": f"+372 5{digits}"},
        "members": [
            {"name": f"Liisa Ülemiste {tag}", "title": f"Deputy Mayor {tag}", "role": "leader"},
            {"name": f"Toomas Õismäe {tag}", "title": f"Adviser {tag}", "role": "aide"},
        ],
        "needs": {
            "interpreter_language": "Estonian",
            "press": True,
            "accessibility": f"Step-free access for Toomas Õismäe {tag}",
        },
    }


def values_of(person: dict) -> list[str]:
    contact = person["contact"]
    return [contact["name"], contact["email"], contact["phone"]] + [
        m[k] for m in person["members"] for k in ("name", "title")
    ]


async def scan(visits, values: list[str]) -> dict[str, int]:
    """Every column of every table in the database, as text: "table.column" -> rows holding any of `values`."""
    forms = {form for v in values for form in (v, json.dumps(v)[1:-1])}  # as written, and JSON-escaped
    found = {}
    async with visits.app.state.sessions() as session:
        columns = (
            await session.execute(
                text(
                    "SELECT table_name, column_name FROM information_schema.columns"
                    " WHERE table_schema = current_schema()"
                )
            )
        ).all()
        tables = {name: table(name, *[column(c) for t, c in columns if t == name]) for name, _ in columns}
        assert {"requests", "members", "request_history", "audit_log", "outbox"} <= set(tables)
        for name, scanned in tables.items():
            holds = [
                func.coalesce(
                    func.sum(
                        case((or_(*[cast(c, Text).contains(form, autoescape=True) for form in forms]), 1), else_=0)
                    ),
                    0,
                )
                for c in scanned.columns
            ]
            counts = (await session.execute(select(*holds).select_from(scanned))).one()
            found |= {f"{name}.{c.name}": n for c, n in zip(scanned.columns, counts, strict=True) if n}
    return found


async def statistics(visits) -> dict:
    """What reports count: requests by country and status, by focus area, and delegation members."""
    async with visits.app.state.sessions() as session:
        by_country = (
            await session.execute(
                select(
                    models.VisitRequest.country,
                    models.VisitRequest.status,
                    func.count(),
                    func.sum(models.VisitRequest.delegation_size),
                ).group_by(models.VisitRequest.country, models.VisitRequest.status)
            )
        ).all()
        focus_area = models.RequestFocusArea.focus_area
        by_focus = (await session.execute(select(focus_area, func.count()).group_by(focus_area))).all()
        members = await session.scalar(select(func.count()).select_from(models.Member))
    return {"by_country": sorted(map(tuple, by_country)), "by_focus": sorted(map(tuple, by_focus)), "members": members}


async def _erase(visits, reference: str, *, dry_run: bool, role: str = "admin", headers: dict | None = None):
    return await visits.client.delete(
        f"/api/v1/requests/{reference}/personal-data",
        params={"dry_run": str(dry_run).lower()},
        headers=headers or visits.staff(role),
    )


async def _accepted_with_history(visits, person: dict) -> dict:
    """A request whose personal values have spread: staff message, delegation answer, events sent."""
    submitted = await visits.submit(country="MT", focus_areas=["education", "culture"], **person)
    reference = submitted["reference"]
    await visits.decide(
        reference,
        "education",
        decision="propose",
        proposed_dates=[{"start": future(150), "end": future(154)}],
        message=f"Dear {person['contact']['name']}, would autumn suit?",
    )
    answered = await visits.client.post(
        f"/api/v1/requests/{reference}/respond",
        params={"token": token_of(submitted)},
        json={"accept_proposed": {"start": future(150), "end": future(151)}},
    )
    assert answered.status_code == 200, answered.text
    accepted = await visits.decide(reference, "education", decision="accept", visit_date=future(151), host="Director")
    assert accepted.status_code == 200, accepted.text
    await eventually(lambda: _all_sent(visits, accepted.json()["id"]))
    return accepted.json()


async def _all_sent(visits, request_id: str) -> bool:
    return await visits.count(models.outbox, models.outbox.c.key == request_id, models.outbox.c.sent_at.is_(None)) == 0


async def test_erasure_leaves_no_personal_value_in_any_table_while_the_statistics_stay(visits):
    person = personal_data()
    request = await _accepted_with_history(visits, person)
    reference, values = request["reference"], values_of(person)
    spread = await scan(visits, values)
    assert {"requests.contact_name", "members.name", "outbox.payload", "request_history.details"} <= set(spread)
    assert not [where for where in spread if where.startswith("audit_log.")]  # it never held any
    before = await statistics(visits)

    erased = await _erase(visits, reference, dry_run=False)
    assert erased.status_code == 200, erased.text
    assert erased.json()["fields"] == {  # submitted, routed, dates_proposed, routed, accepted all carried the contact
        "contact_name": 1,
        "contact_email": 1,
        "contact_phone": 1,
        "member_names": 2,
        "member_titles": 2,
        "purpose": 1,
        "accessibility_needs": 1,
        "history_entries": 1,
        "outbox_events": 5,
    }
    assert erased.json()["dry_run"] is False and erased.json()["erased_at"]

    assert await scan(visits, values) == {}
    assert await statistics(visits) == before
    view = await visits.view(reference)
    assert (view["contact_name"], view["contact_email"], view["contact_phone"]) == (None, None, None)
    assert [(m["name"], m["title"], m["role"]) for m in view["members"]] == [
        (None, None, "leader"),
        (None, None, "aide"),
    ]
    assert (
        view["organisation"],
        view["country"],
        view["focus_areas"],
        view["delegation_size"],
        view["status"],
        view["visit_date"],
    ) == (request["organisation"], "MT", ["education", "culture"], 12, "accepted", future(151))
    assert (view["purpose"], view["needs"]["accessibility"], view["needs"]["press"]) == ("[erased]", "[erased]", True)
    [audit] = await visits.rows(
        models.AuditEntry,
        models.AuditEntry.request_id == request["id"],
        models.AuditEntry.action == "request.personal_data_erased",
    )
    assert (audit.actor, audit.role, audit.details["trigger"]) == ("admin-1", "admin", "request")
    records = await read_topic(
        visits.settings.kafka_bootstrap, visits.settings.topic("visits.v1"), count=6, key=request["id"]
    )
    assert envelopes(records)[-1]["type"] == "visit.personal_data_erased.v1"
    assert envelopes(records)[-1]["data"] == {"request_id": request["id"], "reference": reference}


async def test_a_dry_run_counts_what_would_go_and_changes_nothing(visits):
    person = personal_data()
    request = await _accepted_with_history(visits, person)
    spread, audits, outbox = (
        await scan(visits, values_of(person)),
        await visits.count(models.AuditEntry),
        await visits.count(models.outbox),
    )
    view = await visits.view(request["reference"])
    dry = await _erase(visits, request["reference"], dry_run=True)
    assert dry.status_code == 200 and dry.json()["dry_run"] is True and dry.json()["erased_at"] is None
    assert dry.json()["fields"]["contact_email"] == 1 and dry.json()["fields"]["member_names"] == 2
    assert person["contact"]["email"] not in dry.text and person["contact"]["name"] not in dry.text
    assert await scan(visits, values_of(person)) == spread
    assert (await visits.count(models.AuditEntry), await visits.count(models.outbox)) == (audits, outbox)
    assert await visits.view(request["reference"]) == view
    assert (view["contact_email"], view["erased_at"]) == (person["contact"]["email"], None)

    assert (await _erase(visits, request["reference"], dry_run=False)).status_code == 200
    # Asked again with nothing left here, the erasure is announced again: a service that missed it (its consumer
    # dead-lettered the event) is asked once more. Each request of an admin is in the audit log.
    again = await _erase(visits, request["reference"], dry_run=False)
    assert again.status_code == 200 and set(again.json()["fields"].values()) == {0}
    assert (
        await visits.count(
            models.AuditEntry,
            models.AuditEntry.request_id == request["id"],
            models.AuditEntry.action == "request.personal_data_erased",
        )
        == 2
    )
    assert (
        await visits.count(
            models.outbox, models.outbox.c.key == request["id"], models.outbox.c.type == "visit.personal_data_erased.v1"
        )
        == 2
    )


async def test_only_admins_may_erase_and_an_unknown_reference_is_not_found(visits):
    person = personal_data()
    reference = (await visits.submit(**person))["reference"]
    for headers in (
        visits.officer("education"),
        visits.officer("culture-and-leisure"),
        visits.staff("communications"),
        visits.staff("protocol_officer"),
    ):
        assert (await _erase(visits, reference, dry_run=False, headers=headers)).status_code == 403
    assert (await visits.client.delete(f"/api/v1/requests/{reference}/personal-data")).status_code == 401
    assert (await _erase(visits, "HEL-1999-000001", dry_run=False)).status_code == 404
    assert (await visits.view(reference))["contact_email"] == person["contact"]["email"]


async def test_the_retention_job_erases_after_the_configured_days_and_runs_in_the_background(
    new_database, kafka_bootstrap
):
    async with start_visits(
        await new_database("visits"), kafka_bootstrap, personal_data_retention_days=30, retention_interval_seconds=0.2
    ) as visits:
        declined, visited, waiting, past = (personal_data() for _ in range(4))
        d = await visits.submit(**declined)
        await visits.decide(d["reference"], "education", decision="decline", reason="no_capacity")
        v = await visits.submit(**visited)
        await visits.decide(v["reference"], "education", decision="accept", visit_date=future(101), host="H")
        w = await visits.submit(**waiting)
        ended = (await visits.rows(models.VisitRequest, models.VisitRequest.reference == d["reference"]))[0].ended_at
        visit_noon = datetime.combine(helsinki_today() + timedelta(days=101), time(12), tzinfo=domain.HELSINKI)

        async def run(now: datetime) -> list[str]:
            async with visits.app.state.sessions() as session:
                await privacy.erase_expired_personal_data(session=session, settings=visits.settings, now=now)
            rows = await visits.rows(models.VisitRequest, models.VisitRequest.erased_at.is_not(None))
            return sorted(r.reference for r in rows)

        assert await run(ended + timedelta(days=29, hours=23)) == []
        assert await run(ended + timedelta(days=30)) == [d["reference"]]
        assert await run(visit_noon + timedelta(days=30)) == [d["reference"]]
        assert await run(visit_noon + timedelta(days=31)) == sorted([d["reference"], v["reference"]])
        assert await scan(visits, values_of(declined) + values_of(visited)) == {}
        assert (await visits.view(w["reference"]))["contact_email"] == waiting["contact"]["email"]
        [audit] = await visits.rows(
            models.AuditEntry,
            models.AuditEntry.reference == d["reference"],
            models.AuditEntry.action == "request.personal_data_erased",
        )
        assert (audit.actor, audit.details["trigger"]) == ("system", "retention")

        p = await visits.submit(**past)
        await visits.decide(p["reference"], "education", decision="accept", visit_date=future(100), host="H")
        async with visits.app.state.sessions() as session:
            await session.execute(
                update(models.VisitRequest)
                .where(models.VisitRequest.reference == p["reference"])
                .values(visit_date=helsinki_today() - timedelta(days=31))
            )
            await session.commit()
        await eventually(lambda: _erased(visits, p["reference"]))
        assert await scan(visits, values_of(past)) == {}


async def test_a_request_never_decided_or_answered_is_erased_when_its_last_day_is_past_retention(
    new_database, kafka_bootstrap
):
    """Open for good (routed and never decided; dates proposed and never answered): the clock starts at the last
    preferred or proposed day, as it can no longer be visited. The status stays; only the personal data goes."""
    async with start_visits(await new_database("visits"), kafka_bootstrap, personal_data_retention_days=30) as visits:
        undecided, unanswered = personal_data(), personal_data()
        u = await visits.submit(**undecided)  # preferred: future(100) to future(104)
        a = await visits.submit(**unanswered)
        proposed = await visits.decide(
            a["reference"], "education", decision="propose", proposed_dates=[{"start": future(150), "end": future(152)}]
        )
        assert proposed.status_code == 200, proposed.text

        def noon(days_ahead: int) -> datetime:
            return datetime.combine(helsinki_today() + timedelta(days=days_ahead), time(12), tzinfo=domain.HELSINKI)

        async def run(now: datetime) -> list[str]:
            async with visits.app.state.sessions() as session:
                await privacy.erase_expired_personal_data(session=session, settings=visits.settings, now=now)
            rows = await visits.rows(models.VisitRequest, models.VisitRequest.erased_at.is_not(None))
            return sorted(r.reference for r in rows)

        assert await run(noon(104 + 30)) == []
        assert await run(noon(104 + 31)) == [u["reference"]]
        assert await scan(visits, values_of(undecided)) == {}
        assert await scan(visits, values_of(unanswered)) != {}  # its proposed days are later
        assert await run(noon(152 + 31)) == sorted([u["reference"], a["reference"]])
        assert await scan(visits, values_of(unanswered)) == {}
        assert [(await visits.view(r["reference"]))["status"] for r in (u, a)] == ["routed", "dates_proposed"]
        audits = await visits.rows(models.AuditEntry, models.AuditEntry.action == "request.personal_data_erased")
        assert sorted((e.reference, e.details["trigger"]) for e in audits) == sorted(
            [(u["reference"], "retention"), (a["reference"], "retention")]
        )


async def test_words_written_after_an_erasure_are_erased_when_retention_comes(new_database, kafka_bootstrap):
    async with start_visits(await new_database("visits"), kafka_bootstrap, personal_data_retention_days=30) as visits:
        submitted = await visits.submit(**personal_data())
        reference = submitted["reference"]
        await visits.decide(
            reference,
            "education",
            decision="propose",
            message="Autumn?",
            proposed_dates=[{"start": future(150), "end": future(152)}],
        )
        assert (await _erase(visits, reference, dry_run=False)).status_code == 200  # still open: it goes on
        words = f"No, thank you. Call me: {unique('Jaan ')}"
        answered = await visits.client.post(
            f"/api/v1/requests/{reference}/respond",
            params={"token": token_of(submitted)},
            json={"decline_proposed": True, "message": words},
        )
        assert answered.status_code == 200
        assert await scan(visits, [words]) != {}
        [request] = await visits.rows(models.VisitRequest, models.VisitRequest.reference == reference)

        async with visits.app.state.sessions() as session:
            assert (
                await privacy.erase_expired_personal_data(
                    session=session, settings=visits.settings, now=request.ended_at + timedelta(days=30)
                )
                == 1
            )
            assert (
                await privacy.erase_expired_personal_data(  # and not again, with nothing new
                    session=session, settings=visits.settings, now=request.ended_at + timedelta(days=31)
                )
                == 0
            )
        assert await scan(visits, [words]) == {}


async def _erased(visits, reference: str) -> bool:
    return (await visits.view(reference))["erased_at"] is not None


async def test_personal_data_never_reaches_the_logs(new_database, kafka_bootstrap, capsys):
    person = personal_data()
    try:
        async with start_visits(await new_database("visits"), kafka_bootstrap, log_level="DEBUG") as visits:
            request = await _accepted_with_history(visits, person)
            declined = await visits.submit(**person)
            await visits.decide(
                declined["reference"],
                "education",
                decision="decline",
                reason="other",
                message=f"Sorry, {person['contact']['name']}",
            )
            wrong = await visits.client.post(
                f"/api/v1/requests/{declined['reference']}/decision",
                headers=visits.officer("education"),
                json={"decision": "accept"},
            )
            assert wrong.status_code == 422
            assert (await _erase(visits, request["reference"], dry_run=False)).status_code == 200
            await eventually(lambda: _all_sent(visits, request["id"]))
        output = capsys.readouterr().out
    finally:
        with capsys.disabled():  # later tests log to pytest's own capture again, not to this test's
            configure_logging("INFO")
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert {"visits.request_changed", "visits.personal_data_erased"} <= {line.get("event") for line in lines}
    assert request["reference"] in output
    for value in values_of(person) + [json.dumps(v)[1:-1] for v in values_of(person)]:
        assert value.lower() not in output.lower(), value
