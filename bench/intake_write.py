"""intake's write path (POST /api/v1/cases/grid-events) directly and through the gateway, against the
bare FastAPI + asyncpg insert on the same PostgreSQL, in one run (issue #8: >= 0.5x direct, >= 0.35x
through the gateway).

    uv run python -m bench.intake_write                  # 10 s per measurement, 32 connections
    uv run python -m bench.intake_write --rounds 3       # repeat (the machine is shared: see the noise)
    uv run python -m bench.intake_write --profile        # + py-spy of intake and the gateway under load
    uv run python -m bench.intake_write --waits          # + what intake's PostgreSQL backends wait on
    uv run python -m bench.intake_write --intake-workers 2 --gateway-workers 2   # several processes each

The stack is fengqiao_devstack.stack on free ports (durable PostgreSQL, Tansu, demo data, gateway rate
limits lifted) exactly as ``python -m bench --stack`` starts it; the load is bench/loadgen.py's closed
loop. Profiles (``--profile``) go to bench/out/profile-write-<service>.{svg,txt}.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
from fengqiao_devstack import stack as stack_mod

from . import baselines, system
from .infra import OUT, MemoryWatch, Servers, log
from .loadgen import closed_loop
from .profile import _py_spy, collapsed_samples


def _schedstat(pid: int) -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for a CPU) of all threads of ``pid``."""
    run = wait = 0.0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return run, wait
    for t in tasks:
        with contextlib.suppress(OSError, ValueError):
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                a, b, _ = f.read().split()
            run += int(a) / 1e9
            wait += int(b) / 1e9
    return run, wait


def _cpu_seconds(pids: dict[str, int]) -> dict[str, tuple[float, float]]:
    """Per named process (with its children): (CPU seconds, seconds waiting in the run queue)."""
    out = {}
    for name, pid in pids.items():
        try:
            p = psutil.Process(pid)
            procs = [p.pid, *(c.pid for c in p.children(recursive=True))]
        except psutil.Error:
            continue
        run = wait = 0.0
        for q in procs:
            r, w = _schedstat(q)
            run, wait = run + r, wait + w
        out[name] = (run, wait)
    return out


async def _measured(url: str, make, a: argparse.Namespace, pids: dict[str, int]) -> dict:
    """Closed loop; adds per process the CPU milliseconds per successful request, the share of a core
    it used, and the milliseconds per request it was runnable but waited for a CPU (the machine is
    shared: that is how much other work held the cores)."""
    before = _cpu_seconds(pids)
    t0 = time.monotonic()
    res = await closed_loop(url, make, concurrency=a.concurrency, duration=a.duration)
    wall = time.monotonic() - t0
    after = _cpu_seconds(pids)
    s = next(iter(res.summary().values()))
    n = max(1, s["ok"])
    keys = [k for k in after if k in before]
    s["cpu_ms_per_request"] = {k: round(1000 * (after[k][0] - before[k][0]) / n, 2) for k in keys}
    s["cpu_share"] = {k: round((after[k][0] - before[k][0]) / wall, 2) for k in keys}
    s["runqueue_ms_per_request"] = {k: round(1000 * (after[k][1] - before[k][1]) / n, 2) for k in keys}
    s["loadavg_1min"] = round(os.getloadavg()[0], 2)
    return s


async def _respawn(sysm, name: str, workers: int) -> None:
    """Run the stack's ``name`` with ``workers`` uvicorn worker processes on the same port (what
    several replicas behind one address would do). The stack starts each service as one process."""
    stack = sysm.stack
    svc = stack.service(name)
    old = stack.procs[name]
    old.terminate()
    await asyncio.to_thread(old.wait, 20)
    log_file = open(stack.logs / f"{name}.log", "ab")  # noqa: ASYNC230 - once, before the load
    stack.procs[name] = subprocess.Popen(  # noqa: ASYNC220 - a long-lived server process
        [sys.executable, "-m", "uvicorn", "--factory", svc.factory, "--host", "127.0.0.1", "--port", str(svc.port),
         "--no-access-log", "--timeout-graceful-shutdown", "5", "--workers", str(workers)],
        stdout=log_file, stderr=subprocess.STDOUT, env=stack.env_for(svc), cwd=str(stack_mod.REPO_ROOT),
        start_new_session=True,
    )
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{sysm.url(name)}{svc.ready_path}", timeout=3)).status_code == 200:
                    break
            await asyncio.sleep(0.2)
        else:
            raise RuntimeError(f"{name} with {workers} workers did not become ready")
    await asyncio.sleep(3)  # every worker's consumers joined their groups
    log(f"{name} restarted with {workers} uvicorn workers")


