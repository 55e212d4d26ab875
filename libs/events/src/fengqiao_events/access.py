"""Who may read and write which topic: one Kafka user per service and per department, as Strimzi
``KafkaUser`` resources with SCRAM-SHA-512 and simple-authorizer ACLs.

- a service (``fengqiao-<service>``) writes the topics it owns (the registry's ``owner``; dispatch also each
  department's ``dept.<code>.orders``), reads exactly the topics its consumer groups subscribe to (their
  handlers, from the services' consumer specs) and writes those topics' dead-letter topics, and uses its own
  consumer groups;
- a department (``dept-<code>``) reads its own ``dept.<code>.orders`` in its group ``fengqiao-dept-<CODE>``
  (the ``fengqiao dept listen`` default) and nothing else;
- operations (``fengqiao-ops``) read the dead-letter topics and write the event topics back
  (``topics_cli replay-dlq``), in the groups ``fengqiao-dlq-replay.*``.

The consumer specs are read from the service packages of the workspace when the manifests are generated
(``python -m fengqiao_events.topics_cli k8s --write``); a test compares the committed manifests with them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import SimpleNamespace

from .registry import DLQ_SUFFIX, all_specs, department_topic

SERVICES = ("intake", "dispatch", "mediation", "analytics", "gateway")
OPS_USER = "fengqiao-ops"
DLQ_REPLAY_GROUP_PREFIX = "fengqiao-dlq-replay."


def service_user(service: str) -> str:
    return f"fengqiao-{service}"


def department_user(code: str) -> str:
    return f"dept-{code.lower()}"


def department_group(code: str) -> str:
    return f"fengqiao-dept-{code}"


@dataclass(frozen=True)
class Group:
    name: str
    prefix: bool = False  # analytics: one group per read-model generation (<name>-g<N>)


@dataclass(frozen=True)
class Consumption:
    """What a service's consumers subscribe to."""

    groups: tuple[Group, ...]
    topics: frozenset[str]


def _settings(service: str):
    return importlib.import_module(f"fengqiao_{service}.config").Settings()


def service_consumption(service: str) -> Consumption:
    """The groups and topics of ``service``'s consumers, from its consumer specs (no runtime needed)."""
    if service == "gateway":
        return Consumption((), frozenset())
    mod = importlib.import_module(f"fengqiao_{service}.consumers")
    if service == "analytics":
        group = _settings(service).consumer_group
        return Consumption((Group(f"{group}-g", prefix=True),), frozenset(mod.handlers(None)))
    if service == "intake":
        specs = mod.specs(SimpleNamespace(deps=None))
    else:
        specs = mod.consumer_specs(lambda: None, _settings(service).consumer_group)
    return Consumption(tuple(Group(s.name) for s in specs), frozenset(t for s in specs for t in s.handlers))


@dataclass
class Acl:
    kind: str  # topic | group
    name: str
    operations: tuple[str, ...]
    prefix: bool = False

    def render(self) -> dict:
        return {"resource": {"type": self.kind, "name": self.name, "patternType": "prefix" if self.prefix else "literal"},
                "operations": list(self.operations), "host": "*"}


@dataclass
class User:
    name: str
    kind: str  # service | department | ops
    acls: list[Acl] = field(default_factory=list)
    subject: str | None = None  # the service or department code

    def can(self, operation: str, kind: str, name: str) -> bool:
        """What the simple authorizer would decide (Read/Write imply Describe)."""
        ops = {operation} | ({"Read", "Write"} if operation == "Describe" else set())
        return any(a.kind == kind and (name.startswith(a.name) if a.prefix else name == a.name)
                   and ops & set(a.operations) for a in self.acls)


def _read(topic: str) -> Acl:
    return Acl("topic", topic, ("Read", "Describe"))


def _write(topic: str) -> Acl:
    return Acl("topic", topic, ("Write", "Describe"))


def users(departments: list[str], consumption: dict[str, Consumption] | None = None) -> list[User]:
    """Every Kafka user with its ACLs (``consumption``: per service; default read from the services)."""
    consumption = consumption or {s: service_consumption(s) for s in SERVICES}
    out: list[User] = []
    for service in SERVICES:
        owned = sorted(s.topic for s in all_specs() if s.owner == service)
        if any(s.per_department and s.owner == service for s in all_specs()):
            owned += [department_topic(c) for c in departments]
        use = consumption[service]
        acls = [_write(t) for t in owned]
        for t in sorted(use.topics):
            acls += [_read(t), _write(t + DLQ_SUFFIX)]
        acls += [Acl("group", g.name, ("Read",), g.prefix) for g in use.groups]
        out.append(User(service_user(service), "service", acls, service))
    for code in departments:
        out.append(User(department_user(code), "department",
                        [_read(department_topic(code)), Acl("group", department_group(code), ("Read",))], code))
    ops = [_read(s.dlq_topic) for s in all_specs()] + [_write(s.topic) for s in all_specs()]
    ops.append(Acl("group", DLQ_REPLAY_GROUP_PREFIX, ("Read",), prefix=True))
    out.append(User(OPS_USER, "ops", ops))
    return out


