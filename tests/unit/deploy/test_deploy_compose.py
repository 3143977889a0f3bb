"""docker-compose.yml against the Compose Specification schema, and the promises the issue makes."""

import importlib
import json
import os
import re
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.unit.deploy.interpolation import MissingVariable, interpolate, read_env_file, variables
from visitdesk import SERVICES, service_ports

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SECRETS = {
    "POSTGRES_PASSWORD",
    "VISITDESK_JWT_SECRET",
    "VISITS_CSRF_SECRET",
    "VISITS_SESSION_SECRET",
    "VISITS_OIDC_CLIENT_SECRET",
} | {f"{s.upper()}_DB_PASSWORD" for s in SERVICES}


def compose_schema() -> dict:
    """The compose-spec schema check-jsonschema vendors (`--builtin-schema vendor.compose-spec`)."""
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads(vendor.joinpath("compose-spec.json").read_text())


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def compose(raw) -> dict:
    """The file as `docker compose` sees it with the documented .env.example values."""
    return interpolate(raw, read_env_file(ROOT / ".env.example"))


def schema_errors(document: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(compose_schema())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_file_matches_the_compose_specification(compose):
    assert schema_errors(compose) == []


def test_schema_check_rejects_a_misspelt_key(compose):
    broken = {
        **compose,
        "services": {**compose["services"], "visits": {**compose["services"]["visits"], "helthcheck": {}}},
    }
    assert any("helthcheck" in error for error in schema_errors(broken))


def test_compose_refuses_to_start_until_every_secret_is_set(raw):
    required = {name for name, op in variables(COMPOSE_FILE.read_text()).items() if op == ":?"}
    assert SECRETS <= required
    env = read_env_file(ROOT / ".env.example")
    for secret in SECRETS:
        with pytest.raises(MissingVariable) as missing:
            interpolate(raw, {key: value for key, value in env.items() if key != secret})
        assert missing.value.name == secret


def test_every_variable_the_compose_file_reads_is_documented_in_env_example():
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))
    assert set(variables(COMPOSE_FILE.read_text())) <= documented


def test_no_credential_is_written_into_the_compose_file(raw):
    for name, service in raw["services"].items():
        for key, value in (service.get("environment") or {}).items():
            value = str(value)
            if re.search(r"PASSWORD|SECRET|TOKEN", key):
                assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]*\}", value), f"{name}.{key} is not from .env"
            if "://" in value and "@" in value:
                password = value.split("://", 1)[1].split("@", 1)[0].partition(":")[2]
                assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]*\}", password), f"{name}.{key} embeds a password"