async def _settle(sysm, limit: float = 90.0) -> float:
    """Wait until every service's outbox backlog and consumer lag are back to zero (the events of the
    previous measurement processed), so that one phase's downstream work does not load the next."""
    t0 = time.monotonic()
    async with httpx.AsyncClient() as client:
        while time.monotonic() - t0 < limit:
            s = await system.backlog_and_lag(sysm, client)
            if s and not any(s.values()):
                break
            await asyncio.sleep(0.5)
    waited = round(time.monotonic() - t0, 1)
    log(f"settled after {waited} s")
    return waited


def _ratio(x: float, base: float) -> str:
    return f"{x / base:.2f}x" if base else "-"


async def _profile(name: str, pid: int, load, seconds: float) -> list[str]:
    """py-spy record of ``pid`` (only samples of the thread holding the GIL: where the CPU goes) while ``load`` runs."""
    exe = _py_spy()
    if exe is None:
        await load
        return ["py-spy not installed"]
    OUT.mkdir(parents=True, exist_ok=True)
    raw = OUT / f"profile-write-{name}.txt"
    svg = OUT / f"profile-write-{name}.svg"
    cmd = [exe, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "100", "--nonblocking", "--gil"]
    p1 = await asyncio.create_subprocess_exec(*cmd, "-f", "raw", "-o", str(raw), stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL)
    p2 = await asyncio.create_subprocess_exec(*cmd, "-o", str(svg), stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL)
    await load
    await asyncio.gather(p1.wait(), p2.wait())
    return _summary(raw)


def _summary(raw: Path, n: int = 25) -> list[str]:
    """Inclusive share of the functions of our code and of the libraries on the request path."""
    incl: collections.Counter = collections.Counter()
    leaf: collections.Counter = collections.Counter()
    total = 0
    for frames, c in collapsed_samples(raw):
        total += c
        for f in set(frames):
            incl[f] += c
        if frames:
            leaf[frames[-1]] += c
    if not total:
        return []
    out = [f"samples {total}", "-- inclusive --"]
    out += [f"{100 * c / total:5.1f}% {f}" for f, c in incl.most_common(n)]
    out += ["-- self --"] + [f"{100 * c / total:5.1f}% {f}" for f, c in leaf.most_common(15)]
    return out


