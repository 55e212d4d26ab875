"""Shared pieces of the use-case unit tests: the catalogue, principals, bodies, a fake world."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from fengqiao_common.auth import Principal
from fengqiao_common.jurisdiction import load
from fengqiao_events import new_envelope
from fengqiao_intake.config import Settings
from fengqiao_intake.schemas import DemandIn, GridEventIn, LocationIn, PartyIn
from fengqiao_intake.usecases.cases import report_grid_event, submit_demand
from fengqiao_intake.usecases.common import Context
from intake_fakes import FakeIntakeUoW, FakeStorage


@cache
def settings() -> Settings:
    return Settings(webhook_allowed_hosts="hooks.example.com")


def ctx() -> Context:
    s = settings()
    return Context(load(str(s.jurisdiction_file)), s)


WORKER = Principal(sub="gw-1", name="网格员", roles=["grid_worker"], grids=["WH-01"])
OTHER_WORKER = Principal(sub="gw-2", name="网格员二", roles=["grid_worker"], grids=["WH-02"])
DISPATCHER = Principal(sub="disp-1", name="调度员", roles=["dispatcher"], department="ZZZX")
SYSTEM = Principal(sub="key-yss", kind="api_key", roles=["external_system"], external_system="yue-sheng-shi")
OTHER_SYSTEM = Principal(sub="key-yst", kind="api_key", roles=["external_system"], external_system="yue-shang-tong")
ADMIN = Principal(sub="admin-1", roles=["admin"])

LAT, LON = 22.35, 113.05


def grid_body(**over) -> GridEventIn:
    data = {"category": "neighbour", "grid": "WH-01", "title": "邻里噪音", "description": "楼上夜间装修噪音扰民。",
            "people_involved": 2, "location": LocationIn(lat=LAT, lon=LON, address="外海大道 1 号"),
            "parties": [PartyIn(name="张三丰", phone="13812345678", role="requester")]}
    data.update(over)
    return GridEventIn(**data)


def demand_body(**over) -> DemandIn:
    data = {"category": "labour", "description": "工资纠纷", "location": LocationIn(lat=LAT + 0.2, lon=LON)}
    data.update(over)
    return DemandIn(**data)


def world() -> tuple[FakeIntakeUoW, Context, FakeStorage]:
    return FakeIntakeUoW(), ctx(), FakeStorage()


async def new_case(uow: FakeIntakeUoW, c: Context, principal=WORKER, body=None, **kw) -> dict:
    if principal.has("external_system"):
        result = await submit_demand(uow, principal, body or demand_body(), ctx=c, **kw)
    else:
        result = await report_grid_event(uow, principal, body or grid_body(), ctx=c, **kw)
    return result.item


def envelope(payload, source: str = "/fengqiao/dispatch"):
    return new_envelope(payload, source=source)


def later(uow: FakeIntakeUoW, seconds: float):
    return uow.now() + timedelta(seconds=seconds)
