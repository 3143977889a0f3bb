"""GET /api/v1/queue/stream: changes pushed from visits.v1 as Server-Sent Events, resumable with Last-Event-ID."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from services.visits.stream import format_position, parse_position
from tests.builders import future
from tests.integration.queue.live import next_message, sse_messages
from tests.support import eventually

PERSONAL = ("Mari", "mari@example.org", "Delegation ", "contact", "tracking", "token")


@asynccontextmanager
async def open_stream(
    live, role: str = "communications", division: str | None = None, last_event_id: str | None = None
) -> AsyncIterator[AsyncIterator[dict]]:
    headers = live.auth(role, division) | ({"Last-Event-ID": last_event_id} if last_event_id else {})
    async with live.client.stream("GET", "/api/v1/queue/stream", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        yield sse_messages(response)


async def changes_of(messages, reference: str, count: int) -> list[dict]:
    """The next `count` messages about `reference`, skipping other tests' requests."""
    found = []
    while len(found) < count:
        message = await next_message(messages)
        if reference in str(message.get("data")):
            found.append(message)
    return found


async def test_the_stream_pushes_each_change_as_it_happens_without_personal_data(live):
    async with open_stream(live) as messages:
        ready = await next_message(messages, event="ready")
        assert ready["id"] == ready["data"]["position"]
        submitted = await live.submit(
            country="NR",
            highest_rank="minister",
            needs={"press": True},
            preferred_dates=[{"start": future(20), "end": future(25)}],
        )
        received = await changes_of(messages, submitted["reference"], 2)
        await live.decide(submitted["reference"], "education", decision="accept", visit_date=future(21), host="Deputy")
        received += await changes_of(messages, submitted["reference"], 1)

    assert [m["event"] for m in received] == ["change"] * 3
    assert [m["data"]["type"] for m in received] == ["visit.submitted.v1", "visit.routed.v1", "visit.accepted.v1"]
    routed, accepted = received[1]["data"]["item"], received[2]["data"]["item"]
    assert routed["section"] == "waiting" and routed["status"] == "routed" and routed["decision_deadline"]
    assert routed["created_at"] and routed["country"] == "NR" and routed["division"] == "education"
    assert (routed["rank_level"], routed["press"], routed["focus_areas"]) == (2, True, ["education"])
    assert accepted["section"] == "upcoming" and accepted["visit_date"] == future(21)
    assert all(m["id"] for m in received) and len({m["id"] for m in received}) == 3
    for personal in PERSONAL:
        assert personal not in str(received)


async def test_a_moved_visit_reaches_the_stream_with_its_new_day_and_hours(live):
    submitted = await live.submit(country="MH", preferred_dates=[{"start": future(20), "end": future(25)}])
    reference = submitted["reference"]
    await live.decide(reference, "education", decision="accept", visit_date=future(21), host="Rehtori")
    async with open_stream(live) as messages:
        await next_message(messages, event="ready")
        await live.decide(
            reference,
            "education",
            decision="reschedule",
            visit_date=future(24),
            start_time="10:00",
            end_time="12:00",
            venue="Oodi",
        )
        [moved] = await changes_of(messages, reference, 1)
        while moved["data"]["type"] != "visit.rescheduled.v1":  # the acceptance may reach the stream after it opens
            [moved] = await changes_of(messages, reference, 1)
    item = moved["data"]["item"]
    assert (item["visit_date"], item["start_time"], item["end_time"], item["venue"], item["section"]) == (
        future(24),
        "10:00",
        "12:00",
        "Oodi",
        "upcoming",
    )


