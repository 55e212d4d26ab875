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
import os
import signal
import sys

import uvloop
from fengqiao_events import ensure_topics

from . import baselines, foundation
from .infra import OUT, MemoryWatch, log, servers
from .report import Row, write


async def run(a: argparse.Namespace) -> None:
    # SIGTERM (e.g. `timeout`) cancels the run, so every server it started is stopped on the way out
    task = asyncio.current_task()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    OUT.mkdir(parents=True, exist_ok=True)
    raw: dict = {"command": "uv run python -m bench " + " ".join(sys.argv[1:]),
                 "load_average_start": os.getloadavg()}
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
                     "fetch_max_wait_ms=25 and Tansu answers an empty fetch only when that wait expires, so an "
                     "event arriving mid-wait waits up to 25 ms. The experiment rows run the same pipeline with 10 ms "
                     "(bench-only override in fengqiao_devstack.eventlab). The shorter the wait, the more CPU every "
                     "idle consumer and the broker spend polling (see the idle-stack row).")
    if a.stack:
        await run_stack(a, raw, rows, notes, mem)
    peaks = await mem.stop()
    raw["peak_memory_mb"] = peaks
    for name, mb in sorted(peaks.items()):
        target = "<= 200" if name.startswith("service.") else ""
        rows.append(Row(f"peak memory: {name}", mb, "MB", target))
    raw["load_average_end"] = os.getloadavg()
    notes.append(f"Load average (1/5/15 min) at start {raw['load_average_start']}, at end {raw['load_average_end']} "
                 "- other engineers' test suites share these 2 CPUs; figures under load are lower than on a quiet "
                 "machine.")
    write(rows, raw, title="Fengqiao benchmarks", notes=notes + a.note)
    log("wrote bench/RESULTS.md, bench/results.svg, bench/out/results.json")


