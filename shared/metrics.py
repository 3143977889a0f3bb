"""Prometheus metrics shared by every service, labelled by service name."""

from prometheus_client import Counter, Gauge, Histogram

HTTP_LATENCY = Histogram(
    "visitdesk_http_request_seconds",
    "HTTP request latency",
    ["service", "method", "route", "status"],
)
OUTBOX_PUBLISHED = Counter("visitdesk_outbox_published_total", "Outbox events published", ["service"])
OUTBOX_BACKLOG = Gauge("visitdesk_outbox_backlog", "Unsent outbox rows", ["service"])
OUTBOX_OLDEST_AGE = Gauge("visitdesk_outbox_oldest_age_seconds", "Age of the oldest unsent row", ["service"])
EVENTS_HANDLED = Counter("visitdesk_events_handled_total", "Events handled", ["service", "topic", "type"])
EVENTS_FAILED = Counter("visitdesk_events_failed_total", "Handler attempts that failed", ["service", "topic"])
EVENTS_DEAD_LETTERED = Counter("visitdesk_events_dead_lettered_total", "Events sent to a DLQ", ["service", "topic"])
CONSUMER_LAG = Gauge(
    "visitdesk_consumer_lag", "Messages behind the end of a partition", ["service", "topic", "partition"]
)
DELIVERIES = Counter("visitdesk_deliveries_total", "Deliveries that reached a final status", ["channel", "status"])
