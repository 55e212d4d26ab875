"""``fengqiao dept listen``: a department's subscription to its orders, for a department without its
own Kafka client. Reads the department's own topic ``dept.<code>.orders`` (every order event of its
orders, with the details the core topics leave out: the only topic its Kafka user may read) in a consumer
group of its own (``fengqiao-dept-<CODE>``), keeps the records whose ``ce_department`` header names the
department (the body is not parsed to filter), and prints each as a JSON line or POSTs it to a URL.

Credentials: ``--sasl-username`` / ``--sasl-password`` (or ``KAFKA_SASL_USERNAME`` / ``KAFKA_SASL_PASSWORD``)
with SASL/SCRAM-SHA-512 (``--security-protocol SASL_PLAINTEXT``, the default once a username is given, or
``SASL_SSL`` with ``--ssl-cafile``); none against the embedded development broker.

Forwarding (adapters/forwarding.py): POSTs signed as intake's webhooks are (HMAC-SHA256 with
``--secret`` / ``FQ_DEPT_FORWARD_SECRET``), 408/429/5xx and connection errors retried with
exponential backoff, and an event still undelivered after ``--max-attempts`` (or refused with another
4xx) appended to a local dead-letter file (``--dlq``, JSON lines). A record's offset is committed only
once it was printed, delivered or dead-lettered: at-least-once, ``id`` is the CloudEvents id to
deduplicate on.

    fengqiao dept listen --department RSS [--bootstrap host:port] [--forward URL] [--from-beginning]
                         [--sasl-username dept-rss --sasl-password ...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import uuid

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from fengqiao_common.clock import SYSTEM_CLOCK
from fengqiao_events.kafka import PLAINTEXT, KafkaSecurity
from fengqiao_events.registry import department_topic, specs_of_owner

from .adapters.forwarding import DeadLetterFile, Forwarder, RetryPolicy

SECRET_ENV = "FQ_DEPT_FORWARD_SECRET"


def order_topics() -> list[str]:
    """Every core topic of order events (of all departments), from the event registry: each of these
    events is also on the order's department topic."""
    return sorted(s.topic for s in specs_of_owner("dispatch") if s.order_field and s.per_department)


def security_of(protocol: str | None, mechanism: str | None, username: str | None, password: str | None,
                ca_file: str | None = None) -> KafkaSecurity:
    """The client's security from flags or environment: SASL_PLAINTEXT once a username is given."""
    if not protocol:
        protocol = "SASL_PLAINTEXT" if username else "PLAINTEXT"
    return KafkaSecurity(protocol=protocol, sasl_mechanism=mechanism or "SCRAM-SHA-512", username=username,
                         password=password, ca_file=ca_file)


def record_to_event(msg) -> dict | None:
    """The CloudEvent (structured JSON form) of a binary-mode record, or None if it is not one."""
    headers = {k: (v.decode("utf-8", "replace") if v is not None else None) for k, v in (msg.headers or ())}
    if "ce_id" not in headers:
        return None
    try:
        data = json.loads(msg.value) if msg.value is not None else None
    except ValueError:
        data = None
    out = {k[3:]: v for k, v in headers.items() if k.startswith("ce_")}
    out["datacontenttype"] = headers.get("content-type", "application/json")
    out["data"] = data
    out["kafka"] = {"topic": msg.topic, "partition": msg.partition, "offset": msg.offset,
                    "key": msg.key.decode() if msg.key else None}
    return out


async def listen(department: str, bootstrap: str, *, forward: str | None = None, from_beginning: bool = False,
                 topics: list[str] | None = None, group: str | None = None, max_messages: int | None = None,
                 idle_timeout: float | None = None, out=sys.stdout, secret: str | None = None,
                 retry: RetryPolicy = RetryPolicy(), dlq: str | None = None,
                 security: KafkaSecurity = PLAINTEXT) -> int:
    """Returns how many of the department's events were printed, delivered or dead-lettered."""
    topics = topics or [department_topic(department)]
    consumer = AIOKafkaConsumer(
        *topics, **security.client_kwargs(), bootstrap_servers=bootstrap,
        group_id=group or f"fengqiao-dept-{department}",
        client_id=f"fengqiao-dept-{department}-{uuid.uuid4().hex[:6]}", enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest", metadata_max_age_ms=5000,
        session_timeout_ms=10000, heartbeat_interval_ms=1000,
    )
    client = httpx.AsyncClient(timeout=10) if forward else None
    forwarder = Forwarder(forward, secret=secret, policy=retry, client=client) if client is not None else None
    dead = DeadLetterFile(dlq or f"fengqiao-dept-{department}.dlq.jsonl")
    seen = 0
    loop = asyncio.get_running_loop()
    last: float | None = None  # idle time counts from the first partition assignment
    await consumer.start()
    try:
        while max_messages is None or seen < max_messages:
            batches = await consumer.getmany(timeout_ms=500)
            if last is None and consumer.assignment():
                last = loop.time()
            if not batches and idle_timeout is not None and last is not None and loop.time() - last > idle_timeout:
                break
            for tp, msgs in batches.items():
                for msg in msgs:
                    dept = dict(msg.headers or ()).get("ce_department")
                    if dept is None or dept.decode() != department:
                        continue
                    event = record_to_event(msg)
                    if event is None:
                        continue
                    if forwarder is not None:
                        await _forward(forwarder, dead, event)
                    else:
                        out.write(json.dumps(event, ensure_ascii=False) + "\n")
                        out.flush()
                    seen += 1
                    last = loop.time()
                    if max_messages is not None and seen >= max_messages:
                        await consumer.commit({TopicPartition(tp.topic, tp.partition): msg.offset + 1})
                        return seen
                await consumer.commit({tp: msgs[-1].offset + 1})
    finally:
        await consumer.stop()
        if client is not None:
            await client.aclose()
    return seen


