"""Prometheus series of the event machinery (one process = one service, so labels stay small)."""

from prometheus_client import Counter, Gauge, Histogram

OUTBOX_BACKLOG = Gauge("fq_outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge("fq_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row", ["service"])
OUTBOX_PUBLISHED = Counter("fq_outbox_published_total", "Events published by the outbox relay", ["service"])
OUTBOX_ERRORS = Counter("fq_outbox_publish_errors_total", "Failed outbox publish attempts", ["service"])
OUTBOX_LANES = Gauge("fq_outbox_lanes_owned", "Outbox lanes this relay owns", ["service"])
EVENTS_CONSUMED = Counter(
    "fq_events_consumed_total", "Events handled by a consumer", ["consumer", "topic", "outcome"]
)
CONSUMER_LAG = Gauge("fq_consumer_lag", "Messages behind the partition end", ["consumer", "topic", "partition"])
DLQ_MESSAGES = Counter("fq_dlq_messages_total", "Messages sent to a dead-letter topic", ["consumer", "topic"])
HANDLE_SECONDS = Histogram(
    "fq_event_handle_seconds", "Time to handle one partition batch", ["consumer"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
