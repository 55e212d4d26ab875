"""Demo data for ``make run`` (INTAKE_DEMO_DATA=true): a few cases, seeded idempotently."""

from __future__ import annotations

import structlog
from fengqiao_common.auth import Principal

from .schemas import DemandIn, GridEventIn, LocationIn, PartyIn, PetitionIn
from .usecases import cases

log = structlog.get_logger("fengqiao.intake.demo")


async def seed(d) -> None:
    j = d.jurisdiction
    g1, g2 = j.grids[0], j.grids[min(12, len(j.grids) - 1)]
    worker = Principal(sub="demo-grid-worker", name="网格员（演示）", roles=["grid_worker"], grids=[g1.code, g2.code])
    staff = Principal(sub="demo-dispatcher", name="综治中心（演示）", roles=["dispatcher"], department=j.centre.code)
    system = j.external_systems[0].code if j.external_systems else "demo-system"
    ext = Principal(sub=f"demo-{system}", kind="api_key", roles=["external_system"], external_system=system)
    items = [
        (worker, "grid", GridEventIn(
            category="labour", grid=g1.code, title="工厂门口欠薪纠纷",
            description="某公司与劳务公司在厂门口发生工资纠纷，约 30 名工人聚集讨薪。", people_involved=30,
            location=LocationIn(lat=g1.centroid.lat, lon=g1.centroid.lon, address="外海大道工厂门口"),
            parties=[PartyIn(name="王建国", phone="13800138000", role="requester")])),
        (worker, "grid", GridEventIn(
            category="neighbour", grid=g2.code, title="楼上漏水邻里纠纷",
            description="楼上住户装修导致楼下漏水，双方协商未果。", people_involved=2,
            location=LocationIn(lat=g2.centroid.lat, lon=g2.centroid.lon))),
        (staff, "petition", PetitionIn(
            category="family", channel="visit", description="来访群众反映家庭赡养纠纷，请求调解。",
            requester=PartyIn(name="李秀英", phone="13900139000"))),
        (ext, "demand", DemandIn(
            category="urban", description="小区门口垃圾堆放多日无人清理。", external_ref="DEMO-0001",
            location=LocationIn(lat=g1.centroid.lat + 0.001, lon=g1.centroid.lon, address="外海社区东门"))),
    ]
    created = 0
    for i, (principal, kind, body) in enumerate(items):
        key = f"demo-seed-{i}"
        use = {"grid": cases.report_grid_event, "petition": cases.register_petition,
               "demand": cases.submit_demand}[kind]
        result = await use(d.case_uow(), principal, body, ctx=d.ctx, idempotency_key=key)
        created += int(result.created)
    log.info("demo cases seeded", created=created, total=len(items))
