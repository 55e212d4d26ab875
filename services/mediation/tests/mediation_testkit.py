"""Test helpers: the mediation service and the court simulator, both served over real HTTP (uvicorn on free
ports) against the session's real PostgreSQL and Tansu broker, so the court adapter and the callback
really speak HTTP."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import uvicorn

from fengqiao_devstack.postgres import free_port
from fengqiao_devstack.testing import identity_headers
from fengqiao_mediation.config import Settings
from fengqiao_mediation.court_simulator import SimulatorSettings
from fengqiao_mediation.court_simulator import create_app as create_court
from fengqiao_mediation.main import create_app

TZ = ZoneInfo("Asia/Shanghai")
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).decode()
ALL_WEEK = [{"weekday": d, "start": "08:00", "end": "20:00"} for d in range(7)]


@contextlib.asynccontextmanager
async def serve(app, port: int):
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning"))
    task = asyncio.create_task(server.serve())
    for _ in range(600):
        if server.started or task.done():
            break
        await asyncio.sleep(0.05)
    if task.done():
        task.result()
    assert server.started, "server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, 15)


class Stack:
    def __init__(self, app, url: str, court_app, court_url: str, settings: Settings, kafka: str):
        self.app, self.url, self.court_app, self.court_url = app, url, court_app, court_url
        self.settings, self.kafka = settings, kafka
        self.client = httpx.AsyncClient(base_url=url, timeout=30)
        self.court_client = httpx.AsyncClient(base_url=court_url, timeout=30)

    @property
    def deps(self):
        return self.app.state.runtime.state["deps"]

    @property
    def session_factory(self):
        return self.app.state.runtime.session_factory

    def sms(self, phone: str) -> list:
        return [m for m in self.deps.sms.sent if m.phone == phone]

    async def decide(self, external_ref: str, decision: str, reason: str | None = None) -> dict:
        r = await self.court_client.post(f"/api/court/admin/applications/{external_ref}/decide",
                                         json={"decision": decision, "reason": reason},
                                         headers={"X-Court-Admin-Token": "dev-only-court-admin-token"})
        assert r.status_code == 200, r.text
        return r.json()


def admin() -> dict:
    return identity_headers(roles=["admin"], name="管理员")


def dispatcher() -> dict:
    return identity_headers(roles=["dispatcher"], name="综治中心值班员", department="ZZZX")


def mediator_h(mediator_id: str) -> dict:
    return identity_headers(roles=["mediator"], mediator_id=mediator_id, sub=f"user-{mediator_id}")


def party_h(party_id: str) -> dict:
    return identity_headers(roles=["party"], party_id=party_id, sub=f"party-{party_id}")


def uid(prefix: str = "T") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def at(days: int, hour: int, minute: int = 0) -> datetime:
    """A local (Asia/Shanghai) time ``days`` from today."""
    d = (datetime.now(TZ) + timedelta(days=days)).date()
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=TZ)


async def make_mediator(client: httpx.AsyncClient, **kw) -> dict:
    body = {"id": uid("M"), "name": "测试调解员", "kind": "public_official", "gender": "female",
            "categories": ["labour"], "dialects": ["普通话", "粤语"], "capacity": 5, "weekly": ALL_WEEK}
    body.update(kw)
    r = await client.post("/api/v1/mediation/mediators", json=body, headers=admin())
    assert r.status_code == 201, r.text
    return r.json()
