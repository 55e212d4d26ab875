"""Faults on the whole system while reports flow through the gateway: kill -9 each service in turn
(dispatch, intake, mediation, analytics, the gateway), restart PostgreSQL under all of them, deliver
every event of the scenario twice, and put malformed and oversized records on the topics the services
consume.

One stack is shared by the scenarios (starting it is the expensive part); each scenario marks its
reports with a title of its own. Afterwards, for each scenario:

- every accepted report (201 at the client) has exactly one case at intake and at least one order,
  and no two orders for one (department, role) at dispatch;
- the cases with the scenario's marker are the accepted ones plus at most the requests whose answer
  was cut by the fault (committed, but the client never saw the 201);
- the analytics read model (the situation summary through the gateway, as the leader reads it)
  counts exactly the new cases and the new orders - eventually, within a bounded wait, and still
  after a pause for late duplicates;
- referrals to mediation (the mediation scenario) have exactly one mediation each and are counted
  once by analytics;
- no service dead-lettered anything (the load has no bad message, so a dead-lettered event is a good
  one whose effect is missing) - except, in the bad-records scenario, exactly the records it injected,
  each once per consumer of its topic, found in ``<topic>.dlq`` by their marker.

Zero lost, zero duplicated effects; each scenario adds a row to the table printed at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import shutil
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest
from aiokafka import AIOKafkaProducer
from fengqiao_devstack.testing import EventProbe, eventually
from fengqiao_events.kafka import producer_config
from fengqiao_events.registry import all_specs, all_topics

pytestmark = pytest.mark.slow
MARKER = "故障注入测试"
SETTLE = 120  # bound on every wait for the system to catch up after a fault (the machine is loaded) ...
STALL = 30  # ... past which a wait goes on only while what it waits for still moves (at most 3 x SETTLE)


async def until(check, progress, deadline: float, interval: float = 1.0) -> bool:
    """Await ``check()`` until it holds (True); after ``deadline`` (monotonic) only as long as ``progress()``
    changed within the last STALL seconds (a loaded machine is late, not stuck), at most until 3 x SETTLE
    past the deadline. False when it never held: the caller counts what is missing."""
    last, moved = None, time.monotonic()
    cap = deadline + 2 * SETTLE
    while True:
        if await check():
            return True
        now, seen = time.monotonic(), progress()
        if seen != last:
            last, moved = seen, now
        if now > cap or (now > deadline and now - moved > STALL):
            return False
        await asyncio.sleep(interval)


def durable_stack(**kw):
    """The devstack with the test-speed PostgreSQL (``fast_pg``: no fsync) but synchronous commit for the
    services' databases, as in production. ``fast_pg`` also turns synchronous commit off server-wide,
    and then a kill -9 of the postmaster loses the last commits it had acknowledged - while their outbox
    events may already be out (measured: 4 of 80 reports answered 201 were gone after the restart, and
    analytics counted them). Killing processes never loses what the kernel was given, so fsync can stay
    off."""
    from fengqiao_devstack.stack import Stack

    class DurableStack(Stack):
        async def _prepare(self) -> None:
            await super()._prepare()
            if self.pg is None:
                return
            conn = await asyncpg.connect(self.pg.url("postgres", driver="postgresql"))
            try:
                for svc in self.services:
                    if svc.database and not os.environ.get(f"{svc.prefix}DATABASE_URL"):
                        await conn.execute(f'ALTER DATABASE "fq_{svc.name}" SET synchronous_commit = on')
            finally:
                await conn.close()

    return DurableStack(**kw)


@pytest.fixture(scope="module")
def chaos_stack():
    root = Path(tempfile.mkdtemp(prefix="fq-chaos-stack-"))
    # the checks read every case and its orders back as one user: not what the rate limit is for
    s = durable_stack(run_dir=root, random_ports=True, fast_pg=True, topic_partitions=3,
                      extra_env={"GATEWAY_RATE_LIMIT_USER_PER_MINUTE": "100000"})
    s.services = [svc for svc in s.services if svc.name != "court"]
    s.start(timeout=240)
    try:
        yield s
    finally:
        s.stop(remove_data=True)
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Figures:
    """What the system holds: cases at intake, and the analytics summary's counts."""

    cases: int
    a_cases: int
    a_orders: int
    a_referred: int


