"""The whole system under load (fengqiao_devstack.stack on free ports, demo data and credentials).

Measured here:
- intake's write path directly (POST /api/v1/cases/grid-events with the gateway's identity header)
  and through the gateway (Bearer token), closed loop, against the bare FastAPI + asyncpg baseline;
- a realistic mix through the gateway at set rates: grid reports, external demands (REST and
  Open311), department sign-for / check-in / resolve (on orders a department Kafka consumer
  received), mediation bookings, big-screen and analytics reads; p50/p95/p99 per operation;
- end-to-end latency from report accepted (201 at the client) to ``order.dispatched`` received by a
  department's own Kafka consumer, at 100 reports/s;
- the sustained run (default 500 reports/s, duration a flag): outbox backlog and consumer lag
  sampled from every service's /metrics, and whether they grow;
- each process's peak memory (VmHWM).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import re
import shutil
import tempfile
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
from aiokafka import AIOKafkaConsumer
from fengqiao_common import jurisdiction as jurisdiction_mod
from fengqiao_devstack.testing import identity_headers

from .infra import MemoryWatch, log
from .loadgen import LoadResult, Request, closed_loop, open_loop, percentile

RATE_LIMITS_OFF = {
    "GATEWAY_RATE_LIMIT_USER_PER_MINUTE": "100000000",
    "GATEWAY_RATE_LIMIT_KEY_PER_MINUTE": "100000000",
    "GATEWAY_RATE_LIMIT_ANONYMOUS_PER_MINUTE": "100000000",
}
CATEGORY_WEIGHTS = {"neighbour": 30, "urban": 20, "labour": 12, "public_security": 10, "land_housing": 8,
                    "consumer": 8, "family": 6, "health": 4, "other": 2}
DESCRIPTIONS = {
    "neighbour": ("邻里噪音", "楼上夜间装修噪音扰民，双方多次争吵。"),
    "urban": ("占道经营", "菜市场门口流动摊贩占道经营，堵塞消防通道。"),
    "labour": ("欠薪纠纷", "工厂拖欠二十名工人两个月工资，工人聚集在厂门口。"),
    "public_security": ("治安隐患", "出租屋内疑似有人聚众赌博，夜间人员进出频繁。"),
    "land_housing": ("宅基地纠纷", "两户村民因宅基地边界围墙发生争执。"),
    "consumer": ("消费纠纷", "顾客投诉装修公司收取定金后拖延施工。"),
    "family": ("家庭矛盾", "夫妻因赡养老人问题多次争吵，老人求助。"),
    "health": ("环境卫生", "小区垃圾堆放多日无人清运，气味难闻。"),
    "other": ("其他事项", "居民反映路灯损坏，夜间出行不便。"),
}


def _lower(code: str) -> str:
    return code.lower()


@dataclass
class System:
    """A started stack plus what the load needs: tokens, API keys, jurisdiction data."""

    stack: object
    tokens: dict[str, str] = field(default_factory=dict)  # username -> access token
    users: dict[str, dict] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # scope -> key
    counter: itertools.count = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.j = jurisdiction_mod.load(str(Path(__file__).resolve().parents[1] / "data" / "waihai.yaml"))
        self.grids = list(self.j.grids)
        self.cats = list(CATEGORY_WEIGHTS)
        self.weights = [CATEGORY_WEIGHTS[c] for c in self.cats]
        self.rng = random.Random(8)

    @property
    def gateway(self) -> str:
        return self.stack.gateway_url

    def url(self, name: str) -> str:
        return self.stack.url(name)

    async def login_all(self) -> None:
        creds = self.stack.credentials()
        async with httpx.AsyncClient(base_url=self.gateway, timeout=30) as c:
            for u in creds.get("users", []):
                r = await c.post("/api/v1/auth/login", json={"username": u["username"], "password": u["password"]})
                r.raise_for_status()
                self.tokens[u["username"]] = r.json()["access_token"]
                self.users[u["username"]] = u
        for k in creds.get("api_keys", []):
            self.keys[k["scope"]] = k["key"]

    def bearer(self, username: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.tokens[username]}"}

    def officer_for(self, department: str) -> str | None:
        name = f"officer.{_lower(department)}"
        return name if name in self.tokens else None

    # -- request bodies -------------------------------------------------------------------------
    def report_body(self) -> tuple[dict, str]:
        i = next(self.counter)
        g = self.grids[i % len(self.grids)]
        cat = self.rng.choices(self.cats, self.weights)[0]
        title, desc = DESCRIPTIONS[cat]
        body = {
            "category": cat, "grid": g.code, "title": title, "description": f"{desc}（第{i}号）",
            "people_involved": self.rng.choice([1, 2, 2, 3, 5, 12]),
            "location": {"lat": round(g.centroid.lat + self.rng.uniform(-0.002, 0.002), 6),
                         "lon": round(g.centroid.lon + self.rng.uniform(-0.002, 0.002), 6),
                         "address": f"外海街道{g.name}"},
        }
        return body, g.code

    def grid_worker_for(self, grid: str) -> str:
        for name, u in self.users.items():
            if u.get("role") == "grid_worker" and grid in (u.get("grids") or []):
                return name
        return next(n for n, u in self.users.items() if u.get("role") == "dispatcher")


@contextlib.asynccontextmanager
async def started_stack(fast_pg: bool = False):
    from fengqiao_devstack.stack import Stack

    root = Path(tempfile.mkdtemp(prefix="fq-bench-stack-"))
    root.chmod(0o755)  # noqa: ASYNC240
    stack = Stack(run_dir=root, random_ports=True, fast_pg=fast_pg, demo=True, extra_env=dict(RATE_LIMITS_OFF))
    # the court simulator is not part of the measured paths (and has no /readyz to wait on)
    stack.services = [s for s in stack.services if s.name != "court"]
    log("starting the stack (embedded PostgreSQL, Tansu, every service) ...")
    await asyncio.to_thread(stack.start, 300)
    try:
        sysm = System(stack)
        await sysm.login_all()
        log("stack ready:", {s.name: stack.url(s.name) for s in stack.services})
        yield sysm
    finally:
        await asyncio.to_thread(stack.stop)
        shutil.rmtree(root, ignore_errors=True)


class DepartmentConsumer:
    """A department's own Kafka client: reads order.dispatched (from now on), records arrival times."""

    def __init__(self, bootstrap: str):
        self.bootstrap = bootstrap
        self.orders: dict[str, float] = {}  # case id -> first order's arrival time
        self.queue: deque[tuple[str, str]] = deque()  # (order id, department) to work on
        self.count = 0
        self._task: asyncio.Task | None = None
        self._c: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> DepartmentConsumer:
        self._c = AIOKafkaConsumer("order.dispatched", bootstrap_servers=self.bootstrap,
                                   group_id=f"bench-dept-{uuid.uuid4().hex[:6]}", auto_offset_reset="latest",
                                   enable_auto_commit=True, fetch_max_wait_ms=25)  # as `fengqiao dept listen`
        await self._c.start()
        for _ in range(300):
            if self._c.assignment():
                break
            await asyncio.sleep(0.05)
        for tp in self._c.assignment():
            await self._c.position(tp)
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            batches = await self._c.getmany(timeout_ms=25)
            now = time.time()
            for msgs in batches.values():
                for m in msgs:
                    self.count += 1
                    case_id = m.key.decode() if m.key else ""
                    self.orders.setdefault(case_id, now)
                    try:
                        data = json.loads(m.value)
                        self.queue.append((data["order_id"], data["department"]))
                    except (ValueError, KeyError):
                        pass

    async def __aexit__(self, *exc) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        if self._c:
            await self._c.stop()


