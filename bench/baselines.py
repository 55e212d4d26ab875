"""Raw baselines on this machine: bare uvicorn/FastAPI, bare FastAPI + asyncpg insert (row + outbox
row in one transaction), bare aiokafka produce and consume."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fengqiao_common.db import ensure_database
from fengqiao_events.kafka import consumer_config, producer_config

from .infra import MemoryWatch, Servers, Uvicorn, log
from .loadgen import Request, closed_loop

CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))


async def bare_http(duration: float, mem: MemoryWatch) -> dict:
    async with Uvicorn("bench.apps:bare_app", name="bare") as srv:
        mem.add("baseline.bare-fastapi", srv.pid)
        res = await closed_loop(srv.url, lambda: Request("GET", "/hello", op="bare"), concurrency=CONCURRENCY,
                                duration=duration)
    s = res.summary()["bare"]
    log("baseline bare FastAPI:", s["rps"], "req/s", "p50", s["p50_ms"], "ms")
    return s


async def bare_insert(srv_: Servers, duration: float, mem: MemoryWatch) -> dict:
    db = f"bench_insert_{uuid.uuid4().hex[:6]}"
    await ensure_database(srv_.sa_url(db))
    n = [0]

    def make() -> Request:
        n[0] += 1
        body = json.dumps({"title": f"report {n[0]}", "body": "路灯不亮 / street light out " * 4}).encode()
        return Request("POST", "/items", body=body, op="insert")

    async with Uvicorn("bench.apps:insert_app", env={"BENCH_DSN": srv_.dsn(db)}, name="insert") as srv:
        mem.add("baseline.fastapi-asyncpg", srv.pid)
        res = await closed_loop(srv.url, make, concurrency=CONCURRENCY, duration=duration)
    s = res.summary()["insert"]
    log("baseline FastAPI + asyncpg insert:", s["rps"], "req/s", "p50", s["p50_ms"], "ms")
    return s


async def kafka_rates(bootstrap: str, n: int = 50_000, size: int = 400) -> dict:
    topic = f"bench.raw.{uuid.uuid4().hex[:6]}"
    value = b"x" * size
    p = AIOKafkaProducer(**producer_config(bootstrap, "bench-raw"))
    await p.start()
    try:
        await p.send_and_wait(topic, value=value, key=b"warm")  # auto-creates the topic
        t0 = time.perf_counter()
        futs = [await p.send(topic, value=value, key=str(i).encode()) for i in range(n)]
        await asyncio.gather(*futs)
        produce = n / (time.perf_counter() - t0)
    finally:
        await p.stop()
    c = AIOKafkaConsumer(topic, **consumer_config(bootstrap, f"bench-raw-{uuid.uuid4().hex[:6]}", "bench-raw", 2000))
    await c.start()
    try:
        got = 0
        t0 = None
        while got < n + 1:
            batches = await c.getmany(timeout_ms=500, max_records=2000)
            if t0 is None and batches:
                t0 = time.perf_counter()
            got += sum(len(m) for m in batches.values())
        consume = n / (time.perf_counter() - t0)
    finally:
        await c.stop()
    out = {"produce_msgs_per_s": round(produce), "consume_msgs_per_s": round(consume), "messages": n, "size": size}
    log("baseline aiokafka:", out)
    return out
