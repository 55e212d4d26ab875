"""The foundation's targets, measured on the real libs/events parts (eventlab workers):

- the outbox relay drains a 100,000-event backlog at >= 5,000 events/s;
- commit-to-consumer latency p50 <= 20 ms and p99 <= 100 ms at 200 events/s.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import asyncpg
from fengqiao_devstack import eventlab
from fengqiao_events.outbox import outbox_row

from .infra import OUT, MemoryWatch, Servers, log
from .loadgen import percentile


async def _fill_backlog(dsn: str, n: int) -> None:
    env = eventlab.Outbox(eventlab.SOURCE).envelope(eventlab.make_event("template"))
    template = outbox_row(env)
    records = []
    for i in range(n):
        key = f"case-{i:07d}"
        ev = env.model_copy(update={"id": str(uuid.uuid4()), "subject": key})
        row = outbox_row(ev)
        records.append((row["event_id"], template["topic"], key, row["lane"], json.dumps(row["headers"]),
                        row["value"]))
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table("outbox", records=records,
                                         columns=["event_id", "topic", "key", "lane", "headers", "value"])
    finally:
        await conn.close()


async def relay_drain(srv: Servers, mem: MemoryWatch, n: int = 100_000) -> dict:
    url = srv.dsn(f"bench_drain_{uuid.uuid4().hex[:6]}")
    await eventlab.setup_writer_db(url)
    log(f"filling an outbox backlog of {n} events")
    await _fill_backlog(url, n)
    relay = eventlab.Worker("relay", url, srv.broker.bootstrap, batch_size=1000, logfile=str(OUT / "relay.log"))
    conn = await asyncpg.connect(url)
    try:
        t0 = time.time()
        relay.start()
        mem.add("foundation.relay", relay.pid)
        deadline = time.monotonic() + max(120, n / 500)
        while True:
            pending = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            mem.sample()
            if pending == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        last = await conn.fetchval("SELECT extract(epoch FROM max(published_at)) FROM outbox")
    finally:
        relay.stop()
        await conn.close()
    elapsed = float(last) - t0 if pending == 0 else time.time() - t0
    rate = (n - pending) / elapsed
    out = {"events": n, "left": pending, "seconds": round(elapsed, 2), "events_per_s": round(rate)}
    log("relay drain:", out)
    return out


async def commit_to_consumer(srv: Servers, mem: MemoryWatch, rate: float = 200, duration: float = 20,
                             fetch_max_wait_ms: int | None = None) -> dict:
    tag = uuid.uuid4().hex[:6]
    wurl, curl = srv.dsn(f"bench_lat_w_{tag}"), srv.dsn(f"bench_lat_c_{tag}")
    await eventlab.setup_writer_db(wurl)
    await eventlab.setup_consumer_db(curl)
    relay = eventlab.Worker("relay", wurl, srv.broker.bootstrap, logfile=str(OUT / "relay.log"))
    consumer = eventlab.Worker("consumer", curl, srv.broker.bootstrap, group=f"lat-{tag}",
                               logfile=str(OUT / "consumer.log"), fetch_max_wait_ms=fetch_max_wait_ms)
    writer = eventlab.Writer(wurl)
    try:
        # the topic must exist before the consumer subscribes
        await writer.write("warm-up")
        relay.start()
        consumer.start()
        mem.add("foundation.relay", relay.pid)
        mem.add("foundation.consumer", consumer.pid)
        await asyncio.sleep(1.0)
        writer.committed.clear()
        loop = asyncio.get_running_loop()
        start = loop.time()
        tasks = set()
        i = 0
        while loop.time() - start < duration:
            target = start + i / rate
            d = target - loop.time()
            if d > 0:
                await asyncio.sleep(d)
            t = asyncio.create_task(writer.write())
            tasks.add(t)
            t.add_done_callback(tasks.discard)
            i += 1
        await asyncio.gather(*tasks)
        committed = dict(writer.committed)

        async def done() -> bool:
            c = await asyncpg.connect(curl)
            try:
                seen = await c.fetchval("SELECT count(DISTINCT event_id) FROM effects WHERE event_id = ANY($1)",
                                        list(committed))
                return seen >= len(committed)
            finally:
                await c.close()

        deadline = time.monotonic() + 60
        while not await done() and time.monotonic() < deadline:  # noqa: ASYNC110 - polls the database
            await asyncio.sleep(0.2)
        mem.sample()
        lats = await eventlab.latencies(wurl, curl, committed)
        t = await eventlab.tally(wurl, curl)
    finally:
        consumer.stop()
        relay.stop()
        await writer.close()
    out = {
        "rate": rate, "seconds": duration, "events": len(committed), "received": len(lats),
        "p50_ms": _ms(percentile(lats, 50)), "p95_ms": _ms(percentile(lats, 95)),
        "p99_ms": _ms(percentile(lats, 99)), "max_ms": _ms(max(lats) if lats else None),
        "lost": t["lost"], "duplicated": t["duplicated"],
    }
    log("commit-to-consumer:", out)
    return out


def _ms(v):
    return None if v is None else round(v * 1000, 2)