def render_users(departments: list[str], cluster: str, consumption: dict[str, Consumption] | None = None) -> list[dict]:
    """Strimzi ``KafkaUser`` resources (SCRAM-SHA-512; Strimzi writes each password to a Secret of the same name)."""
    docs = []
    for u in users(departments, consumption):
        labels = {"strimzi.io/cluster": cluster, "app.kubernetes.io/part-of": "fengqiao", "fengqiao.cn/user-kind": u.kind}
        if u.subject:
            labels["fengqiao.cn/" + ("service" if u.kind == "service" else "department")] = u.subject
        docs.append({
            "apiVersion": "kafka.strimzi.io/v1beta2",
            "kind": "KafkaUser",
            "metadata": {"name": u.name, "labels": labels},
            "spec": {"authentication": {"type": "scram-sha-512"},
                     "authorization": {"type": "simple", "acls": [a.render() for a in u.acls]}},
        })
    return docs


def password_variable(user: str) -> str:
    """The environment variable holding a user's password in docker compose: FQ_KAFKA_PASSWORD_<USER>."""
    return "FQ_KAFKA_PASSWORD_" + user.removeprefix("fengqiao-").upper().replace("-", "_")


def render_compose_script(departments: list[str], consumption: dict[str, Consumption] | None = None) -> str:
    """The docker compose job creating the same users and ACLs with Kafka's own tools (kafka-configs.sh,
    kafka-acls.sh), as the admin bootstrapped at format time. A user whose password variable is unset is
    skipped (departments: set FQ_KAFKA_PASSWORD_DEPT_<CODE> for each department that connects)."""
    lines = [
        "#!/bin/bash",
        "# GENERATED by `python -m fengqiao_events.topics_cli k8s --write` (fengqiao_events/access.py): the Kafka",
        "# users and ACLs of docker compose, the same as deploy/k8s/base/kafka-users. Do not edit.",
        "set -euo pipefail",
        'B="${KAFKA_BOOTSTRAP:-kafka:9092}"',
        "CFG=/tmp/fengqiao-admin.properties",
        "cat > \"$CFG\" <<PROPS",
        "security.protocol=SASL_PLAINTEXT",
        "sasl.mechanism=SCRAM-SHA-512",
        'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" '
        'password="${FQ_KAFKA_ADMIN_PASSWORD:?}";',
        "PROPS",
        "K=/opt/kafka/bin",
        "user() {  # name, password variable: create or update the SCRAM credential; false when no password",
        '  local pw="${!2:-}"',
        '  if [ -z "$pw" ]; then echo "skipped Kafka user $1 ($2 is not set)"; return 1; fi',
        '  "$K/kafka-configs.sh" --bootstrap-server "$B" --command-config "$CFG" --alter --entity-type users \\',
        '    --entity-name "$1" --add-config "SCRAM-SHA-512=[iterations=8192,password=$pw]" >/dev/null',
        '  echo "Kafka user $1"',
        "}",
        'acl() { "$K/kafka-acls.sh" --bootstrap-server "$B" --command-config "$CFG" --add --allow-principal "User:$1" \\',
        '  "${@:2}" >/dev/null; }',
    ]
    for u in users(departments, consumption):
        lines.append(f"if user {u.name} {password_variable(u.name)}; then")
        if not u.acls:
            lines.append("  :  # authenticates, reads and writes no topic")
        by_ops: dict[tuple[str, tuple[str, ...], bool], list[str]] = {}
        for a in u.acls:
            by_ops.setdefault((a.kind, a.operations, a.prefix), []).append(a.name)
        for (kind, ops, prefix), names in by_ops.items():
            flag = "--topic" if kind == "topic" else "--group"
            args = " ".join(f"--operation {o}" for o in ops)
            args += " --resource-pattern-type " + ("prefixed" if prefix else "literal")
            targets = " ".join(f"{flag} {n}" for n in names)
            lines.append(f"  acl {u.name} {args} {targets}")
        lines.append("fi")
    lines.append('echo "Kafka users and ACLs are in place"')
    return "\n".join(lines) + "\n"
