"""Plans follow the visits.v1 events: built by level, re-dated, cancelled, erased, never duplicated."""

from tests.integration.protocol.running import Visit, fresh_day, visit_envelope


def _items(plan: dict) -> dict[str, dict]:
    return {item["key"]: item for item in plan["items"]}


async def test_a_head_of_state_visit_gets_a_level_one_plan_hosted_by_the_mayor(protocol):
    day = fresh_day()
    visit = await protocol.accept(visit_date=day, highest_rank="head_of_state")
    plan = await protocol.plan(visit)
    assert (plan["level"], plan["host"], plan["status"]) == (1, "Mayor", "draft")
    items = _items(plan)
    for key in ("flags", "golden_book", "security_liaison", "press", "host", "gift"):
        assert items[key]["required"] and items[key]["state"] == "open", key
    assert items["security_liaison"]["owner"] == "security" and items["press"]["owner"] == "communications"
    assert "interpreter" not in items
    [created] = await protocol.published(visit, count=1)
    assert created["type"] == "protocol.plan_created.v1"
    assert (created["data"]["level"], created["data"]["host"], created["data"]["visit_date"]) == (1, "Mayor", str(day))
    assert {i["key"] for i in created["data"]["items"]} == set(items)


async def test_an_expert_group_gets_a_level_four_plan_hosted_by_the_division(protocol):
    visit = await protocol.accept(
        visit_date=fresh_day(), highest_rank="expert", division="education", interpreter_language="ja"
    )
    plan = await protocol.plan(visit)
    assert (plan["level"], plan["host"]) == (4, "education")
    items = _items(plan)
    assert set(items) == {"host", "interpreter", "venue"}
    assert items["host"]["owner"] == "division" and items["interpreter"]["required"]


async def test_guests_who_want_press_get_a_required_press_item_at_any_level(protocol):
    visit = await protocol.accept(visit_date=fresh_day(), highest_rank="other", press=True)
    assert _items(await protocol.plan(visit))["press"]["required"]


async def test_a_redelivered_or_repeated_acceptance_never_makes_a_second_plan(protocol):
    day, later = fresh_day(), fresh_day()
    visit = Visit("req-" + day.isoformat(), "HEL-R-" + day.isoformat())
    accepted = visit_envelope(
        "visit.accepted.v1", request_id=visit.request_id, reference=visit.reference, visit_date=day
    )
    await protocol.send(accepted)
    await protocol.send(accepted)  # the same envelope again, as after a lost offset commit
    await protocol.send(
        visit_envelope("visit.accepted.v1", request_id=visit.request_id, reference=visit.reference, visit_date=day)
    )  # a new event, same facts
    await protocol.accept(visit=visit, visit_date=later)  # re-dated: the marker all of the above came before
    events = await protocol.published(visit, count=2)  # any extra effect would come first
    assert [e["type"] for e in events] == ["protocol.plan_created.v1", "protocol.plan_updated.v1"]
    assert events[1]["data"]["visit_date"] == str(later)
    calendar = await protocol.client.get(
        "/api/v1/plans", params={"date_from": day, "date_to": later}, headers=protocol.auth()
    )
    assert [p["reference"] for p in calendar.json()] == [visit.reference]


async def test_two_ministers_on_one_day_are_both_flagged(protocol):
    day = fresh_day()
    first = await protocol.accept(visit_date=day, highest_rank="minister")
    second = await protocol.accept(visit_date=day, highest_rank="minister", division="culture-and-leisure")
    assert (await protocol.plan(second))["conflicts"] == [first.reference]
    plan = await protocol.plan(first)
    assert plan["conflict"] and plan["conflicts"] == [second.reference]
    updated = (await protocol.published(first, count=2))[1]
    assert updated["type"] == "protocol.plan_updated.v1" and updated["data"]["conflicts"] == [second.reference]


async def test_a_level_three_and_a_level_four_visit_on_one_day_do_not_conflict(protocol):
    day = fresh_day()
    first = await protocol.accept(visit_date=day, highest_rank="senior_official")
    await protocol.accept(visit_date=day, highest_rank="expert")
    assert (await protocol.plan(first))["conflicts"] == []


async def test_re_dating_a_visit_clears_the_conflict_it_left_behind(protocol):
    day = fresh_day()
    ambassador = await protocol.accept(visit_date=day, highest_rank="ambassador")
    head = await protocol.accept(visit_date=day, highest_rank="head_of_government")
    assert (await protocol.plan(ambassador))["conflicts"] == [head.reference]
    await protocol.accept(visit=head, visit_date=fresh_day())
    assert (await protocol.plan_when(ambassador, lambda p: not p["conflict"]))["conflicts"] == []
    assert (await protocol.plan(head))["conflicts"] == []


