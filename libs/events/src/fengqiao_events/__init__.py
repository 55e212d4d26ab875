"""Fengqiao events: CloudEvents on Kafka, registry, outbox, idempotent consumer."""

from .consumer import EventConsumer, PermanentError
from .envelope import Envelope, new_envelope
from .kafka import ProducerHolder, ensure_topics
from .outbox import Outbox, OutboxRelay
from .registry import all_specs, all_topics, spec_for_payload, spec_for_topic
from .schema import add_event_tables, create_event_tables, drop_event_tables

__all__ = [
    "Envelope",
    "EventConsumer",
    "Outbox",
    "OutboxRelay",
    "PermanentError",
    "ProducerHolder",
    "add_event_tables",
    "all_specs",
    "all_topics",
    "create_event_tables",
    "drop_event_tables",
    "ensure_topics",
    "new_envelope",
    "spec_for_payload",
    "spec_for_topic",
]
