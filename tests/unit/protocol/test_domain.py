"""The protocol rules table: levels, hosts, checklists, readiness and conflicts."""

from datetime import date

import pytest

from services.protocol import domain
from services.protocol.domain import Booking


def _items(level, *, interpreter_language=None, press=False) -> dict[str, domain.ItemSpec]:
    return {i.key: i for i in domain.checklist(level, interpreter_language=interpreter_language, press=press)}


@pytest.mark.parametrize(
    "rank, level",
    [
        ("head_of_state", 1),
        ("head_of_government", 1),
        ("minister", 2),
        ("ambassador", 2),
        ("mayor", 2),
        ("senior_official", 3),
        ("expert", 4),
        ("other", 4),
    ],
)
def test_each_rank_maps_to_its_protocol_level(rank, level):
    assert domain.level_for(rank) == level


def test_an_unknown_rank_gets_the_lightest_protocol():
    assert domain.level_for("astronaut") == 4


def test_hosts_go_from_the_mayor_down_to_the_division():
    assert [domain.host_for(level, "education") for level in (1, 2, 3, 4)] == [
        "Mayor",
        "Deputy Mayor",
        "Director, education",
        "education",
    ]


def test_a_level_one_visit_requires_the_full_ceremony():
    items = _items(1)
    for key in ("host", "gift", "flags", "golden_book", "security_liaison", "press", "venue", "transport"):
        assert items[key].required, key
    assert "interpreter" not in items
    assert (items["security_liaison"].owner, items["press"].owner, items["host"].owner) == (
        "security",
        "communications",
        "protocol_office",
    )


def test_a_level_two_visit_requires_flags_and_a_gift_but_leaves_the_golden_book_optional():
    items = _items(2)
    assert items["flags"].required and items["gift"].required
    assert not items["golden_book"].required and not items["security_liaison"].required


def test_a_level_four_visit_is_hosted_and_placed_by_the_division_alone():
    items = _items(4)
    assert set(items) == {"host", "venue"}
    assert all(i.required and i.owner == "division" for i in items.values())


def test_an_interpreter_is_required_only_when_a_language_is_named():
    for level in (1, 2, 3, 4):
        assert "interpreter" not in _items(level, interpreter_language="")
        assert _items(level, interpreter_language="ja")["interpreter"].required


def test_press_is_required_whenever_the_guests_want_it():
    assert not _items(3)["press"].required and "press" not in _items(4)
    assert _items(3, press=True)["press"].required and _items(4, press=True)["press"].required


def test_every_row_of_the_table_names_an_owner_and_four_requirements():
    for key, (owner, requirements) in domain.CHECKLIST.items():
        assert len(requirements) == 4 and set(requirements) <= {"required", "optional", "absent"}, key
        assert isinstance(owner, str) or len(owner) == 4, key


def test_a_required_item_cannot_be_waived_but_an_optional_one_can():
    assert not domain.state_allowed(required=True, state="not_needed")
    assert domain.state_allowed(required=False, state="not_needed")
    assert domain.state_allowed(required=True, state="in_progress")
    assert not domain.state_allowed(required=False, state="finished")


def test_a_plan_is_ready_when_every_required_item_is_done():
    assert domain.is_ready([(True, "done"), (False, "open"), (False, "not_needed")])
    assert not domain.is_ready([(True, "done"), (True, "in_progress")])
    assert domain.is_ready([])


DAY, OTHER_DAY = date(2031, 5, 4), date(2031, 5, 5)


def test_two_high_level_visits_on_one_day_clash_both_ways():
    found = domain.conflicts(
        [Booking("A", DAY, 1, "Mayor"), Booking("B", DAY, 2, "Deputy Mayor"), Booking("C", DAY, 4, "education")]
    )
    assert found == {"A": ["B"], "B": ["A"], "C": []}


def test_high_level_visits_on_different_days_do_not_clash():
    assert domain.conflicts([Booking("A", DAY, 2, "Deputy Mayor"), Booking("B", OTHER_DAY, 2, "Deputy Mayor")]) == {
        "A": [],
        "B": [],
    }


def test_a_named_host_booked_twice_on_one_day_clashes_whatever_the_level():
    assert domain.clashes(Booking("A", DAY, 3, "Mayor"), Booking("B", DAY, 4, "Mayor"))
    assert not domain.clashes(Booking("A", DAY, 3, "education"), Booking("B", DAY, 4, "education"))
    assert not domain.clashes(Booking("A", DAY, 3, "Director, education"), Booking("B", DAY, 3, "Director, education"))


def test_value_bands_cover_the_register():
    assert list(domain.VALUE_BANDS) == ["under_50", "50_200", "200_1000", "over_1000"]
