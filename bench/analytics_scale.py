"""``uv run python -m bench.analytics_scale``: the situation API with 1,000,000 cases loaded.

The read models are filled through the analytics domain code itself (``readmodel.case_contributions``
computes what each case adds to the counters, exactly as the event handlers do), bulk-loaded with COPY
instead of replaying a million events (which would take an hour here and measure ingestion, not the
read path). Then the real analytics app serves ``GET /api/v1/analytics/summary`` (and ``/departments``,
``/trends``) under a closed-loop load and the p50/p99 are compared with the target (p99 <= 50 ms).
Writes bench/out/analytics_scale.json and bench/RESULTS-analytics-scale.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
from fengqiao_common.db import migrate
from fengqiao_common.jurisdiction import load
from fengqiao_devstack.testing import identity_headers

from bench.infra import ROOT, Uvicorn, log, servers
from bench.loadgen import Request, closed_loop

OUT = ROOT / "bench" / "out"
STATUSES = ["reported", "dispatched", "on_site", "resolved", "closed", "closed", "closed", "closed"]
CHANNELS = ["grid_app", "grid_app", "petition", "external", "open311"]


def synthetic_cases(n: int, seed: int = 7):
    from fengqiao_analytics.domain import readmodel as rm

    j = load(str(ROOT / "data" / "waihai.yaml"))
    grids = [(g.code, g.community) for g in j.grids]
    domains = [d.code for d in j.domains]
    depts = [d.code for d in j.departments if d.role == "department"]
    grades = ["red", "orange", "yellow", "blue", "blue", "yellow"]
    rnd = random.Random(seed)
    now = datetime.now(UTC)
    for i in range(n):
        grid, comm = rnd.choice(grids)
        at = now - timedelta(seconds=rnd.randrange(365 * 86400))
        status = rnd.choice(STATUSES)
        case = {
            "case_id": str(uuid.UUID(int=rnd.getrandbits(128))), "case_no": f"WH-{i:08d}", "reported": True,
            "channel": rnd.choice(CHANNELS), "category": rnd.choice(domains), "grade": rnd.choice(grades),
            "grid": grid, "community": comm, "reported_at": at, "people_involved": rnd.randrange(1, 40),
            "status": status, "departments": rnd.sample(depts, rnd.choice((1, 1, 2))),
            "resolved_at": at + timedelta(hours=rnd.randrange(1, 200)) if status in ("resolved", "closed") else None,
            "overdue_orders": 1 if status != "closed" and rnd.random() < 0.1 else 0,
            "rating": rnd.choice((None, "satisfied", "basically_satisfied", "unsatisfied")) if status == "closed" else None,
        }
        yield case, rm


async def load_cases(dsn: str, n: int) -> float:
    tz = ZoneInfo("Asia/Shanghai")
    counters: Counter = Counter()
    conn = await asyncpg.connect(dsn)
    started = time.perf_counter()
    cols = ["case_id", "case_no", "reported", "channel", "category", "grade", "grid", "community", "reported_at",
            "people_involved", "status", "departments", "resolved_at", "overdue_orders", "rating"]
    batch = []
    try:
        for case, rm in synthetic_cases(n):
            counters.update(rm.case_contributions(case, tz))
            batch.append(tuple(json.dumps(case[c]) if c == "departments" else case[c] for c in cols))
            if len(batch) == 50_000:
                await conn.copy_records_to_table("a_cases", records=batch, columns=cols)
                batch.clear()
        if batch:
            await conn.copy_records_to_table("a_cases", records=batch, columns=cols)
        await conn.copy_records_to_table(
            "a_counters", records=[(d, k, v) for (d, k), v in counters.items()], columns=["dim", "key", "value"])
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def main(n: int, duration: float) -> dict:
    with servers(fast_pg=True) as s:
        url = s.sa_url("fq_analytics")
        from fengqiao_analytics import SERVICE_DIR

        await migrate(SERVICE_DIR, url)
        log(f"loading {n:,} cases into the read models ...")
        secs = await load_cases(s.dsn("fq_analytics"), n)
        log(f"loaded in {secs:.0f} s")
        env = {"ANALYTICS_DATABASE_URL": url, "KAFKA_BOOTSTRAP_SERVERS": s.broker.bootstrap,
               "ANALYTICS_RUN_CONSUMERS": "false", "FQ_ENVIRONMENT": "test"}
        headers = identity_headers(roles=["leader"], sub="bench-leader")
        results = {}
        async with Uvicorn("fengqiao_analytics.main:create_app", env, name="analytics") as app:
            for conc in (1, 8):
                for path in ("/api/v1/analytics/summary", "/api/v1/analytics/departments",
                             "/api/v1/analytics/trends?period=day"):
                    res = await closed_loop(app.url, lambda p=path: Request("GET", p, headers=headers, op=p),
                                            concurrency=conc, duration=duration)
                    results[f"{path} (concurrency {conc})"] = res.summary()[path]
                    log(path, conc, results[f"{path} (concurrency {conc})"])
    return {"cases": n, "load_seconds": round(secs, 1), "results": results}


def write(doc: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "analytics_scale.json").write_text(json.dumps(doc, indent=2))
    lines = [
        "# Analytics with 1,000,000 cases loaded",
        "",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `uv run python -m bench.analytics_scale` "
        f"({doc['cases']:,} cases; read models filled through the domain code in {doc['load_seconds']} s).",
        "One analytics process (uvicorn, one worker), 1 and 8 concurrent keep-alive clients, leader identity.",
        "",
        "| endpoint | target | req/s | p50 ms | p95 ms | p99 ms | met? |",
        "|---|---|---|---|---|---|---|",
    ]
    for path, r in doc["results"].items():
        target = "p99 <= 50 ms" if "/summary " in path else "-"
        met = ("yes" if r["p99_ms"] is not None and r["p99_ms"] <= 50 else "**no**") if target != "-" else "-"
        lines.append(f"| `{path}` | {target} | {r['rps']} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {met} |")
    (ROOT / "bench" / "RESULTS-analytics-scale.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--duration", type=float, default=10.0)
    a = ap.parse_args()
    write(asyncio.run(main(a.cases, a.duration)))