async def _forward(forwarder: Forwarder, dead: DeadLetterFile, event: dict) -> None:
    """Deliver, or dead-letter (raises when even that fails: the offset is then not committed)."""
    outcome = await forwarder.deliver(event)
    if outcome.delivered:
        return
    dead.write(event, outcome, forwarder.url)
    print(f"dead-lettered event {event.get('id')} to {dead.path} after {outcome.attempts} attempt(s): "
          f"{outcome.error}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fengqiao", description="Fengqiao command line")
    sub = parser.add_subparsers(dest="group", required=True)
    dept = sub.add_parser("dept", help="department tools").add_subparsers(dest="command", required=True)
    lst = dept.add_parser("listen", help="consume a department's orders; print JSON lines or forward them")
    lst.add_argument("--department", required=True, help="department code, e.g. RSS")
    lst.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    lst.add_argument("--forward", metavar="URL", help="POST each event (CloudEvents JSON) to this URL")
    lst.add_argument("--from-beginning", action="store_true", help="start at the oldest retained order "
                     "when the group has no committed position")
    lst.add_argument("--group", help="consumer group (default fengqiao-dept-<department>)")
    lst.add_argument("--topics", help="comma-separated topics (default: the department's dept.<code>.orders)")
    env = os.environ
    lst.add_argument("--security-protocol", default=env.get("KAFKA_SECURITY_PROTOCOL"),
                     choices=["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"],
                     help="default $KAFKA_SECURITY_PROTOCOL, else SASL_PLAINTEXT with a username, else PLAINTEXT")
    lst.add_argument("--sasl-mechanism", default=env.get("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"))
    lst.add_argument("--sasl-username", default=env.get("KAFKA_SASL_USERNAME"),
                     help="the department's Kafka user, e.g. dept-rss (default $KAFKA_SASL_USERNAME)")
    lst.add_argument("--sasl-password", default=env.get("KAFKA_SASL_PASSWORD"),
                     help="its password (default $KAFKA_SASL_PASSWORD; prefer the variable to a flag)")
    lst.add_argument("--ssl-cafile", default=env.get("KAFKA_SSL_CAFILE"), help="CA of the brokers (SASL_SSL/SSL)")
    lst.add_argument("--max-messages", type=int, help="stop after this many events")
    lst.add_argument("--idle-timeout", type=float, help="stop after this many seconds without an event")
    lst.add_argument("--secret", default=os.environ.get(SECRET_ENV),
                     help=f"HMAC-SHA256 key signing forwarded POSTs (default ${SECRET_ENV})")
    lst.add_argument("--max-attempts", type=int, default=8, help="delivery attempts before dead-lettering")
    lst.add_argument("--retry-base", type=float, default=0.5, help="first backoff delay in seconds (doubles)")
    lst.add_argument("--retry-max", type=float, default=8.0, help="longest backoff delay in seconds")
    lst.add_argument("--dlq", metavar="FILE", help="dead-letter file, JSON lines "
                     "(default ./fengqiao-dept-<department>.dlq.jsonl)")
    args = parser.parse_args(argv)
    try:
        security = security_of(args.security_protocol, args.sasl_mechanism, args.sasl_username,
                               args.sasl_password, args.ssl_cafile)
    except ValueError as exc:
        parser.error(str(exc))

    async def run() -> int:
        task = asyncio.ensure_future(listen(
            args.department, args.bootstrap, forward=args.forward, from_beginning=args.from_beginning,
            topics=args.topics.split(",") if args.topics else None, group=args.group,
            max_messages=args.max_messages, idle_timeout=args.idle_timeout, secret=args.secret,
            retry=RetryPolicy(max(1, args.max_attempts), args.retry_base, args.retry_max), dlq=args.dlq,
            security=security,
        ))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, task.cancel)
        try:
            return await task
        except asyncio.CancelledError:
            return 0

    if args.forward and not args.secret:
        print(f"warning: forwarding unsigned (no --secret / ${SECRET_ENV})", file=sys.stderr)
    n = asyncio.run(run())
    print(f"{SYSTEM_CLOCK.now().isoformat(timespec='seconds')} {n} event(s) for {args.department}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