class Accepted:
    """Remembers when each report was accepted (201 seen by the client) and its case id."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    def callback(self, status: int, body: bytes) -> None:
        if status in (200, 201):
            with contextlib.suppress(ValueError, KeyError):
                self.at[json.loads(body)["id"]] = time.time()


# -- the measurements -------------------------------------------------------------------------------

def grid_report_direct(sysm: System, acc: Accepted | None = None):
    """Requests straight to intake, with the identity header the gateway would add."""
    headers = {}

    def make() -> Request:
        body, grid = sysm.report_body()
        if grid not in headers:
            headers[grid] = identity_headers(roles=["grid_worker"], grids=[grid], name="bench", sub=f"bench-{grid}")
        return Request("POST", "/api/v1/cases/grid-events", json.dumps(body).encode(), headers[grid],
                       op="grid report (intake direct)", on_response=acc.callback if acc else None)

    return make


def grid_report_gateway(sysm: System, acc: Accepted | None = None, op: str = "grid report (gateway)"):
    def make() -> Request:
        body, grid = sysm.report_body()
        return Request("POST", "/api/v1/cases/grid-events", json.dumps(body).encode(),
                       sysm.bearer(sysm.grid_worker_for(grid)), op=op, on_response=acc.callback if acc else None)

    return make


async def write_paths(sysm: System, duration: float, concurrency: int) -> dict:
    direct = await closed_loop(sysm.url("intake"), grid_report_direct(sysm), concurrency=concurrency,
                               duration=duration)
    via = await closed_loop(sysm.gateway, grid_report_gateway(sysm), concurrency=concurrency, duration=duration)
    out = {**direct.summary(), **via.summary()}
    log("write paths:", json.dumps(out, ensure_ascii=False))
    return out


def mix_requests(sysm: System, dept: DepartmentConsumer, acc: Accepted):
    """One request factory per operation of the realistic mix (through the gateway)."""
    ext_codes = [e.code for e in sysm.j.external_systems if e.code in sysm.keys]
    follow_up: deque[tuple[str, str, str]] = deque()  # (next step, order id, department)
    report = grid_report_gateway(sysm, acc, op="grid report")

    def demand() -> Request:
        body, _grid = sysm.report_body()
        body.pop("grid")
        body["external_ref"] = f"ext-{uuid.uuid4().hex[:12]}"
        code = ext_codes[next(sysm.counter) % len(ext_codes)]
        return Request("POST", "/api/v1/cases/demands", json.dumps(body).encode(),
                       {"x-api-key": sysm.keys[code]}, op="external demand (REST)", on_response=acc.callback)

    def open311() -> Request:
        body, _grid = sysm.report_body()
        code = ext_codes[next(sysm.counter) % len(ext_codes)]
        form = urlencode({"service_code": body["category"], "description": body["description"],
                          "lat": body["location"]["lat"], "long": body["location"]["lon"],
                          "address_string": body["location"]["address"]}).encode()
        return Request("POST", "/open311/v2/requests.json", form,
                       {"x-api-key": sysm.keys[code], "content-type": "application/x-www-form-urlencoded"},
                       op="Open311 request")

    def department() -> Request | None:
        # sign for a newly received order, or take an order one step further
        if follow_up and (not dept.queue or random.random() < 0.6):
            step, order_id, dep = follow_up.popleft()
        else:
            while dept.queue:
                order_id, dep = dept.queue.popleft()
                if sysm.officer_for(dep):
                    step = "sign-for"
                    break
            else:
                return None
        officer = sysm.officer_for(dep)
        bodies = {"sign-for": {}, "check-in": {"location": {"address": "现场"}},
                  "resolve": {"result": "已现场处理，双方达成一致。"}}
        nxt = {"sign-for": "check-in", "check-in": "resolve"}

        def done(status: int, _body: bytes, step=step, order_id=order_id, dep=dep) -> None:
            if status < 300 and step in nxt:
                follow_up.append((nxt[step], order_id, dep))

        return Request("POST", f"/api/v1/orders/{order_id}/{step}", json.dumps(bodies[step]).encode(),
                       sysm.bearer(officer), op=f"department {step}", on_response=done)

    def booking() -> Request:
        start = datetime.now(UTC) + timedelta(days=1 + next(sysm.counter) % 20)
        body = {"category": random.choice([c.code for c in sysm.j.mediation_categories]),
                "summary": "邻里纠纷，申请调解。",
                "parties": [{"side": "applicant", "name": "张三", "phone": "13812345678"},
                            {"side": "respondent", "name": "李四", "phone": "13987654321"}],
                "window": {"from": start.isoformat(), "to": (start + timedelta(days=7)).isoformat()}}
        return Request("POST", "/api/v1/mediation/bookings", json.dumps(body).encode(), sysm.bearer("dispatcher"),
                       op="mediation booking")

    def screen() -> Request:
        return Request("GET", "/screen/data", b"", sysm.bearer("leader"), op="big-screen read")

    def summary() -> Request:
        return Request("GET", "/api/v1/analytics/summary", b"", sysm.bearer("leader"), op="analytics summary read")

    return {"report": report, "demand": demand, "open311": open311, "department": department,
            "booking": booking, "screen": screen, "summary": summary}


MIX_RATES = {"report": 40, "demand": 10, "open311": 5, "department": 30, "booking": 2, "screen": 5, "summary": 3}


async def realistic_mix(sysm: System, duration: float, scale: float = 1.0) -> dict:
    acc = Accepted()
    async with DepartmentConsumer(sysm.stack.bootstrap) as dept:
        makers = mix_requests(sysm, dept, acc)

        async def run(name: str, rate: float) -> LoadResult:
            # the department slots are driven by orders as they arrive: idle slots are skipped
            return await open_loop(sysm.gateway, makers[name], rate=rate, duration=duration)

        results = await asyncio.gather(*(run(n, r * scale) for n, r in MIX_RATES.items()))
    out: dict = {}
    for res in results:
        out.update(res.summary())
    log("realistic mix:", json.dumps(out, ensure_ascii=False))
    return out


async def end_to_end(sysm: System, rate: float, duration: float, idle_seconds: float = 8.0) -> dict:
    acc = Accepted()
    # what the stack burns with no load at all (consumers polling, timers, relays): subtracted below
    idle0, t_idle = cpu_seconds(sysm), time.monotonic()
    await asyncio.sleep(idle_seconds)
    idle1 = cpu_seconds(sysm)
    idle_rate = {k: (idle1[k] - idle0.get(k, 0.0)) / (time.monotonic() - t_idle) for k in idle1}
    cpu0, t_cpu = cpu_seconds(sysm), time.monotonic()
    async with DepartmentConsumer(sysm.stack.bootstrap) as dept:
        res = await open_loop(sysm.gateway, grid_report_gateway(sysm, acc, op="grid report"), rate=rate,
                              duration=duration)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len([c for c in acc.at if c in dept.orders]) < len(acc.at) * 0.99:  # noqa: ASYNC110 - polls a counter
            await asyncio.sleep(0.2)
        await asyncio.sleep(1)
        lats = [dept.orders[c] - t for c, t in acc.at.items() if c in dept.orders]
    await drain(sysm, timeout=120)  # the reports' downstream work (analytics, timers...) counts too
    cpu1, elapsed = cpu_seconds(sysm), time.monotonic() - t_cpu
    n = max(1, len(acc.at))
    # marginal CPU per report: the phase's CPU minus what the same stretch of idling would have cost
    cpu_ms = {k: round(max(0.0, cpu1[k] - cpu0.get(k, 0.0) - idle_rate.get(k, 0.0) * elapsed) * 1000 / n, 2)
              for k in cpu1 if k != "whole machine"}
    idle_cores = {k: round(v, 3) for k, v in idle_rate.items() if k != "whole machine"}
    stack_ms = round(sum(cpu_ms.values()), 2)
    idle_total = sum(idle_cores.values())
    out = {"rate": rate, "seconds": duration, "accepted": len(acc.at), "with_order": len(lats),
           "cpu_ms_per_report": cpu_ms, "stack_cpu_ms_per_report": stack_ms,
           "idle_cores": idle_cores, "idle_cores_total": round(idle_total, 3),
           "machine_busy_cores_while_idle": round(idle_rate.get("whole machine", 0.0), 2),
           "capacity_reports_per_s_on_2_cores": round((2 - idle_total) * 1000 / stack_ms, 1) if stack_ms else None,
           "http": res.summary().get("grid report"),
           "p50_ms": _ms(percentile(lats, 50)), "p95_ms": _ms(percentile(lats, 95)),
           "p99_ms": _ms(percentile(lats, 99)), "max_ms": _ms(max(lats) if lats else None)}
    log("end-to-end report -> department consumer:", out)
    return out


_METRIC = re.compile(r'^(fq_outbox_backlog|fq_consumer_lag)\{([^}]*)\} ([0-9.eE+-]+)$', re.M)


async def backlog_and_lag(sysm: System, client: httpx.AsyncClient) -> dict[str, float]:
    """Sum of outbox backlog and of consumer lag per service, from each service's /metrics."""
    out: dict[str, float] = {}
    for s in sysm.stack.services:
        if s.name in ("gateway", "court"):
            continue
        try:
            text = (await client.get(f"{sysm.url(s.name)}/metrics", timeout=5)).text
        except httpx.HTTPError:
            continue
        for name, _labels, value in _METRIC.findall(text):
            key = f"{s.name}.{'outbox' if name == 'fq_outbox_backlog' else 'lag'}"
            out[key] = out.get(key, 0.0) + float(value)
    return out