async def test_a_cancelled_visit_cancels_its_plan_and_frees_the_other_visit_that_day(protocol):
    day = fresh_day()
    staying = await protocol.accept(visit_date=day, highest_rank="minister")
    leaving = await protocol.accept(visit_date=day, highest_rank="mayor")
    await protocol.send(
        visit_envelope(
            "visit.cancelled.v1",
            request_id=leaving.request_id,
            reference=leaving.reference,
            visit_date=day,
            was_accepted=True,
        )
    )
    cancelled = await protocol.plan_when(leaving, lambda p: p["status"] == "cancelled")
    assert cancelled["conflicts"] == []
    assert (await protocol.plan_when(staying, lambda p: not p["conflict"]))["conflicts"] == []
    events = await protocol.published(leaving, count=2)
    assert events[-1]["type"] == "protocol.plan_updated.v1" and events[-1]["data"]["status"] == "cancelled"
    assert (await protocol.set_item(leaving, "host", "done")).status_code == 409


async def test_erasing_personal_data_removes_names_from_gifts_and_notes_but_keeps_the_register(protocol):
    day = fresh_day()
    visit = await protocol.accept(visit_date=day, highest_rank="minister")
    await protocol.set_item(visit, "host", "in_progress", note="Minister Kaja Example arrives 9:00")
    gift = {
        "direction": "received",
        "description": "Glass bowl",
        "value_band": "50_200",
        "giver": "Kaja Example",
        "recipient": "Deputy Mayor",
    }
    assert (
        await protocol.client.post(f"/api/v1/plans/{visit.reference}/gifts", json=gift, headers=protocol.auth())
    ).status_code == 201
    await protocol.send(
        visit_envelope(
            "visit.personal_data_erased.v1", request_id=visit.request_id, reference=visit.reference, visit_date=None
        )
    )
    await protocol.plan_when(visit, lambda p: _items(p)["host"]["note"] is None)
    [line] = (
        await protocol.client.get("/api/v1/gifts", params={"from": day, "to": day}, headers=protocol.auth())
    ).json()
    assert (line["giver"], line["recipient"]) == ("[erased]", "[erased]")
    assert (line["description"], line["value_band"], line["direction"]) == ("Glass bowl", "50_200", "received")
    assert _items(await protocol.plan(visit))["host"]["state"] == "in_progress"


async def test_a_plan_shows_the_visits_hours_and_venue(protocol):
    day = fresh_day()
    visit = await protocol.accept(visit_date=day, start_time="10:00", end_time="12:30", venue="Kaupungintalo")
    plan = await protocol.plan(visit)
    assert (plan["start_time"], plan["end_time"], plan["venue"]) == ("10:00", "12:30", "Kaupungintalo")
    listed = await protocol.client.get("/api/v1/plans", params={"date_from": str(day)}, headers=protocol.auth())
    assert [(p["reference"], p["start_time"]) for p in listed.json() if p["reference"] == visit.reference] == [
        (visit.reference, "10:00")
    ]


async def test_a_rescheduled_visit_re_dates_its_plan_and_the_conflicts_of_both_days(protocol):
    day, other_day = fresh_day(), fresh_day()
    minister = await protocol.accept(visit_date=day, highest_rank="minister", start_time="10:00", end_time="11:00")
    ambassador = await protocol.accept(visit_date=day, highest_rank="ambassador")
    mayor = await protocol.accept(visit_date=other_day, highest_rank="mayor")
    assert (await protocol.plan(minister))["conflicts"] == [ambassador.reference]

    await protocol.send(
        visit_envelope(
            "visit.rescheduled.v1",
            request_id=minister.request_id,
            reference=minister.reference,
            visit_date=other_day,
            highest_rank="minister",
            status="accepted",
            start_time="14:00",
            end_time="15:30",
            venue="Kaupungintalo",
            previous_date=str(day),
            message="",
            sequence=1,
        )
    )

    moved = await protocol.plan_when(minister, lambda p: p["visit_date"] == str(other_day))
    assert (moved["start_time"], moved["end_time"], moved["venue"]) == ("14:00", "15:30", "Kaupungintalo")
    assert moved["conflicts"] == [mayor.reference]
    assert (await protocol.plan_when(ambassador, lambda p: not p["conflict"]))["conflicts"] == []
    assert (await protocol.plan(mayor))["conflicts"] == [minister.reference]
    updated = (await protocol.published(minister, count=3))[-1]
    assert updated["type"] == "protocol.plan_updated.v1" and updated["data"]["visit_date"] == str(other_day)