async def run_stack(a: argparse.Namespace, raw: dict, rows: list[Row], notes: list[str], mem: MemoryWatch) -> None:
    from . import system
    from .profile import profile_during

    d = a.duration
    async with system.started_stack() as sysm:
        system.stack_memory(sysm, mem)
        # the baseline again, on the stack's own PostgreSQL server, for the ratios below
        from .infra import Servers

        srv = Servers(sysm.stack.pg, sysm.stack.broker, sysm.stack.run_dir)
        base = await baselines.bare_insert(srv, d, mem)
        raw["bare_insert_stack_pg"] = base
        rows.append(Row("baseline: FastAPI + asyncpg insert, on the stack's PostgreSQL", base["rps"], "req/s",
                        note=f"p50 {base['p50_ms']} ms"))
        wp = await system.write_paths(sysm, d, baselines.CONCURRENCY)
        raw["write_paths"] = wp
        direct, via = wp["grid report (intake direct)"], wp["grid report (gateway)"]
        rows += [
            Row("intake write path, direct (POST grid-events)", direct["rps"], "req/s", ">= 0.5x", base["rps"],
                "bare insert", note=f"p50 {direct['p50_ms']} ms, p99 {direct['p99_ms']} ms, errors {direct['errors']}"),
            Row("intake write path, through the gateway", via["rps"], "req/s", ">= 0.35x", base["rps"], "bare insert",
                note=f"p50 {via['p50_ms']} ms, p99 {via['p99_ms']} ms, errors {via['errors']}"),
        ]
        if a.profile and (direct["rps"] < 0.5 * base["rps"]):
            from .profile import pg_waits

            load = system.closed_loop(sysm.url("intake"), system.grid_report_direct(sysm),
                                      concurrency=baselines.CONCURRENCY, duration=6)
            waits, _ = await asyncio.gather(pg_waits(sysm.stack.pg.url("postgres", driver="postgresql"), "fq_intake",
                                                     5.0), load)
            raw["intake_db_waits"] = waits
            notes.append("What intake's database backends wait on under the direct write load (pg_stat_activity, "
                         "sampled every 100 ms): " + "; ".join(waits[:3]) + ".")
            raw["profile_intake"] = await profile_during(
                "intake", sysm.stack.procs["intake"].pid,
                system.closed_loop(sysm.url("intake"), system.grid_report_direct(sysm),
                                   concurrency=baselines.CONCURRENCY, duration=min(d, 10)))
            notes.append(f"Profile of intake under the direct write load: {raw['profile_intake']['svg']} "
                         f"(top frames: {', '.join(raw['profile_intake']['top'][:5])}).")
        raw.setdefault("drain_before_s", {})["mix"] = await system.drain(sysm)
        mix = await system.realistic_mix(sysm, a.mix_duration, a.mix_scale)
        raw["mix"] = mix
        for op, st in mix.items():
            rows.append(Row(f"mix: {op}, p99", st["p99_ms"], "ms",
                            note=f"{st['rps']}/s, p50 {st['p50_ms']} ms, p95 {st['p95_ms']} ms, "
                                 f"errors {st['errors']}, statuses {st['statuses']}"))
        raw.setdefault("drain_before_s", {})["e2e"] = await system.drain(sysm)
        e2e = await system.end_to_end(sysm, 100, a.e2e_duration)
        raw["end_to_end"] = e2e
        rows += [
            Row("report accepted → department consumer, p50 at 100 reports/s", e2e["p50_ms"], "ms", "<= 50",
                note=f"{e2e['with_order']}/{e2e['accepted']} reports with an order"),
            Row("report accepted → department consumer, p99 at 100 reports/s", e2e["p99_ms"], "ms", "<= 250"),
            Row("marginal CPU per report through the whole pipeline (gateway → intake → dispatch → department; "
                "analytics, mediation, PostgreSQL, broker), idle cost subtracted", e2e["stack_cpu_ms_per_report"], "ms",
                note=", ".join(f"{k} {v}" for k, v in sorted(e2e["cpu_ms_per_report"].items(), key=lambda kv: -kv[1]))),
            Row("CPU the idle stack burns (consumers polling the broker, relays, timers)", e2e["idle_cores_total"],
                "cores", note=", ".join(f"{k} {v}" for k, v in sorted(e2e["idle_cores"].items(), key=lambda kv: -kv[1]))
                + f"; the whole machine was busy {e2e['machine_busy_cores_while_idle']} cores meanwhile "
                  "(other sessions included)"),
            Row("pipeline capacity implied on 2 cores ((2 cores - idle) / marginal CPU per report)",
                e2e["capacity_reports_per_s_on_2_cores"], "reports/s", ">= 500"),
        ]
        raw.setdefault("drain_before_s", {})["sustained"] = await system.drain(sysm)
        sus = await system.sustained(sysm, a.rate, a.sustained, via=a.sustained_via)
        raw["sustained"] = sus
        keeps_up = (sus["accepted_per_s"] >= 0.99 * a.rate and sus["drained_after_s"] is not None
                    and (sus["pending_late_avg"] or 0) <= max(a.rate * 2, (sus["pending_early_avg"] or 0) * 1.5))
        rows += [
            Row(f"sustained: reports accepted/s for {a.sustained:.0f} s ({a.sustained_via})", sus["accepted_per_s"],
                "reports/s", f">= {a.rate:.0f}",
                note=f"HTTP p50 {sus['http'].get('p50_ms')} ms, p99 {sus['http'].get('p99_ms')} ms, "
                     f"errors {sus['http'].get('errors')}"),
            Row("sustained: backlog not growing (1 = yes)", 1.0 if keeps_up else 0.0, "", ">= 1",
                note=f"reports without their order, avg first third {sus['pending_early_avg']}, last third "
                     f"{sus['pending_late_avg']}; drained {sus['drained_after_s']} s after the load"),
        ]
        if a.profile and not keeps_up:
            raw["profile_sustained"] = await profile_during(
                "dispatch", sysm.stack.procs["dispatch"].pid,
                system.open_loop(sysm.gateway, system.grid_report_gateway(sysm), rate=a.rate, duration=10))
            notes.append(f"Profile of dispatch under the sustained load: {raw['profile_sustained']['svg']} "
                         f"(top frames: {', '.join(raw['profile_sustained']['top'][:5])}).")
        notes.append("Stack: fengqiao_devstack.stack on free ports, durable PostgreSQL (as make run), demo data, "
                     "gateway rate limits lifted for the load (GATEWAY_RATE_LIMIT_*); the court simulator is not "
                     "started (not on a measured path).")


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=10.0, help="seconds per HTTP load measurement")
    p.add_argument("--backlog", type=int, default=100_000, help="outbox backlog size for the drain test")
    p.add_argument("--quick", action="store_true", help="smoke: short runs, smaller backlog")
    p.add_argument("--fast-pg", action="store_true", help="PostgreSQL with fsync off (as the tests run it)")
    p.add_argument("--note", action="append", default=[], help="extra note for RESULTS.md")
    p.add_argument("--stack", action="store_true", help="also start the whole system and measure it")
    p.add_argument("--mix-duration", type=float, default=30.0, help="seconds of the realistic mix")
    p.add_argument("--mix-scale", type=float, default=1.0, help="multiply the mix's rates")
    p.add_argument("--e2e-duration", type=float, default=30.0, help="seconds at 100 reports/s for end-to-end latency")
    p.add_argument("--rate", type=float, default=500.0, help="reports/s of the sustained run")
    p.add_argument("--sustained", type=float, default=300.0, help="seconds of the sustained run (5 min)")
    p.add_argument("--sustained-via", choices=["gateway", "intake"], default="gateway")
    p.add_argument("--no-profile", dest="profile", action="store_false", help="skip py-spy profiles of misses")
    a = p.parse_args()
    if a.quick:
        a.duration = min(a.duration, 3.0)
        a.backlog = min(a.backlog, 20_000)
        a.mix_duration = min(a.mix_duration, 10.0)
        a.e2e_duration = min(a.e2e_duration, 10.0)
        a.sustained = min(a.sustained, 20.0)
    uvloop.install()
    asyncio.run(run(a))


if __name__ == "__main__":
    main()