def test_env_example_holds_only_placeholders():
    for key, value in read_env_file(ROOT / ".env.example").items():
        if key in SECRETS:
            assert value.startswith("change-me"), key


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_starts_after_its_migration_and_the_topics_job_succeed(compose, service):
    depends = compose["services"][service]["depends_on"]
    assert depends[f"{service}-migrate"]["condition"] == "service_completed_successfully"
    assert depends["topics"]["condition"] == "service_completed_successfully"
    assert depends["kafka"]["condition"] == "service_healthy"
    migrate = compose["services"][f"{service}-migrate"]
    assert migrate["command"] == ["visitdesk", "migrate", service]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert compose["services"]["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"


@pytest.mark.parametrize("service,port", service_ports().items())
def test_each_service_runs_its_own_app_on_its_port_from_the_one_image(compose, service, port):
    container = compose["services"][service]
    command = container["command"]
    assert command[:3] == ["uvicorn", "--factory", f"services.{service}.main:create_app"]
    assert command[command.index("--port") + 1] == str(port)
    assert container["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert container["build"] == "." and container["image"].startswith("visitdesk:")
    assert f"http://127.0.0.1:{port}/readyz" in container["healthcheck"]["test"]
    url = container["environment"][f"{service.upper()}_DATABASE_URL"]
    assert url.startswith(f"postgresql://{service}:") and url.endswith(f"@postgres:5432/{service}")


def test_every_long_running_container_has_a_health_check_and_every_job_is_awaited(compose):
    services = compose["services"]
    awaited = {
        name
        for s in services.values()
        for name, d in (s.get("depends_on") or {}).items()
        if d["condition"] == "service_completed_successfully"
    }
    for name, service in services.items():
        if service.get("restart") == "no":
            assert name in awaited, f"one-shot {name} is not waited for"
        else:
            assert service["healthcheck"]["test"], name
            assert not service["healthcheck"].get("disable"), name


def test_app_containers_are_locked_down(compose):
    for name, service in compose["services"].items():
        if service.get("build"):
            assert service["read_only"] is True, name
            assert service["cap_drop"] == ["ALL"], name
            assert "no-new-privileges:true" in service["security_opt"], name


def test_state_lives_in_named_volumes(compose):
    declared = set(compose["volumes"])
    for name, target in {
        "kafka": "/var/lib/kafka/data",
        "postgres": "/var/lib/postgresql/data",
        "mailpit": "/data",
    }.items():
        mounts = [v for v in compose["services"][name]["volumes"] if isinstance(v, str)]
        assert any(m.split(":")[0] in declared and m.split(":")[1] == target for m in mounts), name


def test_bind_mounted_files_exist_and_the_topics_job_shares_the_kubernetes_script(compose):
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            if isinstance(volume, dict) and volume["type"] == "bind":
                assert (ROOT / volume["source"]).exists(), f"{name}: {volume['source']}"
    topics = compose["services"]["topics"]
    assert topics["image"] == "apache/kafka:4.1.1"
    assert topics["volumes"][0]["source"] == "./deploy/k8s/base/create-topics.sh"


def test_postgres_init_creates_one_database_per_service_and_is_executable(compose):
    script = ROOT / "deploy/postgres-init/10-service-databases.sh"
    assert os.access(script, os.X_OK), "the postgres image sources a non-executable script instead of running it"
    assert "for service in visits protocol notifications capacity" in script.read_text()
    postgres = compose["services"]["postgres"]["environment"]
    assert {f"{s.upper()}_DB_PASSWORD" for s in SERVICES} <= set(postgres)


def test_notifications_send_mail_through_mailpit(compose):
    env = compose["services"]["notifications"]["environment"]
    assert (env["NOTIFICATIONS_SMTP_HOST"], str(env["NOTIFICATIONS_SMTP_PORT"])) == ("mailpit", "1025")
    assert compose["services"]["notifications"]["depends_on"]["mailpit"]["condition"] == "service_healthy"


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_and_its_migration_load_their_settings_from_the_compose_environment(compose, service, monkeypatch):
    for name in (service, f"{service}-migrate"):
        for key in list(os.environ):
            if key.startswith(("VISITDESK_", *(f"{s.upper()}_" for s in SERVICES))):
                monkeypatch.delenv(key)
        for key, value in compose["services"][name]["environment"].items():
            monkeypatch.setenv(key, str(value))
        settings = importlib.import_module(f"services.{service}.config").Settings()
        assert settings.database_url.endswith(f"@postgres:5432/{service}"), name


def test_keycloak_imports_the_test_realm_and_the_services_find_it_by_its_issuer(compose):
    keycloak = compose["services"]["keycloak"]
    assert keycloak["image"] == "quay.io/keycloak/keycloak:26.4.7"
    assert "--import-realm" in keycloak["command"]
    mount = keycloak["volumes"][0]
    assert (mount["source"], mount["target"]) == ("./deploy/keycloak", "/opt/keycloak/data/import")
    realm = json.loads((ROOT / "deploy/keycloak/visitdesk-realm.json").read_text())
    client = next(c for c in realm["clients"] if c["clientId"] == "visitdesk")
    assert client["secret"].startswith("${VISITDESK_CLIENT_SECRET:")  # taken from the environment below
    secret = read_env_file(ROOT / ".env.example")["VISITS_OIDC_CLIENT_SECRET"]
    assert keycloak["environment"]["VISITDESK_CLIENT_SECRET"] == secret
    assert compose["services"]["visits"]["environment"]["VISITS_OIDC_CLIENT_SECRET"] == secret
    for service in SERVICES:
        env = compose["services"][service]["environment"]
        assert env["VISITDESK_OIDC_ISSUER"] == f"{keycloak['environment']['KC_HOSTNAME']}/realms/visitdesk"
        assert env["VISITDESK_OIDC_DISCOVERY_URL"].startswith("http://keycloak:8080/realms/visitdesk/")
