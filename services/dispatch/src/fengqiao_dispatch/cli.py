"""``fengqiao dept listen``: a department's subscription to its orders, for a department without its
own Kafka client. Reads the order topics in a consumer group of its own (``fengqiao-dept-<CODE>``),
keeps the records whose ``ce_department`` header names the department (the body is not parsed to
filter), and prints each as a JSON line or POSTs it to a URL. Offsets are committed after a record
was printed or accepted by the URL (at-least-once; ``id`` is the CloudEvents id to deduplicate).

    fengqiao dept listen --department RSS [--bootstrap host:port] [--forward URL] [--from-beginning]
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
from datetime import datetime

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

ORDER_TOPICS = [
    "order.dispatched", "order.signed", "department.checked-in", "order.progressed", "order.resolved",
    "order.returned", "order.verified", "order.reminded", "deadline.missed", "order.escalated", "order.cancelled",
]


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
                 idle_timeout: float | None = None, out=sys.stdout) -> int:
    topics = topics or ORDER_TOPICS
    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, group_id=group or f"fengqiao-dept-{department}",
        client_id=f"fengqiao-dept-{department}-{uuid.uuid4().hex[:6]}", enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest", metadata_max_age_ms=5000,
        session_timeout_ms=10000, heartbeat_interval_ms=1000,
    )
    client = httpx.AsyncClient(timeout=10) if forward else None
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
                    if client is not None:
                        await _post(client, forward, event)
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


async def _post(client: httpx.AsyncClient, url: str, event: dict) -> None:
    """POST with retries (a department's endpoint may be briefly away); gives up after ~30 s."""
    delay = 0.5
    for attempt in range(8):
        try:
            r = await client.post(url, json=event, headers={"ce-id": event.get("id", ""),
                                                             "ce-type": event.get("type", "")})
            if r.status_code < 500:
                if r.status_code >= 400:
                    print(f"forward rejected ({r.status_code}) event {event.get('id')}", file=sys.stderr)
                return
        except httpx.HTTPError as exc:
            print(f"forward failed (attempt {attempt + 1}): {exc!r}", file=sys.stderr)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 8)
    raise RuntimeError(f"could not forward event {event.get('id')} to {url}")


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
    lst.add_argument("--topics", help="comma-separated topics (default: every order topic)")
    lst.add_argument("--max-messages", type=int, help="stop after this many events")
    lst.add_argument("--idle-timeout", type=float, help="stop after this many seconds without an event")
    args = parser.parse_args(argv)

    async def run() -> int:
        task = asyncio.ensure_future(listen(
            args.department, args.bootstrap, forward=args.forward, from_beginning=args.from_beginning,
            topics=args.topics.split(",") if args.topics else None, group=args.group,
            max_messages=args.max_messages, idle_timeout=args.idle_timeout,
        ))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, task.cancel)
        try:
            return await task
        except asyncio.CancelledError:
            return 0

    n = asyncio.run(run())
    print(f"{datetime.now().isoformat(timespec='seconds')} {n} event(s) for {args.department}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