@dataclass
class Traffic:
    """Reports (and optionally referrals to mediation) sent through the gateway at a few tens per second."""

    stack: object
    client: httpx.AsyncClient
    name: str
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    accepted: list[str] = field(default_factory=list)
    refused: Counter = field(default_factory=Counter)
    referred: dict[str, str] = field(default_factory=dict)  # case id -> referral id (201 at the client)
    refer_refused: Counter = field(default_factory=Counter)
    headers: dict[str, dict] = field(default_factory=dict)
    base: Figures | None = None

    def __post_init__(self) -> None:
        self.marker = f"{MARKER} {self.tag}"
        self.creds = {u["username"]: u for u in self.stack.credentials()["users"]}
        self.grids = self.creds["grid01"]["grids"]
        self._spots = itertools.count()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._reads = asyncio.Semaphore(8)
        self._log_at = {svc.name: self._log_size(svc.name) for svc in self.stack.services}

    async def login(self) -> None:
        for who in ("grid01", "dispatcher", "leader"):
            r = await self.client.post("/api/v1/auth/login",
                                       json={"username": who, "password": self.creds[who]["password"]})
            r.raise_for_status()
            self.headers[who] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        self.base = await self.quiet_figures()

    # -- load ---------------------------------------------------------------------------------
    async def report(self) -> None:
        i = next(self._spots)
        body = {"category": ["neighbour", "labour", "urban"][i % 3], "grid": self.grids[i % len(self.grids)],
                "title": self.marker, "description": f"第{i}号上报：楼道堆物，邻里争执。", "people_involved": 2,
                "location": {"lat": 22.5 + (i % 100) * 0.01, "lon": 113.0 + (i // 100) * 0.01}}
        try:
            r = await self.client.post("/api/v1/cases/grid-events", json=body, headers=self.headers["grid01"])
        except httpx.HTTPError as exc:
            self.refused[type(exc).__name__] += 1
            return
        if r.status_code == 201:
            self.accepted.append(r.json()["id"])
        else:
            self.refused[r.status_code] += 1

    async def _reports(self) -> None:
        while not self._stop.is_set():
            await asyncio.gather(*(self.report() for _ in range(4)))
            await asyncio.sleep(0.2)

    async def _referrals(self) -> None:
        """The centre transfers every neighbour/labour dispute to mediation once dispatch has it."""
        seen = 0
        while not self._stop.is_set():
            for cid in self.accepted[seen:]:
                if self._stop.is_set():
                    return
                seen += 1
                try:
                    case = await self.client.get(f"/api/v1/cases/{cid}", headers=self.headers["dispatcher"])
                    if case.status_code != 200 or case.json()["category"] not in ("neighbour", "labour"):
                        continue
                    # dispatch learns of the case from the event stream: wait until it has it
                    for _ in range(100):
                        r = await self.client.post(f"/api/v1/dispatch/cases/{cid}/mediation",
                                                   json={"category": case.json()["category"]},
                                                   headers=self.headers["dispatcher"])
                        if r.status_code != 404:
                            break
                        await asyncio.sleep(0.1)
                except httpx.HTTPError as exc:
                    self.refer_refused[type(exc).__name__] += 1
                    continue
                if r.status_code == 201:
                    self.referred[cid] = r.json()["referral_id"]
                else:
                    self.refer_refused[r.status_code] += 1
            await asyncio.sleep(0.2)

    def start(self, referrals: bool = False) -> None:
        self._tasks.append(asyncio.create_task(self._reports()))
        if referrals:
            self._tasks.append(asyncio.create_task(self._referrals()))

    async def until(self, n: int, timeout: float = 60) -> None:
        await eventually(lambda: len(self.accepted) >= n, timeout=timeout)

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    # -- reading the system back -----------------------------------------------------------------
    def _log_size(self, name: str) -> int:
        f = self.stack.logs / f"{name}.log"
        return f.stat().st_size if f.exists() else 0

    def dead_letters(self) -> list[dict]:
        """Events the services dead-lettered since the scenario began (the load has no bad message)."""
        out = []
        for name, at in self._log_at.items():
            f = self.stack.logs / f"{name}.log"
            if not f.exists():
                continue
            with f.open("rb") as fh:
                fh.seek(at)
                for line in fh.read().decode(errors="replace").splitlines():
                    if '"message dead-lettered"' in line:
                        with contextlib.suppress(ValueError):
                            out.append({"service": name, **json.loads(line)})
        return out

    async def get(self, path: str, who: str = "dispatcher", **params):
        async with self._reads:
            r = await self.client.get(path, params=params, headers=self.headers[who])
        r.raise_for_status()
        return r.json()

    async def figures(self) -> Figures:
        cases = await self.get("/api/v1/cases", limit=1)
        s = await self.get("/api/v1/analytics/summary", who="leader")
        m = await self.get("/api/v1/analytics/mediation", who="leader")
        return Figures(cases["total"], s["total"], s["orders"], m["referred"])

    async def quiet_figures(self, timeout: float = SETTLE) -> Figures:
        """The baseline: once analytics has counted every case intake has (the demo data's included: a
        freshly started stack is still counting them) and the figures stay still for three readings."""
        deadline = time.monotonic() + timeout

        async def read() -> Figures | None:  # a stack just started may answer 503 for a moment
            try:
                return await self.figures()
            except (httpx.TransportError, httpx.HTTPStatusError) as exc:
                if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code < 500:
                    raise
                return None

        last, still = await read(), 0
        while True:
            await asyncio.sleep(1.5)
            now = await read()
            still = still + 1 if now is not None and now == last and now.a_cases == now.cases else 0
            if still >= 3:
                return now
            assert time.monotonic() < deadline, f"{self.name}: figures still moving after {timeout}s: {now}"
            last = now

    async def orders_of(self, case_id: str) -> list[dict]:
        return await self.get("/api/v1/orders", case_id=case_id, limit=100)

    async def ours(self) -> list[str]:
        """Ids of the cases at intake carrying this scenario's marker."""
        out, offset = [], 0
        while True:
            page = (await self.get("/api/v1/cases", limit=500, offset=offset, channel="grid_app"))["items"]
            if not page:
                return out
            out += [x["id"] for x in page if x["summary"] == self.marker]
            offset += len(page)

    async def settle(self, t_fault: float, chaos_results: list[dict], notes: str = "",
                     timeout: float = SETTLE, injected: dict[tuple[str, int, int], str] | None = None) -> dict:
        """Wait (bounded) until every case is dispatched and analytics has caught up, then count.
        ``injected``: bad records the scenario put on the topics itself, by (topic, partition, offset):
        dead-lettering exactly those is expected; any other dead letter is a problem."""
        assert self.base is not None
        await asyncio.to_thread(self.stack.wait_ready, SETTLE)
        ours = await self.ours()
        pending = set(ours)
        deadline = time.monotonic() + timeout
        orders_of: dict[str, list[dict]] = {}

        async def dispatched() -> bool:
            ids = list(pending)
            got = await asyncio.gather(*(self.orders_of(cid) for cid in ids))
            for cid, orders in zip(ids, got, strict=True):
                if orders:
                    orders_of[cid] = orders  # a case's orders are created together, when dispatch routes it
                    pending.discard(cid)
            return not pending

        await until(dispatched, lambda: len(pending), deadline)
        n_orders = sum(len(o) for o in orders_of.values())
        seen: list[Figures] = []

        async def analytics_caught_up() -> bool:
            f = await self.figures()
            seen[:] = [f]
            return (f.a_cases - self.base.a_cases == len(ours) and f.a_orders - self.base.a_orders == n_orders
                    and f.a_referred - self.base.a_referred == len(self.referred))

        await until(analytics_caught_up, lambda: seen[0] if seen else None, deadline, interval=0.5)

        async def mediations(cid: str) -> list[dict]:
            return [m for m in await self.get("/api/v1/mediation/mediations", case_id=cid) if m["source"] == "referral"]

        # every referral has its mediation: the mediation consumer may start late (a kill -9'd member holds
        # its partitions until its session times out, and the new one joins after)
        unmediated = set(self.referred)

        async def mediated() -> bool:
            ids = list(unmediated)
            for cid, meds in zip(ids, await asyncio.gather(*(mediations(cid) for cid in ids)), strict=True):
                if meds:
                    unmediated.discard(cid)
            return not unmediated

        await until(mediated, lambda: len(unmediated), deadline)
        recovery = time.monotonic() - t_fault
        await asyncio.sleep(2)  # give a late duplicate the chance to show up

        lost = duplicated = missing_cases = 0
        problems: list[str] = []
        orders_of = dict(zip(ours, await asyncio.gather(*(self.orders_of(cid) for cid in ours)), strict=True))
        for cid in self.accepted:
            orders = orders_of.get(cid, [])
            if cid not in orders_of:
                missing_cases += 1
                lost += 1
                problems.append(f"case {cid}: answered 201, not at intake")
            elif not orders:
                lost += 1
                problems.append(f"case {cid}: no order")
        for orders in orders_of.values():
            keys = Counter((o["department"], o["role"]) for o in orders if not o.get("reroute_of"))
            duplicated += sum(n - 1 for n in keys.values())
        referred = list(self.referred)
        for cid, meds in zip(referred, await asyncio.gather(*(mediations(cid) for cid in referred)), strict=True):
            if not meds:
                lost += 1
                problems.append(f"referral of {cid}: no mediation")
            duplicated += max(0, len(meds) - 1)
        # the read model against the cases: exactly the new cases, orders and referrals
        n_orders = sum(len(o) for o in orders_of.values())
        f = await self.figures()
        expect = {"cases": (f.a_cases - self.base.a_cases, len(ours)),
                  "orders": (f.a_orders - self.base.a_orders, n_orders),
                  "referrals": (f.a_referred - self.base.a_referred, len(self.referred))}
        for what, (counted, real) in expect.items():
            if counted < real:
                lost += real - counted
                problems.append(f"analytics counts {counted} new {what}, there are {real}")
            elif counted > real:
                duplicated += counted - real
                problems.append(f"analytics counts {counted} new {what}, there are {real}")
        # the load has no bad message: a dead-lettered event is a good one whose effect is missing until
        # someone replays it (not added to `lost`: one whose processed-mark did not commit is redone)
        injected = injected or {}
        dlq, junk = [], 0
        for d in self.dead_letters():
            if (d.get("topic"), d.get("partition"), d.get("offset")) in injected:
                junk += 1
            else:
                dlq.append(d)
        problems += [f"{d['service']} dead-lettered a {d.get('topic')} event: {d.get('error')}" for d in dlq]
        new_cases = f.cases - self.base.cases
        if new_cases != len(ours):
            problems.append(f"intake has {new_cases} new cases, {len(ours)} of them marked")

        extra = len(ours) - len(self.accepted)
        cut = sum(n for k, n in self.refused.items() if not isinstance(k, int) or k >= 500)
        row = {"scenario": self.name, "events": len(self.accepted), "lost": lost, "duplicated": duplicated,
               "recovery_s": recovery, "cases": len(ours), "orders": n_orders,
               "notes": "; ".join(x for x in (
                   f"refused or cut: {dict(self.refused)}",
                   f"{extra} cases committed whose 201 was cut",
                   f"analytics: +{len(ours)} cases, +{n_orders} orders" + (
                       f", +{len(self.referred)} referrals" if self.referred else ""),
                   f"{len(dlq)} good events dead-lettered" if dlq else "",
                   f"{junk} dead letters of the {len(injected)} injected records" if injected else "",
                   notes) if x)}
        chaos_results.append(row)
        assert not problems, problems[:20]
        assert lost == 0 and duplicated == 0, row
        assert 0 <= extra <= cut, (len(ours), len(self.accepted), dict(self.refused))
        return row


@pytest.fixture
async def traffic(chaos_stack):
    clients: list[httpx.AsyncClient] = []
    runs: list[Traffic] = []

    async def make(name: str) -> Traffic:
        c = httpx.AsyncClient(base_url=chaos_stack.gateway_url, timeout=30)
        clients.append(c)
        t = Traffic(chaos_stack, c, name)
        runs.append(t)
        await t.login()
        return t

    yield make
    for t in runs:
        t._stop.set()
        for task in t._tasks:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
    for c in clients:
        await c.aclose()


async def test_kill9_dispatch_then_intake_under_load(chaos_stack, traffic, chaos_results):
    t = await traffic("stack: kill -9 dispatch, then intake, under load")
    t.start()
    await t.until(40)
    await asyncio.to_thread(chaos_stack.restart_service, "dispatch")  # kill -9 mid-batch, start again
    await t.until(80)
    await asyncio.to_thread(chaos_stack.restart_service, "intake")  # kill -9 with requests in flight
    t_fault = time.monotonic()
    await asyncio.to_thread(chaos_stack.wait_ready, SETTLE, ["intake", "dispatch"])
    await t.until(120)
    await t.stop()
    await t.settle(t_fault, chaos_results)
    assert len(t.accepted) >= 120


async def test_kill9_mediation_under_referrals(chaos_stack, traffic, chaos_results):
    """Dispatch refers disputes to mediation (mediation.referred) while mediation is killed."""
    t = await traffic("stack: kill -9 mediation while cases are referred to it")
    t.start(referrals=True)
    await eventually(lambda: len(t.referred) >= 5, timeout=90)
    await asyncio.to_thread(chaos_stack.restart_service, "mediation")
    t_fault = time.monotonic()
    await asyncio.to_thread(chaos_stack.wait_ready, SETTLE, ["mediation"])
    n = len(t.referred)
    await eventually(lambda: len(t.referred) >= n + 5, timeout=90)
    await t.stop()
    await t.settle(t_fault, chaos_results, notes=f"refusals of referrals: {dict(t.refer_refused)}")
    assert len(t.referred) >= 10


async def test_kill9_analytics_under_load(chaos_stack, traffic, chaos_results):
    t = await traffic("stack: kill -9 analytics under load")
    t.start()
    await t.until(30)
    await asyncio.to_thread(chaos_stack.restart_service, "analytics")  # mid-batch of case/order events
    t_fault = time.monotonic()
    await asyncio.to_thread(chaos_stack.wait_ready, SETTLE, ["analytics"])
    await t.until(len(t.accepted) + 20)
    await t.stop()
    await t.settle(t_fault, chaos_results)


async def test_kill9_gateway_under_load(chaos_stack, traffic, chaos_results):
    """Clients see connection errors while the gateway is down; whatever got a 201 must be there."""
    t = await traffic("stack: kill -9 gateway under load")
    t.start()
    await t.until(30)
    await asyncio.to_thread(chaos_stack.restart_service, "gateway")
    t_fault = time.monotonic()
    await asyncio.to_thread(chaos_stack.wait_ready, SETTLE, ["gateway"])
    back = time.monotonic() - t_fault
    await t.until(len(t.accepted) + 20)
    await t.stop()
    await t.settle(t_fault, chaos_results, notes=f"gateway ready again after {back:.1f}s")
    assert any(not isinstance(k, int) for k in t.refused), "clients saw the gateway go away"


async def test_postgres_restart_under_stack(chaos_stack, traffic, chaos_results):
    """kill -9 the postmaster, start it again on the same port and data dir; services recover alone."""
    pg = chaos_stack.pg
    assert pg is not None, "the chaos stack runs its own embedded PostgreSQL"
    conn = await asyncpg.connect(pg.url("fq_intake", driver="postgresql"))
    try:
        assert await conn.fetchval("SHOW synchronous_commit") == "on"
    finally:
        await conn.close()
    t = await traffic("stack: PostgreSQL kill -9 + restart under load")
    t.start()
    await t.until(30)
    before = len(t.accepted)
    postmaster = psutil.Process(pg.running_pid())
    backends = postmaster.children(recursive=True)
    pg.kill9()
    await asyncio.to_thread(psutil.wait_procs, [postmaster, *backends], 30)  # backends leave with it
    await asyncio.sleep(1)
    await asyncio.to_thread(pg.start)  # crash recovery on the same data dir and port
    t_fault = time.monotonic()
    down = len(t.accepted) - before
    await t.until(len(t.accepted) + 30, timeout=SETTLE)
    await t.stop()
    await t.settle(t_fault, chaos_results, notes=f"{down} accepted while it was down", timeout=60)
    assert t.refused, "the outage was felt by the clients"


# -- events delivered twice, bad records on the real topics ------------------------------------------


def consumed_topics() -> dict[str, set[str]]:
    """Service -> the topics its consumer handles, from the services' own consumer wiring."""
    from fengqiao_analytics.consumers import handlers as analytics_handlers
    from fengqiao_dispatch.consumers import consumer_specs as dispatch_specs
    from fengqiao_intake.consumers import consumer_specs as intake_specs
    from fengqiao_mediation.consumers import consumer_specs as mediation_specs

    def topics(specs) -> set[str]:
        return {t for spec in specs for t in spec.handlers}

    return {"intake": topics(intake_specs(lambda: None)), "dispatch": topics(dispatch_specs(lambda: None, "x")),
            "mediation": topics(mediation_specs(lambda: None)), "analytics": set(analytics_handlers(None))}


_SAMPLE = re.compile(r'^fq_events_consumed_total\{([^}]*)\} ([0-9.e+]+)$', re.M)


async def consumed(client: httpx.AsyncClient, stack, outcome: str) -> dict[tuple[str, str], float]:
    """(service, topic) -> events its consumer counted with ``outcome`` (its own /metrics)."""
    out: dict[tuple[str, str], float] = Counter()
    for name in consumed_topics():
        r = await client.get(f"{stack.url(name)}/metrics")
        r.raise_for_status()
        for labels, value in _SAMPLE.findall(r.text):
            kv = dict(re.findall(r'(\w+)="([^"]*)"', labels))
            if kv.get("outcome") == outcome:
                out[(name, kv["topic"])] += float(value)
    return out


async def test_every_event_delivered_twice_on_the_stack(chaos_stack, traffic, chaos_results):
    """Every event the services emit for the scenario's cases (the reports, the orders, the case and
    order events after them) is read from the broker and produced again, unchanged (value, key, headers,
    partition), while reports flow. Each service must count the copies as duplicates and do nothing."""
    t = await traffic("stack: every event delivered twice")
    watched = [s.topic for s in all_specs() if s.topic.startswith(("grid.event.", "case.", "order."))]
    handles = consumed_topics()
    async with httpx.AsyncClient(timeout=10) as plain:
        dup_before = await consumed(plain, chaos_stack, "duplicate")
        cases: set[str] = set()  # case ids of this scenario's reports, from grid.event.reported
        sent: Counter = Counter()  # topic -> records produced a second time
        p = AIOKafkaProducer(**producer_config(chaos_stack.bootstrap, "chaos-twice"))
        await p.start()
        try:
            async with EventProbe(chaos_stack.bootstrap, watched) as probe:
                done = 0  # probe.events[:done] are handled (produced again, or not ours)
                waiting: list = []  # records of a case whose report the probe has not seen yet
                once: set = set()  # (topic, event id) produced again

                async def again() -> None:
                    nonlocal done, waiting
                    new, done = probe.events[done:], len(probe.events)
                    for m, env in new:
                        if (m.topic == "grid.event.reported" and env is not None
                                and env.data.get("summary") == t.marker):
                            cases.add(env.data["case_id"])
                    todo, waiting = waiting + new, []
                    for m, env in todo:
                        if m.key is None or m.key.decode() not in cases:
                            waiting.append((m, env))
                            continue
                        ident = (m.topic, dict(m.headers).get("ce_id"))
                        if ident in once:  # the probe reads the copies too: never copy a copy
                            continue
                        once.add(ident)
                        await p.send_and_wait(m.topic, value=m.value, key=m.key, partition=m.partition,
                                              headers=list(m.headers))
                        sent[m.topic] += 1

                async def echo() -> None:
                    while True:
                        await again()
                        await asyncio.sleep(0.3)

                echoing = asyncio.create_task(echo())
                try:
                    t.start()
                    await t.until(60)
                    await t.stop()
                    t_fault = time.monotonic()

                    # every accepted report and its orders have come by (and gone out again)
                    async def all_seen() -> bool:
                        ordered = {env.data["case_id"] for m, env in probe.events[:done]
                                   if env is not None and m.topic == "order.dispatched"}
                        return set(t.accepted) <= cases and set(t.accepted) <= ordered

                    await eventually(all_seen, timeout=SETTLE, interval=0.5)
                    await asyncio.sleep(2)  # the case/order events that follow the orders
                finally:
                    echoing.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await echoing
                await again()
        finally:
            await p.stop()
        # every consumer has met every copy of a topic it handles (and counted it a duplicate) before
        # the effects are counted: otherwise a copy still in flight would go unseen
        expect = {(svc, topic): n for svc, topics in handles.items() for topic, n in sent.items() if topic in topics}
        seen: dict = {}

        async def copies_met() -> bool:
            now = await consumed(plain, chaos_stack, "duplicate")
            seen.update({k: now[k] - dup_before.get(k, 0) for k in expect})
            return all(seen[k] >= n for k, n in expect.items())

        try:
            await eventually(copies_met, timeout=SETTLE, interval=1.0)
        except AssertionError as exc:
            short = {f"{s}/{tp}": (seen.get((s, tp)), n) for (s, tp), n in expect.items() if seen.get((s, tp), 0) < n}
            raise AssertionError(f"copies not met as duplicates (seen, sent): {short}") from exc
    row = await t.settle(t_fault, chaos_results,
                         notes=f"{sum(sent.values())} events produced again: {dict(sent)}"
                         + (f"; left alone (not of its cases): {dict(Counter(m.topic for m, _ in waiting))}"
                            if waiting else ""))
    # every report and every order went out twice
    assert sent["grid.event.reported"] == len(cases) == row["cases"] >= 60
    assert sent["order.dispatched"] == row["orders"] >= row["cases"]


def junk_records(marker: str) -> list[tuple[str, bytes, list[tuple[str, bytes]]]]:
    """Bad records for the topics the services consume, each carrying ``marker`` in its value and a
    ``chaos_junk`` header: (topic, value, headers)."""

    def ce(topic: str) -> list[tuple[str, bytes]]:
        return [("ce_specversion", b"1.0"), ("ce_id", str(uuid.uuid4()).encode()), ("ce_source", b"/chaos"),
                ("ce_type", f"cn.fengqiao.{topic}".encode()), ("ce_time", b"2026-01-01T00:00:00Z"),
                ("content-type", b"application/json")]

    out = []
    for topic in ("grid.event.reported", "order.dispatched", "case.reopened"):
        bogus = {"case_id": str(uuid.uuid4()), "case_no": marker, "reason": marker}
        out += [
            (topic, b"\x00\x01 not JSON " + marker.encode(), ce(topic)),
            (topic, json.dumps({"note": marker}).encode(), ce(topic)),  # JSON, not an object of the payload
            (topic, b'["' + marker.encode() + b'"]', ce(topic)),  # JSON, not an object at all
            (topic, json.dumps(bogus).encode(), []),  # no CloudEvents headers
            (topic, json.dumps(bogus).encode(), [h for h in ce(topic) if h[0] != "ce_id"]),
            (topic, json.dumps({**bogus, "case_no": 7}).encode(), ce(topic)),  # fails validation
        ]
    # close to the broker's 1 MiB message limit: valid JSON, invalid payload
    big = {"case_id": str(uuid.uuid4()), "summary": marker, "description": "x" * 900_000}
    out.append(("grid.event.reported", json.dumps(big).encode(), ce("grid.event.reported")))
    return [(topic, value, [*h, ("chaos_junk", f"{marker} #{i}".encode())])
            for i, (topic, value, h) in enumerate(out)]


async def test_malformed_and_oversized_messages_on_the_stack(chaos_stack, traffic, chaos_results):
    """Bad records on the topics the services consume, among the good events, while reports flow: each
    consumer that handles the topic dead-letters every one of them once (to ``<topic>.dlq``), and the
    good events around them take effect exactly once."""
    t = await traffic("stack: malformed + oversized records on the topics")
    marker = f"chaos-junk-{t.tag}"
    junk = junk_records(marker)
    handles = consumed_topics()
    takers = {topic: {svc for svc, topics in handles.items() if topic in topics} for topic, _, _ in junk}
    injected: dict[tuple[str, int, int], str] = {}
    async with EventProbe(chaos_stack.bootstrap, [x for x in all_topics() if x.endswith(".dlq")]) as dlq:
        t.start()
        await t.until(20)
        p = AIOKafkaProducer(**{**producer_config(chaos_stack.bootstrap, "chaos-junk"), "max_request_size": 2**20})
        await p.start()
        try:
            for i, (topic, value, headers) in enumerate(junk):
                meta = await p.send_and_wait(topic, value=value, key=f"chaos-{i}".encode(), headers=headers)
                injected[(topic, meta.partition, meta.offset)] = dict(headers)["chaos_junk"].decode()
                await asyncio.sleep(0.1)
        finally:
            await p.stop()
        await t.until(len(t.accepted) + 40)  # the services go on after the bad records
        await t.stop()
        t_fault = time.monotonic()
        expected = sum(len(takers[topic]) for topic, _, _ in junk)

        def marked() -> list:
            return [(m, dict(m.headers)) for m, _ in dlq.events if marker.encode() in m.value]

        with contextlib.suppress(AssertionError):
            await eventually(lambda: len(marked()) >= expected, timeout=SETTLE, interval=0.5)
        await t.settle(t_fault, chaos_results, injected=injected,
                       notes=f"{len(junk)} bad records injected ({len(junk[-1][1]) // 1000} KB the largest)")
        await asyncio.sleep(1)  # a second copy of a dead letter would come now
    got = marked()
    others = [(m.topic, dict(m.headers).get("dlq_error")) for m, _ in dlq.events if marker.encode() not in m.value]
    assert not others, f"dead-lettered but not injected: {others[:5]}"
    # each bad record dead-lettered by every consumer of its topic (at least once: a bad record carries no
    # event id to mark as processed, so a rebalance mid-scenario may dead-letter it a second time)
    pairs = {(h["chaos_junk"].decode(), h["dlq_consumer"]) for _, h in got}
    per_record = Counter(junk_id for junk_id, _ in pairs)
    want = {dict(h)["chaos_junk"].decode(): len(takers[topic]) for topic, _, h in junk}
    assert dict(per_record) == want, {k: (per_record.get(k), n) for k, n in want.items() if per_record.get(k) != n}
    for m, h in got:
        assert m.topic == h["dlq_origin_topic"].decode() + ".dlq" and h.get("dlq_error"), (m.topic, h)
        assert (h["dlq_origin_topic"].decode(), int(h["dlq_origin_partition"]), int(h["dlq_origin_offset"])) in injected
    assert len(pairs) == expected
