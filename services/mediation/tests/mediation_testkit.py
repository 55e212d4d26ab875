"""Test helpers: the mediation service and the court simulator, both served over real HTTP (uvicorn on free
ports) against the session's real PostgreSQL and Tansu broker, so the court adapter and the callback
really speak HTTP."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import uvicorn
from fengqiao_devstack.testing import identity_headers
from fengqiao_mediation.config import Settings

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
        return self.app.state.runtime.deps

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


API = "/api/v1/mediation"


def phone() -> str:
    return "13" + "".join(random.choices("0123456789", k=9))


async def open_case(stack, *, outstanding=()) -> dict:
    c = stack.client
    m = await make_mediator(c, name="何惠芳")
    parties = [{"side": "applicant", "name": "冯甲", "phone": phone()},
               {"side": "respondent", "name": "谭乙", "phone": phone()}]
    r = await c.post(f"{API}/bookings", headers=dispatcher(), json={
        "category": "labour", "parties": parties, "mediator_id": m["id"], "starts_at": at(12, 10).isoformat()})
    assert r.status_code == 201, r.text
    b = r.json()
    r = await c.post(f"{API}/mediations/{b['mediation']['id']}/sessions", headers=mediator_h(m["id"]), json={
        "started_at": at(12, 10).isoformat(), "ended_at": at(12, 11).isoformat(), "place": "调解室",
        "attendees": ["冯甲", "谭乙"], "points_agreed": ["双方同意按月结算"], "points_outstanding": list(outstanding)})
    assert r.status_code == 201, r.text
    return {"mid": m["id"], "med": b["mediation"]["id"], "a": b["parties"][0], "b": b["parties"][1],
            "phones": [p["phone"] for p in parties], "sid": r.json()["id"]}


async def sign_image(stack, k: dict, who: str):
    if who == "mediator":
        return await stack.client.post(f"{API}/sessions/{k['sid']}/signatures", headers=mediator_h(k["mid"]),
                                       json={"signer": "mediator", "method": "image", "image_base64": PNG})
    pid = k[who]["id"]
    return await stack.client.post(f"{API}/sessions/{k['sid']}/signatures", headers=party_h(pid),
                                   json={"signer": "party", "party_id": pid, "method": "image", "image_base64": PNG})


async def seal(stack, k: dict) -> dict:
    for who in ("a", "b", "mediator"):
        r = await sign_image(stack, k, who)
        assert r.status_code == 201, r.text
    assert r.json()["status"] == "sealed"
    return r.json()
