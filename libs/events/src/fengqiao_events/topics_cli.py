"""Kafka topics of the whole system, from the registry: create them, or render Strimzi KafkaTopic resources.

    python -m fengqiao_events.topics_cli list
    python -m fengqiao_events.topics_cli create [--bootstrap HOST:PORT] [--partitions 12] [--replication 3]
                                                [--min-insync 2] [--wait 120]
    python -m fengqiao_events.topics_cli k8s [--write]      # deploy/k8s/base/kafka-topics/topics.yaml and
                                                            # deploy/k8s/base/kafka-users/kafka-users.yaml
    python -m fengqiao_events.topics_cli replay-dlq <topic> --consumer <group> --database-url <url of the
                                                group's service database> [--dry-run] [--limit N]

Every registered topic gets the deployment's partition count (or the count its spec pins) and keeps its
events forever (``retention.ms=-1``): analytics rebuilds its read models by replaying the topics, and a new
consumer group starts from the beginning. Each ``<topic>.dlq`` has one partition (dead letters are few and
read by people) and keeps 30 days. Each department of the jurisdiction (``FQ_JURISDICTION_FILE``, default
data/waihai.yaml) has its order topic ``dept.<code>.orders`` (every order event of its orders, with the
details the core topics leave out), kept 30 days: the department reads it within that time, and the
personal data it carries is not kept longer than its purpose needs. ``create`` is idempotent (existing topics are left alone) and waits for
the broker, so it runs as a one-off job (docker compose, Kubernetes) right after Kafka starts. Against a
secured cluster the admin client's credentials come from ``KAFKA_SECURITY_PROTOCOL``, ``KAFKA_SASL_*``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .kafka import KafkaSecurity
from .registry import all_specs, department_topic, department_topic_owner

K8S_PATH = Path(__file__).resolve().parents[4] / "deploy" / "k8s" / "base" / "kafka-topics" / "topics.yaml"
K8S_USERS_PATH = K8S_PATH.parents[1] / "kafka-users" / "kafka-users.yaml"
COMPOSE_USERS_PATH = K8S_PATH.parents[3] / "compose" / "kafka" / "users.sh"
STRIMZI_CLUSTER = "fengqiao"
DEFAULT_PARTITIONS = 12
EVENT_RETENTION_MS = -1  # forever: read models are rebuilt by replay
DLQ_RETENTION_MS = 30 * 24 * 3600 * 1000
DEPARTMENT_RETENTION_MS = 30 * 24 * 3600 * 1000
DEFAULT_JURISDICTION = Path(__file__).resolve().parents[4] / "data" / "waihai.yaml"


def department_codes(path: str | Path | None = None) -> list[str]:
    """The department codes of the jurisdiction file (``FQ_JURISDICTION_FILE``, default data/waihai.yaml)."""
    path = Path(path or os.environ.get("FQ_JURISDICTION_FILE") or DEFAULT_JURISDICTION)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [d["code"] for d in raw.get("departments") or ()]


@dataclass(frozen=True)
class TopicPlan:
    name: str
    partitions: int
    owner: str
    key: str
    dlq: bool = False
    config: dict[str, str] = field(default_factory=dict)
    department: str | None = None  # a department's order topic

    @property
    def kind(self) -> str:
        return "dlq" if self.dlq else "department" if self.department else "event"


def plan(partitions: int = DEFAULT_PARTITIONS, min_insync: int = 2,
         departments: list[str] | None = None) -> list[TopicPlan]:
    """Every topic and dead-letter topic, and each department's order topic, with partitions and
    topic-level configuration."""
    out: list[TopicPlan] = []
    for spec in all_specs():
        base = {"min.insync.replicas": str(min_insync), "cleanup.policy": "delete"}
        out.append(TopicPlan(spec.topic, spec.partitions or partitions, spec.owner, spec.key, False,
                             {**base, "retention.ms": str(EVENT_RETENTION_MS)}))
        out.append(TopicPlan(spec.dlq_topic, 1, spec.owner, spec.key, True,
                             {**base, "retention.ms": str(DLQ_RETENTION_MS)}))
    base = {"min.insync.replicas": str(min_insync), "cleanup.policy": "delete"}
    owner = department_topic_owner()
    for code in department_codes() if departments is None else departments:
        out.append(TopicPlan(department_topic(code), partitions, owner, "case_id", False,
                             {**base, "retention.ms": str(DEPARTMENT_RETENTION_MS)}, code))
    return out


def render_k8s(partitions: int = DEFAULT_PARTITIONS, replicas: int = 3, min_insync: int = 2) -> str:
    """Strimzi ``KafkaTopic`` resources (one YAML stream) for every topic; overlays patch the numbers."""
    docs = []
    for t in plan(partitions, min_insync):
        config: dict[str, object] = {k: (int(v) if k != "cleanup.policy" else v) for k, v in t.config.items()}
        docs.append({
            "apiVersion": "kafka.strimzi.io/v1beta2",
            "kind": "KafkaTopic",
            "metadata": {
                "name": t.name,
                "labels": {
                    "strimzi.io/cluster": STRIMZI_CLUSTER,
                    "app.kubernetes.io/part-of": "fengqiao",
                    "fengqiao.cn/owner": t.owner,
                    "fengqiao.cn/topic-kind": t.kind,
                    **({"fengqiao.cn/department": t.department} if t.department else {}),
                },
                "annotations": {"fengqiao.cn/message-key": t.key},
            },
            "spec": {"topicName": t.name, "partitions": t.partitions, "replicas": replicas, "config": config},
        })
    header = ("# GENERATED by `python -m fengqiao_events.topics_cli k8s --write` from the event registry.\n"
              "# Do not edit: add events in libs/events/src/fengqiao_events/payloads/ and regenerate.\n")
    return header + yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True)


def render_k8s_users() -> str:
    """Strimzi ``KafkaUser`` resources: one per service and per department, SCRAM-SHA-512 and ACLs (access.py)."""
    from .access import render_users

    header = ("# GENERATED by `python -m fengqiao_events.topics_cli k8s --write` from the event registry, the\n"
              "# services' consumer specs and the jurisdiction's departments (fengqiao_events/access.py). Do not edit.\n")
    return header + yaml.safe_dump_all(render_users(department_codes(), STRIMZI_CLUSTER), sort_keys=False,
                                       allow_unicode=True)


async def create_topics(bootstrap: str, *, partitions: int, replication: int, min_insync: int,
                        wait: float = 120.0) -> list[str]:
    """Create missing topics (with their configs); waits up to ``wait`` seconds for the broker."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

    deadline = time.monotonic() + wait
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="fengqiao-topics",
                                    **KafkaSecurity.from_env().client_kwargs())
        try:
            await admin.start()
            break
        except (KafkaConnectionError, KafkaError, OSError) as exc:
            await admin.close()
            if time.monotonic() > deadline:
                raise SystemExit(f"Kafka at {bootstrap} not reachable: {exc!r}") from exc
            print(f"waiting for Kafka at {bootstrap} ...", file=sys.stderr)
            await asyncio.sleep(2)
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in plan(partitions, min_insync) if t.name not in existing]
        for t in missing:
            try:
                await admin.create_topics(
                    [NewTopic(t.name, t.partitions, replication, topic_configs=dict(t.config))]
                )
            except TopicAlreadyExistsError:
                pass
        return [t.name for t in missing]
    finally:
        await admin.close()