async def run(a: argparse.Namespace) -> dict:
    results: dict = {"rounds": []}
    async with system.started_stack() as sysm:
        srv = Servers(sysm.stack.pg, sysm.stack.broker, sysm.stack.run_dir)
        mem = MemoryWatch()
        for name, n in (("intake", a.intake_workers), ("gateway", a.gateway_workers)):
            if n > 1:
                await _respawn(sysm, name, n)
        pids = {name: p.pid for name, p in sysm.stack.procs.items()}
        pids["postgres"] = sysm.stack.pg.running_pid()
        if sysm.stack.broker and sysm.stack.broker.pid:
            pids["broker"] = sysm.stack.broker.pid
        for i in range(a.rounds):
            base = await baselines.bare_insert(srv, a.duration, mem)
            await _settle(sysm)
            d = await _measured(sysm.url("intake"), system.grid_report_direct(sysm), a, pids)
            d["settle_s"] = await _settle(sysm)
            g = await _measured(sysm.gateway, system.grid_report_gateway(sysm), a, pids)
            g["settle_s"] = await _settle(sysm)
            r = {"bare": base, "direct": d, "gateway": g}
            results["rounds"].append(r)
            print(f"\nround {i + 1}: {a.concurrency} connections, {a.duration:.0f} s each, "
                  f"intake workers {a.intake_workers}, gateway workers {a.gateway_workers}")
            print(f"  {'':28} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'ratio':>6}")
            for label, s in (("bare FastAPI+asyncpg insert", base), ("intake direct", d), ("through the gateway", g)):
                print(f"  {label:28} {s['rps']:>8} {s['p50_ms']!s:>8} {s['p99_ms']!s:>8} {s['errors']:>7} "
                      f"{_ratio(s['rps'], base['rps']):>6}")
            for label, s in (("direct", d), ("gateway", g)):
                print(f"  {label}: CPU ms per request {s['cpu_ms_per_request']}")
                print(f"  {label}: CPU cores busy {s['cpu_share']}")
                print(f"  {label}: ms per request waiting for a CPU {s['runqueue_ms_per_request']}; "
                      f"load average {s['loadavg_1min']}")
            for label, s in (("direct", d), ("gateway", g)):
                bad = {k: v for k, v in s["statuses"].items() if k not in ("200", "201")}
                if bad:
                    print(f"  ! {label} statuses {bad}")
            print(f"  targets: direct >= 0.5x ({'met' if d['rps'] >= 0.5 * base['rps'] else 'NOT met'}), "
                  f"gateway >= 0.35x ({'met' if g['rps'] >= 0.35 * base['rps'] else 'NOT met'})", flush=True)
        if a.waits:
            from .profile import pg_waits

            dsn = sysm.stack.pg.url("postgres", driver="postgresql")
            for name, url, make in (("direct", sysm.url("intake"), system.grid_report_direct(sysm)),
                                    ("gateway", sysm.gateway, system.grid_report_gateway(sysm))):
                load = closed_loop(url, make, concurrency=a.concurrency, duration=6)
                waits, _ = await asyncio.gather(pg_waits(dsn, "fq_intake", 5.0), load)
                await _settle(sysm)
                results[f"waits_{name}"] = waits
                print(f"\nintake's database backends under the {name} load (pg_stat_activity every 100 ms):")
                print("\n".join("  " + w for w in waits), flush=True)
        if a.profile:
            for name, url, make in (("intake", sysm.url("intake"), system.grid_report_direct(sysm)),
                                    ("gateway", sysm.gateway, system.grid_report_gateway(sysm))):
                secs = min(a.duration, 10)
                load = closed_loop(url, make, concurrency=a.concurrency, duration=secs)
                lines = await _profile(name, sysm.stack.procs[name].pid, load, secs)
                await _settle(sysm)
                results[f"profile_{name}"] = lines
                print(f"\nprofile of {name} under its write load (bench/out/profile-write-{name}.svg):")
                print("\n".join("  " + x for x in lines), flush=True)
            # the gateway's load also runs intake: profile intake under the gateway load too
            secs = min(a.duration, 10)
            load = closed_loop(sysm.gateway, system.grid_report_gateway(sysm), concurrency=a.concurrency,
                               duration=secs)
            lines = await _profile("intake-via-gateway", sysm.stack.procs["intake"].pid, load, secs)
            results["profile_intake_via_gateway"] = lines
            print("\nprofile of intake under the gateway load:")
            print("\n".join("  " + x for x in lines[:20]), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "intake_write.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))
    log("raw figures in bench/out/intake_write.json")
    return results


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.intake_write", description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=10.0, help="seconds per closed-loop measurement (10)")
    p.add_argument("--concurrency", type=int, default=baselines.CONCURRENCY, help="keep-alive connections (32)")
    p.add_argument("--rounds", type=int, default=1, help="repeat the three measurements (1)")
    p.add_argument("--profile", action="store_true", help="py-spy of intake and the gateway under load")
    p.add_argument("--intake-workers", type=int, default=1, help="uvicorn workers of intake (1, as the stack)")
    p.add_argument("--gateway-workers", type=int, default=1, help="uvicorn workers of the gateway (1)")
    p.add_argument("--waits", action="store_true", help="what intake's database backends wait on under load")
    a = p.parse_args()
    import uvloop

    uvloop.run(run(a))


if __name__ == "__main__":
    main()
