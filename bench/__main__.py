"""``uv run python -m bench``: raw baselines, the foundation's targets and (``--stack``) the whole
system under load, in one run; writes bench/RESULTS.md, bench/results.svg and bench/out/*.json.

    uv run python -m bench                       # baselines + foundation (~2 min)
    uv run python -m bench --quick               # shorter runs, for a smoke
    uv run python -m bench --stack               # + the services (needs fengqiao_devstack.stack)
    uv run python -m bench --stack --sustained 300   # the 5-minute 500 reports/s run
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import uvloop

from fengqiao_events import ensure_topics

from . import baselines, foundation
from .infra import OUT, MemoryWatch, log, servers
from .report import Row, write


async def run(a: argparse.Namespace) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    raw: dict = {"command": "uv run python -m bench " + " ".join(sys.argv[1:])}
    rows: list[Row] = []
    notes: list[str] = []
    mem = MemoryWatch()
    mem.start()
    d = a.duration
    with servers(fast_pg=a.fast_pg) as srv:
        notes.append(f"PostgreSQL: embedded, {'fsync off (test settings)' if a.fast_pg else 'durable (fsync on)'}; "
                     "broker: Tansu 0.6.0, memory storage; load generator: bench/loadgen.py (asyncio + httptools, "
                     f"keep-alive, {baselines.CONCURRENCY} connections closed loop), on the same 2 CPUs as the servers.")
        await ensure_topics(srv.broker.bootstrap, partitions=3)
        raw["bare_http"] = await baselines.bare_http(d, mem)
        raw["bare_insert"] = await baselines.bare_insert(srv, d, mem)
        raw["kafka"] = await baselines.kafka_rates(srv.broker.bootstrap, n=20_000 if a.quick else 50_000)
        bare, ins, k = raw["bare_http"], raw["bare_insert"], raw["kafka"]
        rows += [
            Row("baseline: bare FastAPI GET", bare["rps"], "req/s", note=f"p50 {bare['p50_ms']} ms"),
            Row("baseline: FastAPI + asyncpg insert (row + outbox row)", ins["rps"], "req/s",
                note=f"p50 {ins['p50_ms']} ms, p99 {ins['p99_ms']} ms"),
            Row("baseline: aiokafka produce (acks=all, 400 B)", k["produce_msgs_per_s"], "msg/s"),
            Row("baseline: aiokafka consume", k["consume_msgs_per_s"], "msg/s"),
        ]
        n = a.backlog
        raw["relay_drain"] = await foundation.relay_drain(srv, mem, n)
        rows.append(Row(f"outbox relay drains a {n:,}-event backlog", raw["relay_drain"]["events_per_s"],
                        "events/s", ">= 5000", k["produce_msgs_per_s"], "aiokafka produce"))
        # a clean broker (memory storage) so the latency consumer does not first chew through the backlog
        srv.broker.stop()
        srv.broker.start()
        await ensure_topics(srv.broker.bootstrap, partitions=3)
        lat = await foundation.commit_to_consumer(srv, mem, rate=200, duration=10 if a.quick else 30)
        raw["commit_to_consumer"] = lat
        rows += [
            Row("commit → consumer latency p50 at 200 events/s", lat["p50_ms"], "ms", "<= 20"),
            Row("commit → consumer latency p99 at 200 events/s", lat["p99_ms"], "ms", "<= 100"),
            Row("commit → consumer: lost / duplicated events", lat["lost"] + lat["duplicated"], "events", "<= 0",
                note=f"{lat['events']} events"),
        ]
        # experiment: the same with the consumer's fetch_max_wait_ms at 10 ms instead of libs/events' 100 ms
        srv.broker.stop()
        srv.broker.start()
        await ensure_topics(srv.broker.bootstrap, partitions=3)
        exp = await foundation.commit_to_consumer(srv, mem, rate=200, duration=10 if a.quick else 30,
                                                  fetch_max_wait_ms=10)
        raw["commit_to_consumer_fetch_wait_10ms"] = exp
        rows += [
            Row("experiment: same, consumer fetch_max_wait_ms=10, p50", exp["p50_ms"], "ms", "<= 20"),
            Row("experiment: same, consumer fetch_max_wait_ms=10, p99", exp["p99_ms"], "ms", "<= 100"),
        ]
        notes.append("Commit → consumer latency is dominated by waiting, not CPU: libs/events' consumer_config sets "
                     "fetch_max_wait_ms=100 and Tansu answers an empty fetch only when that wait expires, so an "
                     "event arriving mid-wait waits up to 100 ms. The experiment rows run the same pipeline with 10 ms "
                     "(bench-only override in fengqiao_devstack.eventlab).")
        peaks = await mem.stop()
        raw["peak_memory_mb"] = peaks
        for name, mb in sorted(peaks.items()):
            rows.append(Row(f"peak memory: {name}", mb, "MB"))
    write(rows, raw, title="Fengqiao benchmarks", notes=notes + a.note)
    log("wrote bench/RESULTS.md, bench/results.svg, bench/out/results.json")


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=10.0, help="seconds per HTTP load measurement")
    p.add_argument("--backlog", type=int, default=100_000, help="outbox backlog size for the drain test")
    p.add_argument("--quick", action="store_true", help="smoke: short runs, smaller backlog")
    p.add_argument("--fast-pg", action="store_true", help="PostgreSQL with fsync off (as the tests run it)")
    p.add_argument("--note", action="append", default=[], help="extra note for RESULTS.md")
    a = p.parse_args()
    if a.quick:
        a.duration = min(a.duration, 3.0)
        a.backlog = min(a.backlog, 20_000)
    uvloop.install()
    asyncio.run(run(a))


if __name__ == "__main__":
    main()
