"""visit.* events on the real visits topic reserve and release weeks; capacity.v1 tells the others."""

import uuid

from tests.integration.capacity.running import day_in, fresh_week, visit_envelope
from tests.support import unique


async def test_six_accepted_education_visits_fill_the_week_and_announce_it_once(capacity):
    week = fresh_week()
    accepted = [await capacity.accept(week, weekday=i % 5) for i in range(6)]

    body = await capacity.settled_week(week)
    assert body["reserved"] == 6
    assert (body["limit"], body["free"], body["full"], body["over_capacity"]) == (6, 0, True, False)
    assert {r["request_id"] for r in body["requests"]} == {e.subject for e in accepted}
    full = await capacity.published(f"education:{week}", "capacity.week_full.v1")
    assert [e["data"] for e in full] == [{"division": "education", "iso_week": week, "reserved": 6, "limit": 6}]
    reserved = {e.subject: (await capacity.published(e.subject, "capacity.reserved.v1"))[0]["data"] for e in accepted}
    assert sorted(data["reserved"] for data in reserved.values()) == [1, 2, 3, 4, 5, 6]
    assert reserved[accepted[0].subject] | {"reserved": 0} == {
        "request_id": accepted[0].subject,
        "reference": accepted[0].data["reference"],
        "division": "education",
        "iso_week": week,
        "reserved": 0,
        "limit": 6,
    }


async def test_a_seventh_acceptance_is_still_reserved_and_shows_the_week_over_capacity(capacity):
    week = fresh_week()
    for _ in range(7):
        await capacity.accept(week)

    body = await capacity.settled_week(week)
    assert body["reserved"] == 7
    assert (body["limit"], body["free"], body["over_capacity"]) == (6, 0, True)
    assert len(await capacity.published(f"education:{week}", "capacity.week_full.v1")) == 1


async def test_cancelling_a_visit_of_a_full_week_releases_it_and_reopens_the_week(capacity):
    week = fresh_week()
    accepted = [await capacity.accept(week) for _ in range(6)]
    assert (await capacity.settled_week(week))["reserved"] == 6

    await capacity.cancel(accepted[2])

    body = await capacity.settled_week(week)
    assert body["reserved"] == 5
    assert (body["free"], body["full"]) == (1, False)
    assert accepted[2].subject not in {r["request_id"] for r in body["requests"]}
    released = await capacity.published(accepted[2].subject, "capacity.released.v1")
    assert [e["data"]["reserved"] for e in released] == [5]
    reopened = await capacity.published(f"education:{week}", "capacity.week_reopened.v1")
    assert [e["data"] for e in reopened] == [{"division": "education", "iso_week": week, "reserved": 5, "limit": 6}]


async def test_cancelling_in_an_over_capacity_week_does_not_reopen_it_until_it_drops_below_the_limit(capacity):
    week = fresh_week()
    accepted = [await capacity.accept(week) for _ in range(7)]
    assert (await capacity.settled_week(week))["reserved"] == 7

    await capacity.cancel(accepted[0])
    assert (await capacity.settled_week(week))["reserved"] == 6
    assert await capacity.published(f"education:{week}", "capacity.week_reopened.v1") == []

    await capacity.cancel(accepted[1])
    assert (await capacity.settled_week(week))["reserved"] == 5
    assert len(await capacity.published(f"education:{week}", "capacity.week_reopened.v1")) == 1


async def test_a_decline_after_acceptance_releases_the_week(capacity):
    week = fresh_week()
    accepted = await capacity.accept(week)
    assert (await capacity.settled_week(week))["reserved"] == 1

    await capacity.cancel(accepted, type_="visit.declined.v1", reason="other", message="the school is closed")

    assert (await capacity.settled_week(week))["reserved"] == 0
    assert len(await capacity.published(accepted.subject, "capacity.released.v1")) == 1


async def test_a_redelivered_acceptance_does_not_count_twice(capacity):
    week = fresh_week()
    accepted = await capacity.accept(week)
    await capacity.send(accepted)  # the very same envelope id again

    assert (await capacity.settled_week(week))["reserved"] == 1
    assert len(await capacity.published(accepted.subject, "capacity.reserved.v1")) == 1


async def test_a_new_acceptance_of_the_same_request_on_another_date_moves_its_reservation(capacity):
    first_week, second_week = fresh_week(), fresh_week()
    request_id = str(uuid.uuid4())
    await capacity.accept(first_week, request_id=request_id)
    assert (await capacity.settled_week(first_week))["reserved"] == 1

    await capacity.accept(second_week, request_id=request_id)

    assert (await capacity.settled_week(second_week))["reserved"] == 1
    assert (await capacity.week(first_week))["reserved"] == 0
    events = await capacity.published(request_id)
    assert [(e["type"], e["data"]["iso_week"]) for e in events] == [
        ("capacity.reserved.v1", first_week),
        ("capacity.released.v1", first_week),
        ("capacity.reserved.v1", second_week),
    ]


