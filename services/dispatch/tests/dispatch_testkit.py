"""Test kit: the dispatch app on a real PostgreSQL and the real broker, with a manual clock."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime

import httpx
from asgi_lifespan import LifespanManager
from fengqiao_common.clock import ManualClock
from fengqiao_devstack.testing import eventually, identity_headers, publish
from fengqiao_dispatch.config import Settings
from fengqiao_dispatch.main import create_app
from fengqiao_events import new_envelope
from fengqiao_events.payloads.case import GridEventReported

# Monday 2026-09-28, 10:00 Beijing time: a week before the National Day holiday.
BASE = datetime(2026, 9, 28, 2, 0, tzinfo=UTC)


def grid_event(**kw) -> GridEventReported:
    case_id = kw.pop("case_id", None) or str(uuid.uuid4())
    values = dict(
        case_id=case_id, case_no=f"WH-{case_id[:8]}", channel="grid_app", category="neighbour", grade="blue",
        grid="WH-01", community="C01", street="WH", district="JH", summary="邻里噪音", description="楼上装修噪音扰民",
        people_involved=2, keywords=[], reported_at=datetime.now(UTC),
    )
    values.update(kw)
    return GridEventReported(**values)


def env_of(payload):
    return new_envelope(payload, source="/fengqiao/intake")


def who(role: str, department: str | None = None, name: str | None = None) -> dict[str, str]:
    return identity_headers(roles=[role], department=department, name=name)


DISPATCHER = who("dispatcher", "ZZZX", "中心调度员")
LEADER = who("leader", name="街道领导")
ADMIN = who("admin", name="管理员")


def officer(dept: str, name: str = "张警官") -> dict[str, str]:
    return who("department_officer", dept, name)


@contextlib.asynccontextmanager
async def shared(probe):
    """The session's probe (it reads every dispatch topic from the session's start)."""
    yield probe


class Dispatch:
    """A running dispatch app with its client and clock."""

    events = None  # the session's EventProbe, set by the fixture

    def __init__(self, app, client: httpx.AsyncClient, clock: ManualClock, settings: Settings):
        self.app, self.client, self.clock, self.settings = app, client, clock, settings

    def probe(self):
        assert self.events is not None
        return shared(self.events)

    @property
    def rt(self):
        return self.app.state.runtime

    async def report(self, **kw) -> GridEventReported:
        p = grid_event(**kw)
        await publish(self.settings.kafka_bootstrap_servers, env_of(p))
        return p

    async def case(self, case_id: str) -> dict:
        r = await self.client.get(f"/api/v1/dispatch/cases/{case_id}", headers=DISPATCHER)
        assert r.status_code == 200, r.text
        return r.json()

    async def wait_case(self, case_id: str, predicate, within: float = 20.0) -> dict:
        async def check():
            r = await self.client.get(f"/api/v1/dispatch/cases/{case_id}", headers=DISPATCHER)
            if r.status_code == 200 and predicate(r.json()):
                return r.json()
            return None

        return await eventually(check, timeout=within)

    async def orders_of(self, case_id: str, n: int = 1) -> list[dict]:
        case = await self.wait_case(case_id, lambda c: len(c["orders"]) >= n)
        return case["orders"]


@contextlib.asynccontextmanager
async def running_dispatch(settings: Settings, clock: ManualClock):
    app = create_app(settings)
    app.state.runtime.clock = clock  # read when the service's deps are built at start-up
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://dispatch"
    ) as client:
        rt = app.state.runtime
        for c in rt.consumers:
            await eventually(lambda c=c: c.ready.is_set(), timeout=30)
        yield Dispatch(app, client, clock, settings)