DLQ_HEADER_PREFIX = "dlq_"


async def replay_dlq(
    bootstrap: str,
    topic: str,
    *,
    consumer: str,
    database_url: str | None,
    dry_run: bool = False,
    limit: int | None = None,
    read_seconds: float = 30.0,
) -> list[dict]:
    """Re-publish the dead letters of ``consumer`` from ``<topic>.dlq`` to ``<topic>``, once each.

    A message is dead-lettered by one consumer group; the others handled it. So the original record (same
    ``ce_id``, key, headers, value) goes back to the origin topic, where the other groups skip it as a
    duplicate, and the group's "processed" mark - written when the message was dead-lettered, so that the
    partition could move on - is deleted first from that group's database, so that the group handles it
    again. Dead letters of other groups are passed over. Progress is kept in the consumer group
    ``fengqiao-dlq-replay.<consumer>``, so a second run replays only what was dead-lettered since.
    """
    import asyncpg
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    dlq = topic if topic.endswith(".dlq") else topic + ".dlq"
    origin = dlq.removesuffix(".dlq")
    if not dry_run and not database_url:
        raise SystemExit("--database-url (the database of the consumer group's service) is required")
    reader = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=f"fengqiao-dlq-replay.{consumer}", enable_auto_commit=False,
        auto_offset_reset="earliest", client_id="fengqiao-dlq-replay", **KafkaSecurity.from_env().client_kwargs(),
    )
    await reader.start()
    producer = None
    conn = None
    done: list[dict] = []
    try:
        partitions = reader.partitions_for_topic(dlq) or set()
        if not partitions:
            await reader.client.force_metadata_update()
            partitions = reader.partitions_for_topic(dlq) or set()
        tps = [TopicPartition(dlq, p) for p in sorted(partitions)]
        if not tps:
            raise SystemExit(f"topic {dlq} not found")
        reader.assign(tps)
        end = await reader.end_offsets(tps)
        committed = {tp: await reader.committed(tp) for tp in tps}
        for tp in tps:
            if committed[tp] is None:
                await reader.seek_to_beginning(tp)
            else:
                reader.seek(tp, committed[tp])
        if not dry_run:
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False,
                                        **KafkaSecurity.from_env().client_kwargs())
            await producer.start()
            conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://", 1))
        deadline = time.monotonic() + read_seconds
        offsets: dict = {}
        async def behind() -> bool:
            for tp in tps:
                if await reader.position(tp) < end[tp]:
                    return True
            return False

        while await behind():
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out reading {dlq}")
            batches = await reader.getmany(*tps, timeout_ms=500)
            for tp, msgs in batches.items():
                for m in msgs:
                    if m.offset >= end[tp] or (limit is not None and len(done) >= limit):
                        continue
                    headers = [(k, v) for k, v in (m.headers or ())]
                    h = {k: v.decode("utf-8", "replace") for k, v in headers}
                    offsets[tp] = m.offset + 1
                    if h.get("dlq_consumer") != consumer:
                        continue
                    original = [(k, v) for k, v in headers if not k.startswith(DLQ_HEADER_PREFIX)]
                    target = h.get("dlq_origin_topic") or origin
                    item = {"offset": m.offset, "partition": m.partition, "event_id": h.get("ce_id"),
                            "topic": target, "error": h.get("dlq_error", "")[:200]}
                    if not dry_run:
                        if h.get("ce_id"):
                            await conn.execute("DELETE FROM processed_events WHERE consumer = $1 AND event_id = $2",
                                               consumer, h["ce_id"])
                        await producer.send_and_wait(target, value=m.value, key=m.key, headers=original)
                    done.append(item)
            if limit is not None and len(done) >= limit:
                break
        if not dry_run and offsets:
            await reader.commit(offsets)
        return done
    finally:
        if producer is not None:
            await producer.stop()
        if conn is not None:
            await conn.close()
        await reader.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fengqiao_events.topics_cli", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="print topic, partitions, owner, key")
    c = sub.add_parser("create", help="create missing topics on a broker")
    c.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    c.add_argument("--partitions", type=int, default=int(os.environ.get("FQ_TOPIC_PARTITIONS", DEFAULT_PARTITIONS)))
    c.add_argument("--replication", type=int, default=int(os.environ.get("FQ_TOPIC_REPLICATION", 3)))
    c.add_argument("--min-insync", type=int, default=int(os.environ.get("FQ_TOPIC_MIN_INSYNC", 2)))
    c.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the broker")
    k = sub.add_parser("k8s", help="render Strimzi KafkaTopic resources")
    k.add_argument("--write", action="store_true", help=f"write {K8S_PATH} instead of stdout")
    r = sub.add_parser("replay-dlq", help="re-publish one consumer group's dead letters to the origin topic")
    r.add_argument("topic", help="origin topic or its .dlq")
    r.add_argument("--consumer", required=True, help="consumer group whose dead letters to replay (dlq_consumer)")
    r.add_argument("--database-url", help="that group's service database (its processed marks are cleared)")
    r.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    r.add_argument("--dry-run", action="store_true", help="list what would be replayed; change nothing")
    r.add_argument("--limit", type=int, default=None)
    args = ap.parse_args(argv)

    if args.cmd == "list":
        for t in plan():
            print(f"{t.name}\t{t.partitions}\t{t.owner}\t{t.key}")
    elif args.cmd == "create":
        if args.min_insync > args.replication:
            ap.error("--min-insync must not exceed --replication")
        created = asyncio.run(create_topics(args.bootstrap, partitions=args.partitions,
                                            replication=args.replication, min_insync=args.min_insync,
                                            wait=args.wait))
        print(f"created {len(created)} topic(s), {len(plan()) - len(created)} already present")
    elif args.cmd == "replay-dlq":
        import json

        items = asyncio.run(replay_dlq(args.bootstrap, args.topic, consumer=args.consumer,
                                       database_url=args.database_url, dry_run=args.dry_run, limit=args.limit))
        for item in items:
            print(json.dumps(item, ensure_ascii=False))
        verb = "would replay" if args.dry_run else "replayed"
        print(f"{verb} {len(items)} message(s)", file=sys.stderr)
    else:
        from .access import render_compose_script

        compose = render_compose_script(department_codes())
        for path, text in ((K8S_PATH, render_k8s()), (K8S_USERS_PATH, render_k8s_users()), (COMPOSE_USERS_PATH, compose)):
            if args.write:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                print(f"wrote {path}")
            else:
                sys.stdout.write(text if path != K8S_USERS_PATH else "---\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
