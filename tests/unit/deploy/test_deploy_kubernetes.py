"""deploy/k8s against the Kubernetes OpenAPI schemas (kubernetes-validate, offline), and its promises."""

import importlib
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

from visitdesk import SERVICES, service_ports
from visitdesk.cli import database_url

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
KUSTOMIZATIONS = sorted(K8S.rglob("kustomization.yaml"))
# The oldest Kubernetes we promise to run on, and the newest the schemas know.
VERSIONS = ["1.30", latest_version()]


def load_all(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def resource_files(kustomization: Path) -> list[Path]:
    """The manifest files a kustomization lists (folders are other kustomizations)."""
    listed = [kustomization.parent / r for r in yaml.safe_load(kustomization.read_text()).get("resources", [])]
    return [path for path in listed if path.is_file()]


def schema_problems(doc: dict, version: str) -> str | None:
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        return f"{'.'.join(map(str, error.path))}: {error.message}"
    except kubernetes_validate.SchemaNotFoundError as error:
        return error.message
    return None


def kustomize_command() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


@cache
def rendered(folder: str) -> tuple[dict, ...]:
    """The manifests an overlay produces, as `kubectl apply -k` would send them."""
    command = kustomize_command()
    if command is None:
        pytest.skip("neither kustomize nor kubectl on PATH: the per-file checks still ran")
    result = subprocess.run([*command, str(K8S / folder)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def find(docs, kind: str, name: str) -> dict:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def pod_templates(docs):
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            yield doc["metadata"]["name"], doc["spec"]["template"]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS, ids=lambda p: p.parent.relative_to(K8S).as_posix())
def test_every_manifest_file_validates_against_the_kubernetes_schema(kustomization, version):
    files = resource_files(kustomization)
    assert files
    for path in files:
        for doc in load_all(path):
            assert schema_problems(doc, version) is None, f"{path.name} {doc['kind']}/{doc['metadata']['name']}"


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS, ids=lambda p: p.parent.relative_to(K8S).as_posix())
def test_everything_a_kustomization_refers_to_exists(kustomization):
    spec = yaml.safe_load(kustomization.read_text())
    folder = kustomization.parent
    for resource in spec.get("resources", []):
        target = folder / resource
        assert target.is_file() or (target / "kustomization.yaml").is_file(), resource
    for patch in spec.get("patches", []):
        assert (folder / patch["path"]).is_file(), patch["path"]
    for generator in spec.get("configMapGenerator", []) + spec.get("secretGenerator", []):
        for name in generator.get("envs", []) + [f.split("=")[-1] for f in generator.get("files", [])]:
            assert (folder / name).is_file(), name


def test_schema_check_rejects_a_misspelt_field():
    deployment = find(load_all(K8S / "base/visits.yaml"), "Deployment", "visits")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    assert "readinesProbe" in schema_problems(deployment, VERSIONS[0])


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("overlay", ["base", "overlays/production"])
def test_rendered_manifests_validate_against_the_kubernetes_schema(overlay, version):
    for doc in rendered(overlay):
        assert schema_problems(doc, version) is None, f"{doc['kind']}/{doc['metadata']['name']}"


def test_no_secret_is_kept_in_git_only_references_to_secrets():
    docs = [doc for path in K8S.rglob("*.yaml") for doc in load_all(path)]
    assert not [d for d in docs if d.get("kind") == "Secret" or d.get("secretGenerator")]
    referenced = {
        ref["secretKeyRef"]["name"]
        for _, template in pod_templates(docs)
        for c in template["spec"]["containers"]
        for ref in (e.get("valueFrom", {}) for e in c.get("env", []))
        if "secretKeyRef" in ref
    }
    assert referenced == {"visitdesk-database", "visitdesk-visits", "visitdesk-smtp"}
    for name in referenced:
        assert f"create secret generic {name}" in (K8S / "README.md").read_text(), f"{name} is undocumented"


@pytest.mark.parametrize("service,port", service_ports().items())
def test_each_service_has_deployment_service_budget_and_autoscaler(service, port):
    docs = load_all(K8S / f"base/{service}.yaml")
    assert sorted(d["kind"] for d in docs) == [
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Service",
    ]
    deployment = find(docs, "Deployment", service)
    assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    for kind in ("Service", "PodDisruptionBudget"):
        selector = find(docs, kind, service)["spec"]["selector"]
        assert (selector.get("matchLabels") or selector).items() <= pod_labels.items(), kind
    assert find(docs, "HorizontalPodAutoscaler", service)["spec"]["scaleTargetRef"]["name"] == service
    assert find(docs, "Service", service)["spec"]["ports"] == [{"name": "http", "port": port, "targetPort": "http"}]


@pytest.mark.parametrize("service,port", service_ports().items())
def test_each_service_probes_readyz_and_healthz_on_its_own_port(service, port):
    deployment = find(load_all(K8S / f"base/{service}.yaml"), "Deployment", service)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["command"][:3] == ["uvicorn", "--factory", f"services.{service}.main:create_app"]
    assert container["command"][container["command"].index("--port") + 1] == str(port)
    database = next(e for e in container["env"] if e["name"] == f"{service.upper()}_DATABASE_URL")
    assert database["valueFrom"]["secretKeyRef"] == {"name": "visitdesk-database", "key": service}


def test_kubernetes_runs_the_same_commands_as_compose():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for service in SERVICES:
        deployment = find(load_all(K8S / f"base/{service}.yaml"), "Deployment", service)
        assert deployment["spec"]["template"]["spec"]["containers"][0]["command"] == compose[service]["command"]


def test_every_pod_runs_non_root_read_only_without_capabilities_and_with_resources():
    docs = [doc for path in K8S.glob("base/*.yaml") for doc in load_all(path)]
    templates = dict(pod_templates(docs))
    assert len(templates) == 4 + 4 + 1
    for name, template in templates.items():
        spec = template["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] > 0, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert "memory" in container["resources"]["limits"], name


def test_a_migration_job_per_service_that_the_services_cannot_route_to():
    jobs = load_all(K8S / "base/migrations.yaml")
    for service in SERVICES:
        job = find(jobs, "Job", f"{service}-migrate")
        assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["visitdesk", "migrate", service]
        assert job["metadata"]["labels"]["visitdesk/phase"] == "prepare"
        selector = find(load_all(K8S / f"base/{service}.yaml"), "Service", service)["spec"]["selector"]
        assert not selector.items() <= job["spec"]["template"]["metadata"]["labels"].items()


def test_the_topics_job_runs_the_shared_script_from_the_kafka_image():
    job = find(rendered("base"), "Job", "create-topics")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "apache/kafka:4.1.1"
    assert container["command"] == ["/bin/sh", "/opt/visitdesk/create-topics.sh"]
    volume = next(v for v in job["spec"]["template"]["spec"]["volumes"] if v["name"] == "script")
    script = find(rendered("base"), "ConfigMap", volume["configMap"]["name"])
    assert script["data"]["create-topics.sh"] == (K8S / "base/create-topics.sh").read_text()


def test_production_topics_have_twelve_partitions_replication_three_and_two_in_sync():
    docs = rendered("overlays/production")
    container = find(docs, "Job", "create-topics")["spec"]["template"]["spec"]["containers"][0]
    topics = find(docs, "ConfigMap", container["envFrom"][0]["configMapRef"]["name"])
    assert topics["data"] == {"TOPIC_PARTITIONS": "12", "TOPIC_REPLICATION": "3", "TOPIC_MIN_ISR": "2"}


@pytest.mark.parametrize("overlay", ["base", "overlays/production"])
def test_autoscalers_never_exceed_the_partitions_a_consumer_group_can_share(overlay):
    docs = rendered(overlay)
    container = find(docs, "Job", "create-topics")["spec"]["template"]["spec"]["containers"][0]
    partitions = int(
        find(docs, "ConfigMap", container["envFrom"][0]["configMapRef"]["name"])["data"]["TOPIC_PARTITIONS"]
    )
    for service in SERVICES:
        autoscaler = find(docs, "HorizontalPodAutoscaler", service)["spec"]
        assert 2 <= autoscaler["minReplicas"] <= autoscaler["maxReplicas"] <= partitions, service
        assert find(docs, "PodDisruptionBudget", service)["spec"]["maxUnavailable"] < autoscaler["minReplicas"]


def test_production_runs_in_its_own_restricted_namespace_with_a_released_image():
    docs = rendered("overlays/production")
    namespace = find(docs, "Namespace", "visitdesk")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {"visitdesk"}
    config = find(
        docs,
        "ConfigMap",
        next(
            e["configMapRef"]["name"]
            for _, t in pod_templates(docs)
            for e in t["spec"]["containers"][0].get("envFrom", [])
            if e["configMapRef"]["name"].startswith("visitdesk-config")
        ),
    )
    assert config["data"]["VISITDESK_ENVIRONMENT"] == "production"
    assert config["data"]["VISITDESK_KAFKA_BOOTSTRAP"].count(",") == 2, "three brokers"
    for name, template in pod_templates(docs):
        image = template["spec"]["containers"][0]["image"]
        assert image.rsplit(":", 1)[-1] not in ("", "latest") and ":" in image, name


def test_phase_one_holds_what_the_jobs_need():
    """`kubectl apply -k ... -l visitdesk/phase=prepare` must bring the namespace, config and jobs."""
    docs = rendered("overlays/production")
    prepared = {
        (d["kind"], d["metadata"]["name"])
        for d in docs
        if d["metadata"].get("labels", {}).get("visitdesk/phase") == "prepare"
    }
    assert {kind for kind, _ in prepared} == {"Namespace", "ConfigMap", "Job"}
    for job in (d for d in docs if d["kind"] == "Job"):
        spec = job["spec"]["template"]["spec"]
        needed = {e["configMapRef"]["name"] for c in spec["containers"] for e in c.get("envFrom", [])}
        needed |= {v["configMap"]["name"] for v in spec.get("volumes", []) if "configMap" in v}
        needed |= {
            e["valueFrom"]["configMapKeyRef"]["name"]
            for c in spec["containers"]
            for e in c.get("env", [])
            if "configMapKeyRef" in e.get("valueFrom", {})
        }
        assert {("ConfigMap", n) for n in needed} <= prepared, job["metadata"]["name"]
        assert ("Job", job["metadata"]["name"]) in prepared


def container_environment(docs, container: dict) -> dict[str, str]:
    """What the container's process sees: ConfigMap values, and a stand-in for each Secret key."""
    env = {}
    for source in container.get("envFrom", []):
        env |= find(docs, "ConfigMap", source["configMapRef"]["name"])["data"]
    for item in container.get("env", []):
        ref = item.get("valueFrom", {})
        if "configMapKeyRef" in ref:
            env[item["name"]] = find(docs, "ConfigMap", ref["configMapKeyRef"]["name"])["data"][
                ref["configMapKeyRef"]["key"]
            ]
        elif "secretKeyRef" in ref:
            env[item["name"]] = (
                f"postgresql://app:secret@db/{item['name'].lower()}"
                if item["name"].endswith("_DATABASE_URL")
                else "a-secret-from-the-cluster"
            )
        else:
            env[item["name"]] = item["value"]
    return env


def service_of(command: list[str]) -> str:
    return command[2].split(".")[1] if command[0] == "uvicorn" else command[-1]


def test_production_settings_load_in_every_visitdesk_container(monkeypatch):
    """The services' own Settings (with their production checks) accept what the manifests give."""
    docs = rendered("overlays/production")
    for name, template in pod_templates(docs):
        container = template["spec"]["containers"][0]
        if "visitdesk" not in container["image"]:
            continue
        for key in list(os.environ):
            if key.startswith(("VISITDESK_", *(f"{s.upper()}_" for s in SERVICES))):
                monkeypatch.delenv(key)
        for key, value in container_environment(docs, container).items():
            monkeypatch.setenv(key, value)
        service = service_of(container["command"])
        if container["command"][:2] == ["visitdesk", "migrate"]:
            # A migration reads its database URL and nothing else (visitdesk.cli): it is given no other secret.
            assert database_url(service) == f"postgresql://app:secret@db/{service}_database_url", name
            secrets = [e["name"] for e in container.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})]
            assert secrets == [f"{service.upper()}_DATABASE_URL"], name
            continue
        settings = importlib.import_module(f"services.{service}.config").Settings()
        assert settings.environment == "production", name
