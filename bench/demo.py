"""``make demo``: play a believable day of Waihai Street against a running system, through the
gateway's public API with the demo credentials, so the big screen and the consoles come alive.

    uv run python -m bench.demo                      # a day in 24 minutes (speed 60)
    uv run python -m bench.demo --speed 600 --hours 8
    uv run python -m bench.demo --gateway http://127.0.0.1:8000 --credentials .run/demo-credentials.json

What happens (simulated clock, starting at --start, default 07:00):
- grid workers patrol their grids and report events (more in the morning and late afternoon),
  now and then a weak signal;
- residents and businesses raise demands through 粤省事 / 粤商通 / the government service
  network (REST with their API keys) and the Open311 endpoint;
- each department's officer works its inbox: signs for new orders, reports on site a little later,
  resolves after a while; the centre verifies resolved orders;
- the centre books mediations for some disputes.
Every call and its outcome is printed; 4xx/5xx are counted and shown at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fengqiao_common import jurisdiction as jurisdiction_mod

from .system import CATEGORY_WEIGHTS, DESCRIPTIONS

ROOT = Path(__file__).resolve().parents[1]

# relative report intensity by hour of day (a street wakes up, peaks mid-morning and late afternoon)
HOURLY = [0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.0, 1.6, 2.0, 2.2, 1.8, 1.2, 1.3, 1.7, 1.9, 2.0, 1.8,
          1.4, 1.2, 1.0, 0.8, 0.5, 0.3]
WEAK_SIGNALS = [("labour", "工人聚集议论欠薪", "某厂工人在食堂议论工资迟发，情绪不满。"),
                ("neighbour", "楼道杂物引发口角", "两户邻居因楼道堆放杂物多次口角。"),
                ("land_housing", "征地补偿传言", "村民传言征地补偿标准下调，有人串联上访。")]


@dataclass
class Actor:
    username: str
    role: str
    token: str
    info: dict


@dataclass
class Demo:
    gateway: str
    creds: dict
    speed: float
    reports_per_day: float
    rng: random.Random = field(default_factory=lambda: random.Random())
    stats: Counter = field(default_factory=Counter)
    actors: dict[str, Actor] = field(default_factory=dict)
    pending: list[tuple[float, str, str, str]] = field(default_factory=list)  # (due sim time, step, order, user)
    seen_orders: set[str] = field(default_factory=set)
    verbose: bool = True

    def __post_init__(self) -> None:
        self.j = jurisdiction_mod.load(str(ROOT / "data" / "waihai.yaml"))
        self.keys = {k["scope"]: k["key"] for k in self.creds.get("api_keys", []) if k.get("scope_type") ==
                     "external_system"}
        self.cats = list(CATEGORY_WEIGHTS)
        self.weights = [CATEGORY_WEIGHTS[c] for c in self.cats]

    def say(self, sim: datetime, text: str) -> None:
        if self.verbose:
            print(f"[{sim:%H:%M}] {text}", flush=True)

    async def call(self, c: httpx.AsyncClient, method: str, path: str, sim: datetime, what: str, **kw):
        try:
            r = await c.request(method, path, **kw)
        except httpx.HTTPError as exc:
            self.stats["network errors"] += 1
            self.say(sim, f"{what}: {exc!r}")
            return None
        self.stats[f"{r.status_code // 100}xx"] += 1
        if r.status_code >= 400:
            self.say(sim, f"{what}: HTTP {r.status_code} {r.text[:160]}")
            return None
        return r

    async def login(self, c: httpx.AsyncClient) -> None:
        for u in self.creds.get("users", []):
            r = await c.post("/api/v1/auth/login", json={"username": u["username"], "password": u["password"]})
            if r.status_code == 200:
                self.actors[u["username"]] = Actor(u["username"], u.get("role", ""), r.json()["access_token"], u)
        if not self.actors:
            raise SystemExit("could not log in any demo user: is the system running (make run)?")
        self.login_at = asyncio.get_running_loop().time()

    def auth(self, username: str) -> dict:
        return {"Authorization": f"Bearer {self.actors[username].token}"}

    def by_role(self, role: str) -> list[Actor]:
        return [a for a in self.actors.values() if a.role == role]

    def report_body(self, grid_code: str | None = None) -> dict:
        grids = [g for g in self.j.grids if grid_code is None or g.code == grid_code] or list(self.j.grids)
        g = self.rng.choice(grids)
        cat = self.rng.choices(self.cats, self.weights)[0]
        title, desc = DESCRIPTIONS[cat]
        return {"category": cat, "grid": g.code, "title": title, "description": desc,
                "people_involved": self.rng.choice([1, 2, 2, 3, 4, 8, 15]),
                "location": {"lat": round(g.centroid.lat + self.rng.uniform(-0.003, 0.003), 6),
                             "lon": round(g.centroid.lon + self.rng.uniform(-0.003, 0.003), 6),
                             "address": f"外海街道{g.name}"}}

    # -- actors' behaviour ------------------------------------------------------------------------
    async def grid_report(self, c, sim: datetime) -> None:
        workers = self.by_role("grid_worker")
        if not workers:
            return
        w = self.rng.choice(workers)
        grid = self.rng.choice(w.info.get("grids") or [None])
        body = self.report_body(grid)
        r = await self.call(c, "POST", "/api/v1/cases/grid-events", sim, f"{w.username} report",
                            json=body, headers=self.auth(w.username))
        if r is not None:
            case = r.json()
            self.say(sim, f"{w.info.get('display_name', w.username)} 上报 {case.get('case_no')} "
                          f"{body['title']} ({body['grid']}, {case.get('grade')})")
        if self.rng.random() < 0.08:
            cat, summary, desc = self.rng.choice(WEAK_SIGNALS)
            r = await self.call(c, "POST", "/api/v1/weak-signal-reports", sim, "weak signal",
                                json={"grid": body["grid"], "category": cat, "summary": summary, "description": desc},
                                headers=self.auth(w.username))
            if r is not None:
                self.say(sim, f"{w.username} 弱信号: {summary}")

    async def external_demand(self, c, sim: datetime) -> None:
        if not self.keys:
            return
        code = self.rng.choice(sorted(self.keys))
        body = self.report_body()
        if self.rng.random() < 0.3:
            form = {"service_code": body["category"], "description": body["description"],
                    "lat": str(body["location"]["lat"]), "long": str(body["location"]["lon"]),
                    "address_string": body["location"]["address"]}
            r = await self.call(c, "POST", "/open311/v2/requests.json", sim, f"{code} Open311", data=form,
                                headers={"X-API-Key": self.keys[code]})
            if r is not None:
                self.say(sim, f"{code} (Open311) 诉求 {body['title']}: {r.json()[0].get('service_request_id')}")
            return
        body.pop("grid")
        body["external_ref"] = f"{code}-{self.rng.randrange(10**8):08d}"
        body["requester"] = {"name": self.rng.choice(["王女士", "陈先生", "刘先生", "黄女士"]), "role": "requester"}
        r = await self.call(c, "POST", "/api/v1/cases/demands", sim, f"{code} demand", json=body,
                            headers={"X-API-Key": self.keys[code]})
        if r is not None:
            self.say(sim, f"{code} 诉求 {r.json().get('case_no')} {body['title']}")

    async def departments_poll(self, c, sim_t: float, sim: datetime) -> None:
        for officer in self.by_role("department_officer"):
            r = await self.call(c, "GET", "/api/v1/orders", sim, f"{officer.username} inbox",
                                params={"status": "dispatched", "limit": 20}, headers=self.auth(officer.username))
            if r is None:
                continue
            items = r.json()
            items = items.get("items", []) if isinstance(items, dict) else items
            for o in items:
                oid = o.get("order_id") or o.get("id")
                if oid and oid not in self.seen_orders:
                    self.seen_orders.add(oid)
                    # sign for within 5-40 simulated minutes
                    self.pending.append((sim_t + self.rng.uniform(300, 2400), "sign-for", oid, officer.username))

    async def work_due(self, c, sim_t: float, sim: datetime) -> None:
        due = [p for p in self.pending if p[0] <= sim_t]
        self.pending = [p for p in self.pending if p[0] > sim_t]
        for _, step, oid, user in due:
            body = {"sign-for": {}, "check-in": {"location": {"address": "现场"}},
                    "resolve": {"result": self.rng.choice(["已现场调处，双方达成一致。", "已督促整改完毕。",
                                                           "已联系相关单位处理完毕。"])},
                    "verify": {"accepted": True}}[step]
            r = await self.call(c, "POST", f"/api/v1/orders/{oid}/{step}", sim, f"{user} {step}", json=body,
                                headers=self.auth(user))
            if r is None:
                continue
            words = {"sign-for": "签收", "check-in": "报到", "resolve": "办结", "verify": "核验"}
            self.say(sim, f"{self.actors[user].info.get('display_name', user)} {words[step]} 工单 {oid[:8]}")
            nxt = {"sign-for": ("check-in", 600, 3600), "check-in": ("resolve", 1800, 4 * 3600),
                   "resolve": ("verify", 600, 3600)}.get(step)
            if nxt:
                who = user
                if nxt[0] == "verify":
                    centre = self.by_role("dispatcher")
                    if not centre:
                        continue
                    who = centre[0].username
                self.pending.append((sim_t + self.rng.uniform(nxt[1], nxt[2]), nxt[0], oid, who))

    async def booking(self, c, sim: datetime) -> None:
        if "dispatcher" not in self.actors:
            return
        start = datetime.now(UTC) + timedelta(days=1)
        body = {"category": self.rng.choice([m.code for m in self.j.mediation_categories]),
                "summary": "当事人申请调解。",
                "parties": [{"side": "applicant", "name": "张先生", "phone": "13812345678"},
                            {"side": "respondent", "name": "某劳务公司", "phone": "13987654321",
                             "organisation": "某劳务公司"}],
                "window": {"from": start.isoformat(), "to": (start + timedelta(days=5)).isoformat()}}
        r = await self.call(c, "POST", "/api/v1/mediation/bookings", sim, "mediation booking", json=body,
                            headers=self.auth("dispatcher"))
        if r is not None:
            b = r.json()
            self.say(sim, f"综治中心预约调解 {body['category']}: {b.get('mediator_id') or b.get('id', '')}")

    async def refresh_tokens(self, c) -> None:
        """Access tokens are short-lived: log in again every few real minutes."""
        if asyncio.get_running_loop().time() - self.login_at > 240:
            await self.login(c)

    # -- the day ----------------------------------------------------------------------------------
    async def play(self, start: datetime, hours: float) -> None:
        tick = 1.0  # real seconds per step
        async with httpx.AsyncClient(base_url=self.gateway, timeout=30) as c:
            await self.login(c)
            print(f"demo: {len(self.actors)} users logged in, {len(self.keys)} external systems; "
                  f"playing {hours} h from {start:%H:%M} at {self.speed}x", flush=True)
            per_sim_second = self.reports_per_day / 86400 / (sum(HOURLY) / 24)
            sim_t, end_t = 0.0, hours * 3600
            next_poll = 0.0
            loop = asyncio.get_running_loop()
            while sim_t < end_t:
                t0 = loop.time()
                sim = start + timedelta(seconds=sim_t)
                step = tick * self.speed
                lam = per_sim_second * HOURLY[sim.hour] * step
                jobs = []
                for _ in range(_poisson(self.rng, lam * 0.75)):
                    jobs.append(self.grid_report(c, sim))
                for _ in range(_poisson(self.rng, lam * 0.25)):
                    jobs.append(self.external_demand(c, sim))
                if self.rng.random() < lam * 0.05:
                    jobs.append(self.booking(c, sim))
                await asyncio.gather(*jobs)
                if sim_t >= next_poll:
                    await self.departments_poll(c, sim_t, sim)
                    next_poll = sim_t + 300  # every 5 simulated minutes
                await self.work_due(c, sim_t, sim)
                await self.refresh_tokens(c)
                sim_t += step
                await asyncio.sleep(max(0.0, tick - (loop.time() - t0)))
        print("demo finished:", dict(self.stats), flush=True)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    k, p, limit = 0, 1.0, math.exp(-min(lam, 50))
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.demo", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gateway", help="gateway URL (default: from .run/stack.json, else http://127.0.0.1:8000)")
    ap.add_argument("--credentials", default=str(ROOT / ".run" / "demo-credentials.json"))
    ap.add_argument("--speed", type=float, default=60.0, help="simulated seconds per real second (default 60)")
    ap.add_argument("--hours", type=float, default=24.0, help="simulated hours to play (default 24)")
    ap.add_argument("--start", default="07:00", help="simulated start time of day (default 07:00)")
    ap.add_argument("--reports-per-day", type=float, default=400.0, help="reports and demands per day (default 400)")
    ap.add_argument("--seed", type=int, help="random seed (repeatable days)")
    ap.add_argument("--quiet", action="store_true", help="print only the final counts")
    a = ap.parse_args(argv)
    gateway = a.gateway
    if not gateway:
        with contextlib.suppress(OSError, ValueError, KeyError):
            gateway = json.loads((ROOT / ".run" / "stack.json").read_text())["gateway"]
        gateway = gateway or "http://127.0.0.1:8000"
    try:
        creds = json.loads(Path(a.credentials).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SystemExit(f"no demo credentials at {a.credentials}: start the system with `make run` first") from exc
    hh, mm = (int(x) for x in a.start.split(":"))
    start = datetime.now().replace(hour=hh, minute=mm, second=0, microsecond=0)
    demo = Demo(gateway, creds, a.speed, a.reports_per_day, rng=random.Random(a.seed), verbose=not a.quiet)
    try:
        asyncio.run(demo.play(start, a.hours))
    except KeyboardInterrupt:
        print("demo stopped:", dict(demo.stats))


if __name__ == "__main__":
    main()
