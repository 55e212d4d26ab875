"""Build the AsyncAPI 3.0 document of every topic from the registry.

``python -m fengqiao_events.asyncapi > docs/asyncapi.yaml`` regenerates the committed document;
a test fails when the committed file and the models disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from .envelope import SPECVERSION
from .registry import DEPT_TOPIC_PREFIX, DEPT_TOPIC_SUFFIX, all_specs

DOC_PATH = Path(__file__).resolve().parents[4] / "docs" / "asyncapi.yaml"


def _name(topic: str) -> str:
    return "".join(p.capitalize() for p in topic.replace("-", ".").split("."))


def ce_headers_schema(extensions: tuple[str, ...]) -> dict:
    props = {
        "ce_specversion": {"type": "string", "const": SPECVERSION},
        "ce_id": {"type": "string", "description": "event id (consumers deduplicate on it)"},
        "ce_source": {"type": "string", "description": "/fengqiao/<owner of the topic>; consumers dead-letter "
                      "any other source"},
        "ce_type": {"type": "string", "description": "cn.fengqiao.<topic>"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string", "description": "aggregate id; equals the message key"},
        "content-type": {"type": "string", "const": "application/json"},
        "ce_dataschema": {"type": "string"},
        "ce_schemaversion": {"type": "string", "description": "payload schema version"},
        "ce_correlationid": {"type": "string", "description": "id of the first event of the chain"},
        "ce_causationid": {"type": "string", "description": "id of the event that caused this one"},
    }
    for ext in extensions:
        props[f"ce_{ext}"] = {"type": "string", "description": f"copy of the payload field {ext}, for filtering"}
    return {
        "type": "object",
        "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject", "content-type"],
        "properties": props,
    }


def build() -> dict:
    channels: dict = {}
    operations: dict = {}
    messages: dict = {}
    schemas: dict = {}
    for spec in all_specs():
        name = _name(spec.topic)
        schema = spec.payload.model_json_schema(ref_template="#/components/schemas/{model}")
        for dname, d in schema.pop("$defs", {}).items():
            schemas[dname] = d
        schemas[spec.payload.__name__] = schema
        messages[name] = {
            "name": spec.topic,
            "title": spec.payload.__name__,
            "summary": spec.description,
            "contentType": "application/json",
            "headers": ce_headers_schema(spec.extensions),
            "payload": {"$ref": f"#/components/schemas/{spec.payload.__name__}"},
            "bindings": {
                "kafka": {"key": {"type": "string", "description": f"payload field {spec.key}"}, "bindingVersion": "0.5.0"}
            },
            "x-cloudevents-type": spec.type,
            "x-schema-version": spec.version,
        }
        private = (f" Without {', '.join(spec.private)}: they travel only on the department's topic."
                   if spec.private else "")
        channels[name] = {
            "address": spec.topic,
            "description": f"{spec.description} Dead letters go to {spec.dlq_topic}.{private}",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {"kafka": {"topic": spec.topic, "bindingVersion": "0.5.0"}},
            "x-owner": spec.owner,
            "x-key": spec.key,
        }
        operations[f"publish{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": f"{spec.owner} publishes through its outbox",
            "messages": [{"$ref": f"#/channels/{name}/messages/{name}"}],
        }
        operations[f"consume{name}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": "consumers commit offsets after processing and deduplicate on ce_id",
            "messages": [{"$ref": f"#/channels/{name}/messages/{name}"}],
        }
    dept = [s for s in all_specs() if s.per_department]
    refs = {_name(s.topic): {"$ref": f"#/components/messages/{_name(s.topic)}"} for s in dept}
    channels["DepartmentOrders"] = {
        "address": DEPT_TOPIC_PREFIX + "{code}" + DEPT_TOPIC_SUFFIX,
        "description": "Every order event of one department's orders, with every field (also those the core "
        "topics leave out). Only that department's Kafka principal may read it (and dispatch write it); kept "
        "30 days. Same CloudEvents headers as the core topic (ce_type names the event, ce_department the "
        "department), keyed by case id.",
        "parameters": {"code": {"description": "the department code in lower case, e.g. rss"}},
        "messages": refs,
        "x-owner": dept[0].owner if dept else "dispatch",
        "x-key": "case_id",
    }
    operations["publishDepartmentOrders"] = {
        "action": "send", "channel": {"$ref": "#/channels/DepartmentOrders"},
        "summary": "dispatch publishes each order event to the order's department topic too (same outbox row pair)",
        "messages": [{"$ref": f"#/channels/DepartmentOrders/messages/{n}"} for n in refs],
    }
    operations["consumeDepartmentOrders"] = {
        "action": "receive", "channel": {"$ref": "#/channels/DepartmentOrders"},
        "summary": "a department (fengqiao dept listen, or its own Kafka client) reads its topic only",
        "messages": [{"$ref": f"#/channels/DepartmentOrders/messages/{n}"} for n in refs],
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Fengqiao events",
            "version": "1.0.0",
            "description": "Every event is a CloudEvents 1.0 message in Kafka binary content mode: attributes "
            "in ce_* headers, JSON data as the record value, the aggregate id as the record key.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {"host": "127.0.0.1:9092", "protocol": "kafka",
                      "description": "make run's embedded broker (plaintext, no ACLs)"},
            "cluster": {"host": "fengqiao-kafka-bootstrap.kafka.svc:9092", "protocol": "kafka",
                        "description": "Kubernetes / docker compose: SASL/SCRAM-SHA-512, ACLs per service and per "
                        "department", "security": [{"$ref": "#/components/securitySchemes/scramSha512"}]},
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items())),
                       "securitySchemes": {"scramSha512": {"type": "scramSha512",
                                                           "description": "one Kafka user per service and "
                                                           "per department"}}},
    }


def render() -> str:
    return yaml.safe_dump(build(), allow_unicode=True, sort_keys=False, width=110)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--write":
        DOC_PATH.write_text(render(), encoding="utf-8")
    else:
        sys.stdout.write(render())