async def drain(sysm: System, timeout: float = 240.0) -> float | None:
    """Wait until no service has an outbox backlog or consumer lag (the previous phase's downstream work is
    done), so that each phase measures its own load. Returns the seconds waited (None: still busy)."""
    t0 = time.monotonic()
    levels: dict[str, float] = {}
    async with httpx.AsyncClient() as client:
        while time.monotonic() - t0 < timeout:
            levels = await backlog_and_lag(sysm, client)
            if levels and not any(levels.values()):
                return round(time.monotonic() - t0, 1)
            await asyncio.sleep(1.0)
    log("still busy after", timeout, "s:", levels)
    return None


async def sustained(sysm: System, rate: float, duration: float, via: str = "gateway") -> dict:
    """Reports at ``rate`` for ``duration`` s; backlog and lag sampled every 2 s, then drained."""
    acc = Accepted()
    make = grid_report_gateway(sysm, acc, op="grid report") if via == "gateway" else grid_report_direct(sysm, acc)
    base = sysm.gateway if via == "gateway" else sysm.url("intake")
    samples: list[tuple[float, dict]] = []
    stop = asyncio.Event()
    async with DepartmentConsumer(sysm.stack.bootstrap) as dept, httpx.AsyncClient() as client:
        t0 = time.monotonic()

        async def sampler() -> None:
            while not stop.is_set():
                s = await backlog_and_lag(sysm, client)
                s["accepted"] = len(acc.at)
                s["accepted_with_order"] = sum(1 for c in list(acc.at) if c in dept.orders)
                samples.append((round(time.monotonic() - t0, 1), s))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 2)

        st = asyncio.create_task(sampler())
        res = await open_loop(base, make, rate=rate, duration=duration)
        load_end = time.monotonic()
        # drained = every accepted report has its order at the department consumer
        drained_after = None
        while time.monotonic() - load_end < 120:
            if len([c for c in acc.at if c in dept.orders]) >= len(acc.at) * 0.999:
                drained_after = round(time.monotonic() - load_end, 1)
                break
            await asyncio.sleep(0.5)
        stop.set()
        await st
        lats = [dept.orders[c] - t for c, t in acc.at.items() if c in dept.orders]
    http = res.summary().get("grid report") or next(iter(res.summary().values()), {})
    # reports accepted in this run still without their order (orders of earlier phases do not count)
    pending = [s.get("accepted", 0) - s.get("accepted_with_order", 0) for _, s in samples]
    third = max(1, len(pending) // 3)
    early, late = pending[:third], pending[-third - 1:-1] or pending[-third:]
    out = {"rate": rate, "seconds": duration, "via": via, "accepted": len(acc.at),
           "accepted_per_s": round(len(acc.at) / duration, 1), "http": http,
           "orders_received": len(lats), "drained_after_s": drained_after,
           "pending_early_avg": round(sum(early) / len(early), 1) if early else None,
           "pending_late_avg": round(sum(late) / len(late), 1) if late else None,
           "e2e_p50_ms": _ms(percentile(lats, 50)), "e2e_p99_ms": _ms(percentile(lats, 99)),
           "samples": samples}
    log("sustained:", {k: v for k, v in out.items() if k != "samples"})
    return out


def cpu_seconds(sysm: System) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each process of the stack, PostgreSQL with all its
    backends, the broker, and everything else on the machine (other people's work on the shared cores)."""
    import psutil

    def tree(pid: int) -> float:
        try:
            p = psutil.Process(pid)
            total = sum(p.cpu_times()[:2])
            for c in p.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    total += sum(c.cpu_times()[:2])
            return total
        except psutil.Error:
            return 0.0

    out = {name: tree(proc.pid) for name, proc in sysm.stack.procs.items()}
    if sysm.stack.broker and sysm.stack.broker.pid:
        out["broker (tansu)"] = tree(sysm.stack.broker.pid)
    if sysm.stack.pg and sysm.stack.pg.running_pid():
        out["postgres (all backends)"] = tree(sysm.stack.pg.running_pid())
    t = psutil.cpu_times()
    out["whole machine"] = t.user + t.system + getattr(t, "nice", 0.0)
    return out


def stack_memory(sysm: System, mem: MemoryWatch) -> None:
    for name, proc in sysm.stack.procs.items():
        mem.add(f"service.{name}", proc.pid)
    if sysm.stack.broker and sysm.stack.broker.pid:
        mem.add("broker (tansu)", sysm.stack.broker.pid)
    if sysm.stack.pg and sysm.stack.pg.running_pid():
        mem.add("postgres (postmaster)", sysm.stack.pg.running_pid())


def _ms(v):
    return None if v is None else round(v * 1000, 2)
