"""The provider's groups mapped to visitdesk roles: the settings' table, checked at start, read in its order."""

import pytest
from pydantic import ValidationError

from services.visits.texts import DIVISIONS
from shared.auth import NoAccess, Principal, group_grants, principal_from_groups
from shared.settings import DEFAULT_GROUPS, ServiceSettings

GRANTS = group_grants(DEFAULT_GROUPS)


def test_the_default_mapping_has_one_group_per_role_and_per_division_of_visits():
    officers = {division for _, role, division in GRANTS if role == "division_officer"}
    assert officers == set(DIVISIONS["en"])
    assert {role for _, role, _ in GRANTS} == {"admin", "communications", "protocol_officer", "division_officer"}
    assert DEFAULT_GROUPS["visitdesk-division-education"] == "division_officer:education"


@pytest.mark.parametrize("grant", ["mayor", "division_officer", "admin:education", "", ":education"])
def test_a_mapping_to_no_role_stops_the_service_at_start_naming_the_group(grant):
    with pytest.raises(ValidationError, match="group visitdesk-x"):
        ServiceSettings(database_url="unused", oidc_groups={"visitdesk-x": grant})


def test_groups_come_from_the_environment_as_json(monkeypatch):
    monkeypatch.setenv(
        "VISITDESK_OIDC_GROUPS", '{"HEL-Viestinta": "communications", "HEL-Kasko": "division_officer:education"}'
    )
    grants = group_grants(ServiceSettings(database_url="unused").oidc_groups)
    assert grants == [("HEL-Viestinta", "communications", None), ("HEL-Kasko", "division_officer", "education")]


def test_the_first_group_of_the_mapping_that_the_person_holds_decides():
    claims = {"sub": "u1", "name": "Aino", "groups": ["visitdesk-division-education", "visitdesk-admins"]}
    assert principal_from_groups(claims, GRANTS) == Principal(sub="u1", role="admin", name="Aino")
    only_officer = claims | {"groups": ["/visitdesk-division-education"]}  # a full path, as some providers send
    assert principal_from_groups(only_officer, GRANTS) == Principal(
        sub="u1", role="division_officer", division="education", name="Aino"
    )


@pytest.mark.parametrize("groups", [None, [], ["city-staff"], "visitdesk-admins", [7, None]])
def test_a_person_in_no_mapped_group_has_no_access(groups):
    with pytest.raises(NoAccess):
        principal_from_groups({"sub": "u1", "groups": groups}, GRANTS)