async def test_a_client_that_reconnects_with_last_event_id_gets_what_it_missed(live):
    position = (await live.queue(country="TV"))["position"]
    submitted = await live.submit(country="TV")
    await live.decide(submitted["reference"], "education", decision="decline", reason="other", message="Sorry.")
    await eventually(lambda: _seen(live, submitted["reference"], "declined"))

    async with open_stream(live, last_event_id=position) as messages:
        missed = await changes_of(messages, submitted["reference"], 3)
        ready = await next_message(messages, event="ready")
    assert [m["data"]["item"]["status"] for m in missed] == ["submitted", "routed", "declined"]
    assert missed[2]["data"]["item"]["section"] is None  # it has left the queue
    assert ready["data"]["missed"] >= 3

    async with open_stream(live, last_event_id=missed[1]["id"]) as messages:  # dropped after the second
        again = await changes_of(messages, submitted["reference"], 1)
    assert again[0]["id"] == missed[2]["id"]


async def test_a_client_resuming_on_a_replica_behind_it_keeps_its_own_position(live):
    """A browser that saw some partitions further along on another replica reconnects here: this replica's changes
    carry the browser's position, not this replica's, so its next reconnection (anywhere) repeats nothing."""
    stream = live.app.state.queue_stream
    submitted = await live.submit(country="NU")
    await eventually(lambda: _seen(live, submitted["reference"], "routed"))
    [partition] = {c.partition for c in stream.buffer if c.item["reference"] == submitted["reference"]}
    here = parse_position(stream.position_id())
    browser = {p: o if p == partition else o + 1000 for p, o in here.items()}  # ahead in every other partition
    async with open_stream(live, last_event_id=format_position(browser)) as messages:
        await next_message(messages, event="ready")
        await live.decide(submitted["reference"], "education", decision="decline", reason="other")
        [declined] = await changes_of(messages, submitted["reference"], 1)
    position = parse_position(declined["id"])
    assert position[partition] > here[partition]
    assert {p: o for p, o in position.items() if p != partition} == {p: o for p, o in browser.items() if p != partition}


async def test_a_client_too_far_behind_is_told_to_reload_the_snapshot(live):
    stream = live.app.state.queue_stream
    position = stream.position_id()
    stream.buffer_size = 2
    try:
        for _ in range(2):
            submitted = await live.submit(country="KI")
        await eventually(lambda: _seen(live, submitted["reference"], "routed"))
        for last_event_id in (position, "not-a-position"):
            async with open_stream(live, last_event_id=last_event_id) as messages:
                reset = await next_message(messages)
                assert reset["event"] == "reset" and "reload" in reset["data"]["reason"]
                assert [m async for m in messages] == []  # and the stream ends
    finally:
        stream.buffer_size = 1000


async def test_a_division_officer_streams_only_their_division_and_hears_when_a_request_leaves(live):
    async with open_stream(live, "division_officer", "education") as messages:
        await next_message(messages, event="ready")
        culture = await live.submit(country="PW", focus_areas=["culture"])
        await eventually(lambda: _seen(live, culture["reference"], "routed"))
        ours = await live.submit(country="PW")
        seen = await changes_of(messages, ours["reference"], 2)
        await live.decide(
            ours["reference"],
            "education",
            decision="redirect",
            to_division="culture-and-leisure",
            message="Culture hosts this one.",
        )
        seen += await changes_of(messages, ours["reference"], 1)
    assert [m["event"] for m in seen] == ["change", "change", "remove"]
    assert seen[2]["data"] == {"type": "visit.redirected.v1", "reference": ours["reference"]}
    assert culture["reference"] not in str(seen)


async def test_quiet_streams_get_keep_alives_and_closed_ones_are_forgotten(live):
    stream = live.app.state.queue_stream
    stream.keepalive_seconds = 0.2
    try:
        async with open_stream(live) as messages:
            await next_message(messages, event="ready")
            assert len(stream.subscribers) >= 1
            assert (await next_message(messages, comments=True)) == {"comment": "keep-alive"}
    finally:
        stream.keepalive_seconds = 15.0
    await eventually(lambda: _no_subscribers(stream), timeout=5)


async def _seen(live, reference: str, status: str) -> bool:
    """The stream of this replica has handled the change already."""
    return any(
        c.item["reference"] == reference and c.item["status"] == status for c in live.app.state.queue_stream.buffer
    )


async def _no_subscribers(stream) -> bool:
    return not stream.subscribers
