"""Protocol rules: the level a visit gets, who hosts it, which checklist items it needs, and conflicts."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

Level = Literal[1, 2, 3, 4]
Requirement = Literal["required", "optional", "absent"]
ItemState = Literal["open", "in_progress", "done", "not_needed"]
ITEM_STATES: tuple[ItemState, ...] = ("open", "in_progress", "done", "not_needed")
R, O, X = "required", "optional", "absent"  # noqa: E741 - one letter each keeps the table readable

LEVEL_BY_RANK: dict[str, Level] = {
    "head_of_state": 1,
    "head_of_government": 1,
    "minister": 2,
    "ambassador": 2,
    "mayor": 2,
    "senior_official": 3,
    "expert": 4,
    "other": 4,
}

# Level 3 and 4 hosts are the owning division's own people; the plan names them with the division.
HOST_BY_LEVEL: dict[Level, str] = {1: "Mayor", 2: "Deputy Mayor", 3: "Director, {division}", 4: "{division}"}
NAMED_HOSTS = frozenset({"Mayor", "Deputy Mayor"})

# High-level visits are arranged by the protocol office, the others by the division that hosts them.
HOSTING_SIDE = ("protocol_office", "protocol_office", "division", "division")

# One row per checklist item: the owner (one for every level, or one per level) and the requirement
# at levels 1, 2, 3, 4. Two needs of the request adjust it (see `checklist`).
#   item                owner                 level 1  2  3  4
CHECKLIST: dict[str, tuple[str | tuple[str, ...], tuple[Requirement, ...]]] = {
    "host": (HOSTING_SIDE, (R, R, R, R)),
    "gift": ("protocol_office", (R, R, O, X)),
    "flags": ("protocol_office", (R, R, X, X)),
    "golden_book": ("protocol_office", (R, O, X, X)),
    "interpreter": (HOSTING_SIDE, (R, R, R, R)),  # only when a language is named
    "security_liaison": ("security", (R, O, X, X)),
    "press": ("communications", (R, O, O, X)),  # required whenever the guests want press
    "venue": ("division", (R, R, R, R)),
    "transport": (HOSTING_SIDE, (R, R, O, X)),
}


@dataclass(frozen=True)
class ItemSpec:
    key: str
    owner: str
    required: bool


@dataclass(frozen=True)
class Booking:
    """What the conflict rule needs to know about one live plan."""

    reference: str
    visit_date: date
    level: int
    host: str


def level_for(rank: str) -> Level:
    """The protocol level of a visit; an unknown rank gets the lightest protocol, never a crash."""
    return LEVEL_BY_RANK.get(rank, 4)


def host_for(level: Level, division: str) -> str:
    return HOST_BY_LEVEL[level].format(division=division)


def checklist(level: Level, *, interpreter_language: str | None, press: bool) -> list[ItemSpec]:
    """The items a plan starts with: no interpreter unless a language is named; press if the guests want it."""
    items = []
    for key, (owner, requirements) in CHECKLIST.items():
        requirement = requirements[level - 1]
        if key == "interpreter" and not interpreter_language:
            requirement = X
        if key == "press" and press:
            requirement = R
        if requirement != X:
            who = owner if isinstance(owner, str) else owner[level - 1]
            items.append(ItemSpec(key, who, requirement == R))
    return items


def state_allowed(*, required: bool, state: str) -> bool:
    """A required item cannot be waived: only the protocol rules, not a person, decide what is needed."""
    return state in ITEM_STATES and not (required and state == "not_needed")


def is_ready(items: Iterable[tuple[bool, str]]) -> bool:
    """Ready when every required item is done; (required, state) pairs."""
    return all(state == "done" for required, state in items if required)


def clashes(a: Booking, b: Booking) -> bool:
    """Two high-level visits the same day, or one named host booked twice that day."""
    if a.visit_date != b.visit_date or a.reference == b.reference:
        return False
    return (a.level <= 2 and b.level <= 2) or (a.host == b.host and a.host in NAMED_HOSTS)


def conflicts(bookings: list[Booking]) -> dict[str, list[str]]:
    """For each booking, the sorted references of the others it clashes with."""
    return {a.reference: sorted(b.reference for b in bookings if clashes(a, b)) for a in bookings}


# The gift register records a band, not a price: enough for reporting and the city's gift rules.
VALUE_BANDS = {"under_50": "< 50 €", "50_200": "50–200 €", "200_1000": "200–1000 €", "over_1000": "> 1000 €"}
ValueBand = Literal["under_50", "50_200", "200_1000", "over_1000"]
GiftDirection = Literal["given", "received"]
ERASED = "[erased]"
