"""OpenTelemetry traces that follow one request from HTTP through the outbox and Kafka to its handlers."""

import os
import re
from contextlib import contextmanager

from fastapi import FastAPI
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from shared.events import new_traceparent

tracer = trace.get_tracer("visitdesk")


def configure_tracing(service: str) -> None:
    """Install a tracer provider once per process; export over OTLP when an endpoint is configured."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    provider = TracerProvider(resource=Resource.create({"service.name": f"visitdesk-{service}"}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


def instrument_app(app: FastAPI) -> None:
    # One server span per request; the per-message receive/send spans say nothing and cost CPU on every call.
    FastAPIInstrumentor.instrument_app(
        app,
        excluded_urls="healthz,readyz,metrics",
        exclude_spans=["receive", "send"],
        server_request_hook=redact_tokens,
    )


TOKEN_IN_QUERY = re.compile(r"(^|[?&])(token)=[^&#]*", re.IGNORECASE)


def redact_tokens(span, scope) -> None:
    """A tracking token is the only key to a delegation's request: spans, which go to a collector, keep the rest
    of the URL. The instrumentation records the query string whole (it redacts only cloud signatures)."""
    if span is None or not span.is_recording():
        return
    for name in ("http.url", "url.full", "url.query"):
        value = (getattr(span, "attributes", None) or {}).get(name)
        if isinstance(value, str) and TOKEN_IN_QUERY.search(value):
            span.set_attribute(name, TOKEN_IN_QUERY.sub(r"\1\2=REDACTED", value))


def traceparent_now() -> str:
    """The W3C traceparent of the current span, or a new trace when there is none."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent") or new_traceparent()


@contextmanager
def handling_span(topic: str, event_type: str, event_id: str, traceparent: str | None):
    """A consumer span whose parent is the span that wrote the event to the outbox."""
    parent = propagate.extract({"traceparent": traceparent} if traceparent else {})
    with tracer.start_as_current_span(
        f"{topic} process",
        context=parent,
        kind=trace.SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": topic,
            "cloudevents.event_type": event_type,
            "cloudevents.event_id": event_id,
        },
    ) as span:
        yield span


@contextmanager
def sending_span(channel: str, event_type: str, traceparent: str | None):
    """A client span for an e-mail or webhook, in the trace of the event that caused it."""
    parent = propagate.extract({"traceparent": traceparent} if traceparent else {})
    with tracer.start_as_current_span(
        f"{channel} send", context=parent, kind=trace.SpanKind.CLIENT, attributes={"cloudevents.event_type": event_type}
    ) as span:
        yield span
