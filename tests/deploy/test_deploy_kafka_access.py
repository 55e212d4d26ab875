"""Issue #15 part 5 on the rendered manifests: Kafka authenticates every client (SCRAM-SHA-512) and authorises
it from its KafkaUser's ACLs. Department D's user reads D's topic and nothing else; each service's user reads
every topic its consumers subscribe to (their consumer specs) and writes every topic it owns (the registry).
The ACLs are evaluated here as Kafka's simple authorizer does, from the rendered YAML."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from deploy_k8s_render import OVERLAYS, SERVICES, by_name, of_kind, render
from fengqiao_events import all_specs
from fengqiao_events.registry import department_topic
from fengqiao_events.topics_cli import K8S_USERS_PATH, department_codes, plan, render_k8s_users

DEPARTMENTS = department_codes()
ALL_TOPICS = sorted(t.name for t in plan())


def allowed(user: dict, operation: str, kind: str, name: str) -> bool:
    """Kafka's simple authorizer on one KafkaUser's ACLs (allow rules only; Read/Write imply Describe)."""
    wanted = {operation} | ({"Read", "Write"} if operation == "Describe" else set())
    for acl in user["spec"]["authorization"]["acls"]:
        r = acl["resource"]
        if r["type"] != kind or acl.get("host", "*") != "*" or not wanted & set(acl["operations"]):
            continue
        if (r["patternType"] == "literal" and r["name"] == name) or \
                (r["patternType"] == "prefix" and name.startswith(r["name"])):
            return True
    return False


def consumed(service: str) -> tuple[set[str], list[str]]:
    """(topics, consumer group names) of a service, from its own consumer specs."""
    if service == "gateway":
        return set(), []
    mod = importlib.import_module(f"fengqiao_{service}.consumers")
    settings = importlib.import_module(f"fengqiao_{service}.config").Settings()
    if service == "analytics":
        from fengqiao_analytics.usecases.rebuild import group_name

        specs = [mod.spec(SimpleNamespace(settings=settings), 1), mod.spec(SimpleNamespace(settings=settings), 7)]
    elif service == "intake":
        specs = mod.specs(SimpleNamespace(deps=None))
    else:
        specs = mod.consumer_specs(lambda: None, settings.consumer_group)
    if service == "analytics":
        assert {s.name for s in specs} == {group_name(settings.consumer_group, 1), group_name(settings.consumer_group, 7)}
    return {t for s in specs for t in s.handlers}, [s.name for s in specs]


@pytest.fixture(scope="module", params=OVERLAYS)
def users(request) -> dict[str, dict]:
    return by_name(render(f"overlays/{request.param}"), "KafkaUser")


def test_committed_kafka_users_are_generated():
    assert K8S_USERS_PATH.read_text(encoding="utf-8") == render_k8s_users(), (
        "deploy/k8s/base/kafka-users/kafka-users.yaml is stale: run `make asyncapi` and commit it")


def test_one_scram_user_per_service_and_per_department(users):
    expected = {f"fengqiao-{s}" for s in SERVICES} | {f"dept-{c.lower()}" for c in DEPARTMENTS} | {"fengqiao-ops"}
    assert set(users) == expected
    for u in users.values():
        assert u["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert u["metadata"]["labels"]["strimzi.io/cluster"] == "fengqiao"
        assert u["spec"]["authentication"] == {"type": "scram-sha-512"}
        assert u["spec"]["authorization"]["type"] == "simple"


@pytest.mark.parametrize("code", DEPARTMENTS)
def test_a_department_reads_its_own_topic_and_nothing_else(users, code):
    u = users[f"dept-{code.lower()}"]
    mine = department_topic(code)
    readable = {t for t in ALL_TOPICS if allowed(u, "Read", "topic", t)}
    assert readable == {mine}, "a department reads only its own orders"
    assert not [t for t in ALL_TOPICS if allowed(u, "Write", "topic", t)]
    for other in DEPARTMENTS:
        assert allowed(u, "Read", "topic", department_topic(other)) == (other == code)
        assert allowed(u, "Read", "group", f"fengqiao-dept-{other}") == (other == code)
    assert not allowed(u, "Read", "topic", "order.dispatched")
    assert not allowed(u, "Read", "group", "dispatch")


@pytest.mark.parametrize("service", list(SERVICES))
def test_a_service_reads_what_it_consumes_and_writes_what_it_owns(users, service):
    u = users[f"fengqiao-{service}"]
    topics, groups = consumed(service)
    owned = {s.topic for s in all_specs() if s.owner == service}
    if service == "dispatch":
        owned |= {department_topic(c) for c in DEPARTMENTS}
    for t in topics:
        assert allowed(u, "Read", "topic", t), f"{service} consumes {t}"
        assert allowed(u, "Write", "topic", t + ".dlq"), f"{service} dead-letters {t}"
    for g in groups:
        assert allowed(u, "Read", "group", g), f"{service} consumes in group {g}"
    for t in owned:
        assert allowed(u, "Write", "topic", t), f"{service} owns {t}"
    # and no more: least privilege
    assert {t for t in ALL_TOPICS if allowed(u, "Read", "topic", t)} == topics
    assert {t for t in ALL_TOPICS if allowed(u, "Write", "topic", t)} == owned | {t + ".dlq" for t in topics}
    assert not any(allowed(u, "Read", "topic", department_topic(c)) for c in DEPARTMENTS)


def test_only_a_topics_owner_writes_it(users):
    for spec in all_specs():
        writers = {n for n, u in users.items() if allowed(u, "Write", "topic", spec.topic)}
        assert writers == {f"fengqiao-{spec.owner}", "fengqiao-ops"}, spec.topic  # ops: replay-dlq
    for code in DEPARTMENTS:
        t = department_topic(code)
        assert {n for n, u in users.items() if allowed(u, "Write", "topic", t)} == {"fengqiao-dispatch"}
        assert {n for n, u in users.items() if allowed(u, "Read", "topic", t)} == {f"dept-{code.lower()}"}


def test_the_kafka_cluster_authenticates_every_listener_and_authorises_by_acl():
    docs = render("kafka")
    (kafka,) = of_kind(docs, "Kafka")
    assert kafka["metadata"]["name"] == "fengqiao" and kafka["metadata"]["namespace"] == "kafka"
    spec = kafka["spec"]["kafka"]
    assert spec["listeners"] and all(li["authentication"] == {"type": "scram-sha-512"} for li in spec["listeners"])
    internal = next(li for li in spec["listeners"] if li["type"] == "internal")
    assert internal["port"] == 9092  # the bootstrap of fengqiao-common and the NetworkPolicies
    assert all(li["tls"] for li in spec["listeners"] if li["type"] != "internal"), "outside the cluster: TLS"
    assert spec["authorization"]["type"] == "simple"
    assert spec["config"]["allow.everyone.if.no.acl.found"] is False
    assert spec["config"]["auto.create.topics.enable"] is False
    operators = kafka["spec"]["entityOperator"]
    assert operators["userOperator"]["watchedNamespace"] == operators["topicOperator"]["watchedNamespace"] == "fengqiao"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_take_their_kafka_credentials_from_their_kafka_users_secret(overlay, monkeypatch):
    docs = render(f"overlays/{overlay}")
    users = by_name(docs, "KafkaUser")
    common = by_name(docs, "ConfigMap")["fengqiao-common"]["data"]
    assert common["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT" and common["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    for name in SERVICES:
        (c,) = by_name(docs, "Deployment")[name]["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in c["env"]}
        assert env["KAFKA_SASL_USERNAME"]["value"] == f"fengqiao-{name}" in users
        ref = env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": f"fengqiao-{name}", "key": "password"}  # the Secret Strimzi writes for the user
        for k in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM"):
            monkeypatch.setenv(k, common[k])
        monkeypatch.setenv("KAFKA_SASL_USERNAME", env["KAFKA_SASL_USERNAME"]["value"])
        monkeypatch.setenv("KAFKA_SASL_PASSWORD", "from-the-secret")
        settings = importlib.import_module(f"fengqiao_{name}.config").Settings()
        kw = settings.kafka_security().client_kwargs()
        assert kw == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
                      "sasl_plain_username": f"fengqiao-{name}", "sasl_plain_password": "from-the-secret"}
