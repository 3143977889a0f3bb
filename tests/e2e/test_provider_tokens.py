"""The JSON API of every service takes bearer tokens of the city's provider (here the local Keycloak's test realm),
its groups mapped to roles as for the staff pages, and refuses tokens of another realm."""

import importlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest

from shared.auth import mint_token
from shared.settings import ServiceSettings
from tests.e2e.staff import realm_token
from tests.support import serve, unique
from visitdesk import SERVICES

# A read each service keeps for staff; every staff role may make it.
READS = {
    "visits": "/api/v1/queue",
    "protocol": "/api/v1/plans",
    "notifications": "/api/v1/deliveries",
    "capacity": "/api/v1/capacity/education/2031-W10",
}


@pytest.fixture(scope="module")
async def services(new_database, kafka_bootstrap, keycloak_issuer) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """The four services, each trusting the test realm; the visits one as the staff pages' client too."""
    prefix = f"{unique()}."
    async with AsyncExitStack() as stack:
        clients = {}
        for service in SERVICES:
            settings = importlib.import_module(f"services.{service}.config").Settings(
                database_url=await new_database(service),
                kafka_bootstrap=kafka_bootstrap,
                topic_prefix=prefix,
                oidc_issuer=keycloak_issuer,
                **({"oidc_client_secret": "visitdesk-local-secret"} if service == "visits" else {}),
            )
            app = importlib.import_module(f"services.{service}.main").create_app(settings)
            clients[service] = await stack.enter_async_context(serve(app))
        yield clients


@pytest.mark.parametrize("service", SERVICES)
async def test_each_service_takes_a_token_of_the_test_realm_with_the_role_its_groups_map_to(
    services, keycloak_issuer, service
):
    admin = {"Authorization": f"Bearer {await realm_token(keycloak_issuer, 'admin')}"}
    response = await services[service].get(READS[service], headers=admin)
    assert response.status_code == 200, response.text


async def test_a_division_officers_token_reads_only_their_division(services, keycloak_issuer):
    officer = {"Authorization": f"Bearer {await realm_token(keycloak_issuer, 'officer-education')}"}
    capacity = services["capacity"]
    assert (await capacity.get("/api/v1/capacity/education/2031-W10", headers=officer)).status_code == 200
    assert (await capacity.get("/api/v1/capacity/culture-and-leisure/2031-W10", headers=officer)).status_code == 404
    refused = await services["notifications"].get("/api/v1/recipients/divisions", headers=officer)
    assert refused.status_code == 403


@pytest.mark.parametrize("service", SERVICES)
async def test_each_service_refuses_a_token_of_another_realm(services, keycloak_issuer, service):
    elsewhere = keycloak_issuer.replace("/realms/visitdesk", "/realms/elsewhere")
    foreign = {"Authorization": f"Bearer {await realm_token(elsewhere, 'admin')}"}  # an admin there, in the same group
    response = await services[service].get(READS[service], headers=foreign)
    assert (response.status_code, response.headers.get("www-authenticate")) == (401, "Bearer"), response.text


async def test_a_person_of_the_realm_in_no_mapped_group_is_refused_with_403(services, keycloak_issuer):
    nobody = {"Authorization": f"Bearer {await realm_token(keycloak_issuer, 'no-access')}"}
    response = await services["protocol"].get(READS["protocol"], headers=nobody)
    assert (response.status_code, response.json()["detail"]) == (403, "no visitdesk role for this account")


async def test_development_tokens_keep_working_beside_the_providers_outside_production(services):
    token = mint_token(ServiceSettings(database_url="unused"), role="admin")
    response = await services["protocol"].get(READS["protocol"], headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
