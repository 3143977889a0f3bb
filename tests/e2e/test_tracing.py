"""One trace follows a request from the HTTP submission through Kafka to the e-mail it causes."""

from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.e2e.city import submit
from tests.support import eventually

exporter = InMemorySpanExporter()


async def test_the_submission_the_kafka_hops_and_the_email_share_one_trace(city):
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))
    submitted = await submit(city, focus="design")
    http = next(
        s
        for s in reversed(exporter.get_finished_spans())
        if s.kind == trace.SpanKind.SERVER and s.name.startswith("POST /api/v1/requests")
    )
    trace_id = http.context.trace_id

    async def email_sent_in_the_same_trace():
        names = {s.name for s in exporter.get_finished_spans() if s.context.trace_id == trace_id}
        return names if "email send" in names else None

    names = await eventually(email_sent_in_the_same_trace, timeout=30)
    assert f"{city.topic('visits.v1')} process" in names
    assert submitted["division"] == "city-executive-office"


async def test_no_span_holds_a_delegations_tracking_token(city):
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))
    submitted = await submit(city, focus="design")
    reference, token = submitted["reference"], submitted["tracking_url"].split("token=", 1)[1]
    for path in (f"/api/v1/requests/{reference}", f"/track/{reference}"):
        assert (await city.visits.get(path, params={"token": token})).status_code == 200
    spans = [
        s
        for s in exporter.get_finished_spans()
        if s.kind == trace.SpanKind.SERVER and str(s.attributes.get("http.url", "")).split("?")[0].endswith(reference)
    ]
    assert len(spans) >= 2 and all("token=REDACTED" in s.attributes["http.url"] for s in spans)
    assert not [s.name for s in exporter.get_finished_spans() if token in repr(dict(s.attributes or {}))]
