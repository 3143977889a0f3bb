"""Schemathesis against each service's own OpenAPI, in process, as an admin, on a fresh database and real Kafka.

Schemathesis drives the ASGI app from its own event-loop thread and runs the app's lifespan there too (so the
database pool and Kafka clients live on the loop that serves the requests); `serve()` would start them on the
test's loop instead. The test's loop only creates the database and publishes seed events.
"""

import asyncio
import datetime as dt
import traceback
import warnings

import pytest
import schemathesis
from aiokafka import AIOKafkaProducer
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import HypothesisDeprecationWarning, Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from shared.events import Envelope
from tests.builders import one_day, request_body, visit_state
from tests.security.apps import service_parts
from tests.support import bearer, eventually, unique
from visitdesk import SERVICES

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
# Bounded and reproducible: the same cases every run, no example database written into the tree.
VALID = hypothesis_settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)
INVALID = hypothesis_settings(VALID, max_examples=8)
STATEFUL = hypothesis_settings(VALID, max_examples=10, stateful_step_count=5)
# Stateful chains use valid inputs only (invalid ones per operation above): a negated call would drop the token.
CONFIG = schemathesis.Config.from_dict({"phases": {"stateful": {"generation": {"mode": "positive"}}}})
# /readyz answers 503 by design until Kafka is connected; it is not an API of the service.
EXCLUDED_PATHS = ["/readyz"]
# A call that has not answered in this many seconds is a hang, reported as a failure.
TIMEOUT = 10
# Event streams never end: each call keeps what arrived within STREAM_TIMEOUT, and a few calls suffice.
STREAMS, STREAM_TIMEOUT = {"/api/v1/queue/stream"}, 1
# Per-service settings for a fuzz run: Schemathesis is one client address, the submission limit would stop it.
SETTINGS = {"visits": {"submit_rate_limit": 1_000_000}}
# OpenAPI links the apps do not declare (yet): (method, path, status) -> {(method, path): {parameter: expression}}.
REFERENCE = {"path.reference": "$response.body#/reference"}
FIRST_ITEM = {"path.reference": "$response.body#/items/0/reference"}
FIRST_PLAN = {"path.reference": "$response.body#/0/reference"}
VISIT_OPERATIONS = [
    ("GET", "/api/v1/requests/{reference}"),
    ("GET", "/api/v1/requests/{reference}/history"),
    ("POST", "/api/v1/requests/{reference}/decision"),
    ("POST", "/api/v1/requests/{reference}/cancel"),
    ("POST", "/api/v1/requests/{reference}/respond"),
    ("DELETE", "/api/v1/requests/{reference}/personal-data"),
]
LINKS = {
    "visits": {
        ("POST", "/api/v1/requests", "201"): dict.fromkeys(VISIT_OPERATIONS, REFERENCE),
        ("GET", "/api/v1/requests", "200"): dict.fromkeys(VISIT_OPERATIONS, FIRST_ITEM),
    },
    "protocol": {
        ("GET", "/api/v1/plans", "200"): {
            ("GET", "/api/v1/plans/{reference}"): FIRST_PLAN,
            ("POST", "/api/v1/plans/{reference}/gifts"): FIRST_PLAN,
        },
        ("GET", "/api/v1/plans/{reference}", "200"): {
            ("PATCH", "/api/v1/plans/{reference}/items/{key}"): REFERENCE | {"path.key": "$response.body#/items/0/key"},
        },
    },
}


def with_links(spec: dict, links: dict) -> dict:
    """The spec with `links` added to the producing responses, by the target's operationId."""
    for (method, path, status), targets in links.items():
        response = spec["paths"][path][method.lower()]["responses"][status]
        for (target_method, target_path), parameters in targets.items():
            operation_id = spec["paths"][target_path][target_method.lower()]["operationId"]
            response.setdefault("links", {})[operation_id] = {"operationId": operation_id, "parameters": parameters}
    return spec


def load(app, service: str):
    """The schema the app serves, plus LINKS; the first request starts the app's lifespan on Schemathesis' loop."""
    with asgi.get_client(app) as http:
        spec = http.get("/openapi.json").json()
    schema = schemathesis.openapi.from_dict(with_links(spec, LINKS.get(service, {})), config=CONFIG)
    schema = schema.exclude(path=EXCLUDED_PATHS)
    schema.app = app
    return schema


def failure(label: str, exc: BaseException) -> str:
    """Schemathesis' own report of failed checks (with a curl to reproduce), or the app's exception and where."""
    if isinstance(exc, FailureGroup):
        return f"{label}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [frame for frame in frames if "/services/" in frame.filename]
    return (
        f"{label}: {''.join(traceback.format_exception_only(exc)).strip()}\n"
        f"{''.join(traceback.format_list(ours + frames[-2:]))}"
    )