async def test_a_new_date_in_the_same_week_keeps_the_reservation_without_new_events(capacity):
    week = fresh_week()
    request_id = str(uuid.uuid4())
    await capacity.accept(week, request_id=request_id, weekday=0)
    assert (await capacity.settled_week(week))["reserved"] == 1

    await capacity.accept(week, request_id=request_id, weekday=3)

    assert (await capacity.settled_week(week))["reserved"] == 1
    assert [e["type"] for e in await capacity.published(request_id)] == ["capacity.reserved.v1"]


async def test_a_cancellation_of_a_request_that_holds_no_week_changes_nothing(capacity):
    week = fresh_week()
    never_accepted = visit_envelope("visit.cancelled.v1", request_id=str(uuid.uuid4()), visit_date=None)
    await capacity.send(never_accepted)

    assert (await capacity.settled_week(week))["reserved"] == 0
    assert await capacity.published(never_accepted.subject) == []


async def test_visits_of_unlimited_divisions_are_reserved_but_never_fill_a_week(capacity):
    week = fresh_week()
    for _ in range(3):
        await capacity.accept(week, division="urban-environment")

    body = await capacity.settled_week(week, "urban-environment")
    assert body["reserved"] == 3
    assert (body["limit"], body["free"], body["full"], body["over_capacity"]) == (None, None, False, False)
    assert await capacity.published(f"urban-environment:{week}") == []


async def test_an_acceptance_without_a_visit_date_goes_to_the_dead_letter_topic(capacity):
    week = fresh_week()
    broken = visit_envelope("visit.accepted.v1", request_id=str(uuid.uuid4()), visit_date=None)
    await capacity.send(broken)
    valid = await capacity.accept(week, request_id=broken.subject)  # same key: queued behind the broken one

    assert (await capacity.settled_week(week))["reserved"] == 1
    dead = await capacity.records("visits.v1.dlq")
    assert broken.id in {d["envelope"]["id"] for d in dead}
    assert valid.id not in {d["envelope"]["id"] for d in dead}


async def test_an_acceptance_for_a_division_capacity_has_not_heard_of_is_reserved_without_a_limit(capacity):
    week, division = fresh_week(), unique("new-division-")
    await capacity.accept(week, division=division)

    body = await capacity.settled_week(week, division)
    assert (body["reserved"], body["limit"], body["over_capacity"]) == (1, None, False)


async def test_a_rescheduled_visit_moves_its_reservation_reopening_the_old_week_and_filling_the_new(capacity):
    full_week, other_week = fresh_week(), fresh_week()
    accepted = [await capacity.accept(full_week) for _ in range(6)]
    already = [await capacity.accept(other_week) for _ in range(5)]
    assert (await capacity.settled_week(full_week))["full"] is True
    moving = accepted[0]

    await capacity.send(
        visit_envelope(
            "visit.rescheduled.v1",
            request_id=moving.subject,
            visit_date=day_in(other_week, 3),
            previous_date=moving.data["visit_date"],
            message="",
            sequence=1,
        )
    )

    old, new = await capacity.settled_week(full_week), await capacity.settled_week(other_week)
    assert (old["reserved"], old["full"]) == (5, False) and moving.subject not in [
        r["request_id"] for r in old["requests"]
    ]
    assert (new["reserved"], new["full"]) == (6, True)
    assert {r["request_id"] for r in new["requests"]} == {e.subject for e in [*already, moving]}
    assert len(await capacity.published(f"education:{full_week}", "capacity.week_reopened.v1")) == 1
    assert len(await capacity.published(f"education:{other_week}", "capacity.week_full.v1")) == 1
    moves = await capacity.published(moving.subject)
    assert [e["type"] for e in moves] == ["capacity.reserved.v1", "capacity.released.v1", "capacity.reserved.v1"]


async def test_a_visit_moved_within_its_week_keeps_its_place(capacity):
    week = fresh_week()
    accepted = await capacity.accept(week, weekday=1)
    await capacity.send(
        visit_envelope(
            "visit.rescheduled.v1",
            request_id=accepted.subject,
            visit_date=day_in(week, 4),
            previous_date=accepted.data["visit_date"],
            message="",
            sequence=1,
        )
    )
    body = await capacity.settled_week(week)
    assert body["reserved"] == 1 and [r["request_id"] for r in body["requests"]] == [accepted.subject]
    assert [e["type"] for e in await capacity.published(accepted.subject)] == ["capacity.reserved.v1"]
