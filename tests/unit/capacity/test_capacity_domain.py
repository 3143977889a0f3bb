"""ISO week arithmetic and the free/full/over-capacity rules of one week."""

from datetime import UTC, date, datetime

import pytest

from services.capacity.domain import (
    InvalidWeek,
    WeekLoad,
    crossing,
    current_week,
    iso_week,
    validate_week,
    week_monday,
)


@pytest.mark.parametrize(
    ("day", "week"),
    [
        (date(2027, 2, 15), "2027-W07"),
        (date(2027, 2, 21), "2027-W07"),  # Sunday still belongs to Monday's week
        (date(2027, 1, 1), "2026-W53"),  # early January can belong to the previous ISO year
        (date(2026, 12, 28), "2026-W53"),
        (date(2025, 12, 29), "2026-W01"),  # late December can belong to the next ISO year
    ],
)
def test_a_day_falls_in_its_iso_week(day, week):
    assert iso_week(day) == week


def test_the_current_week_is_helsinkis():
    # Sunday 2026-11-29 22:30 UTC is Monday 00:30 in Helsinki (winter), 21:30 UTC on 2027-06-06 is 00:30 (summer).
    assert current_week(datetime(2026, 11, 29, 22, 30, tzinfo=UTC)) == "2026-W49"
    assert current_week(datetime(2026, 11, 29, 21, 30, tzinfo=UTC)) == "2026-W48"
    assert current_week(datetime(2027, 6, 6, 21, 30, tzinfo=UTC)) == "2027-W23"


def test_a_week_starts_on_its_monday():
    assert week_monday("2027-W07") == date(2027, 2, 15)


@pytest.mark.parametrize("week", ["2027-W01", "2026-W53", "2020-W53", "9999-W52"])
def test_real_weeks_are_valid(week):
    assert validate_week(week) == week


@pytest.mark.parametrize(
    "week",
    [
        "2027-W53",  # 2027 has 52 ISO weeks
        "2027-W00",
        "2027-W54",
        "0000-W10",
        "2027-W7",
        "2027W07",
        "2027-w07",
        "27-W07",
        "2027-07",
        "",
        "2027-W07 ",
        "２０２７-W07",  # non-ASCII digits are not a week either
    ],
)
def test_weeks_that_do_not_exist_are_rejected(week):
    with pytest.raises(InvalidWeek):
        validate_week(week)


def test_an_unlimited_week_is_never_full_and_has_no_free_count():
    load = WeekLoad(limit=None, reserved=40)
    assert (load.free, load.full, load.over_capacity) == (None, False, False)


def test_a_week_with_room_is_not_full():
    load = WeekLoad(limit=6, reserved=5)
    assert (load.free, load.full, load.over_capacity) == (1, False, False)


def test_a_week_at_its_limit_is_full_but_not_over_capacity():
    load = WeekLoad(limit=6, reserved=6)
    assert (load.free, load.full, load.over_capacity) == (0, True, False)


def test_a_week_beyond_its_limit_is_over_capacity_with_nothing_free():
    load = WeekLoad(limit=6, reserved=7)
    assert (load.free, load.full, load.over_capacity) == (0, True, True)


def test_a_limit_of_zero_makes_an_empty_week_full():
    assert WeekLoad(limit=0, reserved=0).full


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (WeekLoad(6, 5), WeekLoad(6, 6), "full"),
        (WeekLoad(6, 6), WeekLoad(6, 7), None),  # already full: announced once, not again
        (WeekLoad(6, 7), WeekLoad(6, 6), None),  # still full
        (WeekLoad(6, 6), WeekLoad(6, 5), "reopened"),
        (WeekLoad(6, 4), WeekLoad(6, 3), None),
        (WeekLoad(6, 6), WeekLoad(8, 6), "reopened"),  # a raised limit
        (WeekLoad(6, 4), WeekLoad(4, 4), "full"),  # a lowered limit
        (WeekLoad(6, 6), WeekLoad(None, 6), "reopened"),  # made unlimited
        (WeekLoad(None, 3), WeekLoad(2, 3), "full"),
    ],
)
def test_only_a_crossing_of_the_limit_is_announced(before, after, expected):
    assert crossing(before, after) == expected