def fuzz_operations(schema, headers: dict) -> list[str]:
    """Each operation alone: valid inputs against every check, invalid ones against server errors only."""
    failures = []
    for operation in (result.ok() for result in schema.get_all_operations()):
        stream = operation.path in STREAMS
        for mode, budget, checks in (
            (schemathesis.GenerationMode.POSITIVE, VALID, CHECKS),
            (schemathesis.GenerationMode.NEGATIVE, INVALID, [not_a_server_error]),
        ):

            @hypothesis_settings(budget, max_examples=3) if stream else budget
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):  # runs within this iteration: its loop values are the current ones
                timeout = STREAM_TIMEOUT if stream else TIMEOUT  # noqa: B023
                case.call_and_validate(headers=headers, checks=checks, timeout=timeout)  # noqa: B023

            try:
                run()
            except Unsatisfiable:
                pass  # nothing to make invalid (no parameters, no body)
            except (Exception, FailureGroup) as exc:
                failures.append(failure(f"{operation.label} ({mode.value} inputs)", exc))
    return failures


def fuzz_statefully(schema, headers: dict) -> list[str]:
    """Chains of calls along the links: LINKS and those Schemathesis infers from the schemas."""

    class Machine(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"headers": headers, "timeout": STREAM_TIMEOUT if case.operation.path in STREAMS else TIMEOUT}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    try:
        Machine.run(settings=STATEFUL)
    except schemathesis.errors.NoLinksFound:
        return []
    except (Exception, FailureGroup) as exc:
        return [failure("stateful", exc)]
    return []


def fuzz(schema, headers: dict) -> list[str]:
    """Every failure of the stateless and the stateful runs, as text."""
    with warnings.catch_warnings():
        # Schemathesis' own strategies use `random`; Hypothesis warns about that on every case.
        warnings.simplefilter("ignore", HypothesisDeprecationWarning)
        return fuzz_operations(schema, headers) + fuzz_statefully(schema, headers)


async def seed_visits(app, settings, headers: dict) -> None:
    """Two requests as a delegation submits them, so the state machine has real references to act on."""
    body = request_body(
        organisation="Fuzzing Ministry",
        contact={"name": "F", "email": "f@example.org"},
        focus_areas=["education", "culture"],
        delegation_size=5,
        highest_rank="minister",
        preferred_dates=[{"start": "2031-06-02", "end": "2031-06-06"}],
        purpose="Schools",
        members=[],
        needs={"interpreter_language": "et", "press": True},
    )

    def submit() -> None:
        with asgi.get_client(app) as http:
            for _ in range(2):
                response = http.post("/api/v1/requests", json=body, timeout=TIMEOUT)
                assert response.status_code == 201, response.text

    await asyncio.to_thread(submit)


def staff_get(app, path: str, headers: dict) -> list | dict:
    """A GET on Schemathesis' client, so it reaches the app on the loop its lifespan runs on."""
    with asgi.get_client(app) as http:
        return http.get(path, headers=headers, timeout=TIMEOUT).json()


async def seed_protocol(app, settings, headers: dict) -> None:
    """A head-of-state visit accepted, as visits publishes it, so a plan and its checklist exist to fuzz."""
    from services.visits.events import VisitAccepted

    day = dt.date(2031, 6, 2)
    state = visit_state(
        "visit.accepted.v1",
        reference=unique("HEL-"),
        organisation="Fuzzing Ministry",
        country="EE",
        language="en",
        contact_name="F",
        contact_email="f@example.org",
        highest_rank="head_of_state",
        delegation_size=5,
        preferred_dates=one_day(day),
        visit_date=day,
        host="Mayor",
        needs={"interpreter_language": "et", "press": True},
    )
    request_id, visit = state["request_id"], VisitAccepted.model_validate(state)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        envelope = Envelope.wrap(visit, source="visits", subject=request_id)
        await producer.send_and_wait(
            settings.topic("visits.v1"), envelope.model_dump_json().encode(), key=request_id.encode()
        )
    finally:
        await producer.stop()
    await eventually(lambda: asyncio.to_thread(staff_get, app, "/api/v1/plans", headers), timeout=30)


SEEDS = {"visits": seed_visits, "protocol": seed_protocol}


@pytest.mark.timeout(180)
@pytest.mark.parametrize("service", SERVICES)
async def test_fuzzing_the_openapi_finds_no_server_error_and_no_schema_violation(
    service, new_database, kafka_bootstrap
):
    create_app, settings_class = service_parts(service)
    settings = settings_class(
        database_url=await new_database(service),
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=unique() + ".",
        **SETTINGS.get(service, {}),
    )
    app, headers = create_app(settings), bearer(settings, "admin")
    try:
        schema = await asyncio.to_thread(load, app, service)
        if service in SEEDS:
            await SEEDS[service](app, settings, headers)
        failures = await asyncio.to_thread(fuzz, schema, headers)
    finally:
        await asyncio.to_thread(asgi.shutdown_lifespans)
    assert not failures, "\n\n".join(failures)
