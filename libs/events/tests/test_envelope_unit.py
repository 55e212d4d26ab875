"""Unit tests of pure logic: envelope encoding, registry, AsyncAPI document."""

from datetime import UTC, datetime

import pytest
import yaml
from fengqiao_events import Envelope, all_specs, new_envelope, spec_for_topic
from fengqiao_events.asyncapi import DOC_PATH, build, render
from fengqiao_events.envelope import DecodeError
from fengqiao_events.payloads.order import OrderDispatched


def _order() -> OrderDispatched:
    return OrderDispatched(
        order_id="o1", case_id="c1", case_no="WH-20261128-0001", department="RSS", department_name="外海人社所",
        level="street", role="lead", category="labour", grade="red", summary="欠薪", description="工厂门口讨薪",
        at=datetime(2026, 11, 28, 8, 0, tzinfo=UTC),
    )


def test_binary_mode_roundtrip():
    env = new_envelope(_order(), source="/fengqiao/dispatch")
    headers = dict(env.kafka_headers())
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"cn.fengqiao.order.dispatched"
    assert headers["ce_subject"] == b"c1"
    assert headers["ce_department"] == b"RSS"
    assert headers["content-type"] == b"application/json"
    assert headers["ce_correlationid"] == env.id.encode()
    back = Envelope.from_kafka(env.kafka_headers(), env.kafka_value())
    assert back == env
    assert back.payload() == _order()


def test_causation_and_correlation_are_inherited():
    first = new_envelope(_order(), source="/fengqiao/dispatch")
    second = new_envelope(_order(), source="/fengqiao/intake", causation=first)
    assert second.causationid == first.id
    assert second.correlationid == first.correlationid


@pytest.mark.parametrize(
    "headers,value",
    [
        ([], b"{}"),
        ([("ce_specversion", b"0.3"), ("ce_id", b"1"), ("ce_source", b"s"), ("ce_type", b"t")], b"{}"),
        ([("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_source", b"s"), ("ce_type", b"t")], b"not json"),
        ([("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_source", b"s"), ("ce_type", b"t")], b"[1]"),
        ([("ce_specversion", b"1.0"), ("ce_id", b"\xff"), ("ce_source", b"s"), ("ce_type", b"t")], b"{}"),
        ([("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_source", b"s"), ("ce_type", b"t")], None),
    ],
)
def test_malformed_records_are_refused(headers, value):
    with pytest.raises(DecodeError):
        Envelope.from_kafka(headers, value)


def test_registry_names_and_keys():
    specs = all_specs()
    topics = {s.topic for s in specs}
    for core in ("grid.event.reported", "order.dispatched", "department.checked-in", "mediation.confirmed"):
        assert core in topics
    for s in specs:
        entity, _, verb = s.topic.rpartition(".")
        assert entity and verb.split("-")[0].endswith("ed"), s.topic  # <entity>.<past-tense-verb>
        assert s.key in s.payload.model_fields
        assert spec_for_topic(s.topic) is s


def test_asyncapi_document_matches_models():
    committed = yaml.safe_load(DOC_PATH.read_text(encoding="utf-8"))
    assert committed == yaml.safe_load(render()), "docs/asyncapi.yaml is stale: run make asyncapi"
    doc = build()
    assert doc["asyncapi"].startswith("3.")
    for spec in all_specs():
        channel = next(c for c in doc["channels"].values() if c["address"] == spec.topic)
        (msg_ref,) = channel["messages"].values()
        msg = doc["components"]["messages"][msg_ref["$ref"].rsplit("/", 1)[1]]
        schema_name = msg["payload"]["$ref"].rsplit("/", 1)[1]
        schema = doc["components"]["schemas"][schema_name]
        assert set(schema["properties"]) == set(spec.payload.model_fields)
        assert set(schema.get("required", [])) == {
            n for n, f in spec.payload.model_fields.items() if f.is_required()
        }
        assert "ce_id" in msg["headers"]["properties"]
        for ext in spec.extensions:
            assert f"ce_{ext}" in msg["headers"]["properties"]
