"""The whole loop across services, in-process, on the real database and broker: a grid worker reports at
intake, dispatch routes it, the department works the order, the centre verifies, and intake shows the
case closed (intake consumes case.closed and the order events)."""

import tempfile
from datetime import UTC, datetime

import httpx
import pytest
from asgi_lifespan import LifespanManager
from dispatch_testkit import DISPATCHER, officer
from fengqiao_devstack.testing import eventually, identity_headers


@pytest.fixture(scope="module")
async def intake(service_settings):
    from fengqiao_intake.config import Settings as IntakeSettings
    from fengqiao_intake.main import create_app

    settings = await service_settings(IntakeSettings, "intake", suffix="dispatch_e2e",
                                      attachment_dir=tempfile.mkdtemp(prefix="fq-dispatch-e2e-"))
    # A consumer group of its own: intake's own tests, later in the same session, then join theirs
    # without waiting for this stopped member to expire.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("fengqiao_intake.consumers.CONSUMER_GROUP", "intake-case-status-dispatch-e2e")
        app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://intake"
    ) as client:
        for c in app.state.runtime.consumers:
            await eventually(lambda c=c: c.ready.is_set(), timeout=30)
        yield client


async def _work(d, order: dict) -> None:
    oid, h = order["order_id"], officer(order["department"], f"{order['department']}干部")
    assert (await d.client.post(f"/api/v1/orders/{oid}/sign-for", headers=h)).status_code == 200
    r = await d.client.post(f"/api/v1/orders/{oid}/check-in", headers=h, json={"location": {"address": "现场"}})
    assert r.status_code == 200, r.text
    r = await d.client.post(f"/api/v1/orders/{oid}/resolve", headers=h, json={"result": "已处置"})
    assert r.status_code == 200, r.text


async def test_grid_reports_to_closed_cases_visible_at_intake_single_and_joint(intake, dispatch):
    d = dispatch
    d.clock.set(datetime.now(UTC))  # intake stamps reports with the real time; dispatch acts after them
    worker = identity_headers(roles=["grid_worker"], grids=["WH-12", "WH-03"], name="网格员")
    r = await intake.post("/api/v1/cases/grid-events", headers=worker, json={
        "category": "family", "grid": "WH-12", "title": "家庭纠纷", "description": "夫妻因赡养老人争吵，邻居报告",
        "people_involved": 3, "location": {"lat": 22.5871, "lon": 113.1032, "address": "外海社区"},
    })
    assert r.status_code == 201, r.text
    single = r.json()
    r = await intake.post("/api/v1/cases/grid-events", headers=worker, json={
        "category": "labour", "grid": "WH-03", "title": "厂门口劳资纠纷",
        "description": "大型企业与劳务公司之间欠薪纠纷，六十多名工人在厂门口聚集讨薪",
        "people_involved": 60, "location": {"lat": 22.5957, "lon": 113.1159, "address": "工业园厂门口"},
    })
    assert r.status_code == 201, r.text
    joint = r.json()

    [order] = await d.orders_of(single["id"])
    assert order["department"] == "SFS" and order["role"] == "lead"
    joint_orders = await d.orders_of(joint["id"], 2)
    assert {(o["department"], o["role"]) for o in joint_orders} == {("QRSJ", "lead"), ("QFY", "assist")}
    for o in [order, *joint_orders]:
        await _work(d, o)
    for o in [order, *joint_orders]:
        r = await d.client.post(f"/api/v1/orders/{o['order_id']}/verify", headers=DISPATCHER, json={})
        assert r.status_code == 200, r.text

    wanted = ("order.dispatched", "order.signed", "department.checked-in", "order.resolved", "case.closed")
    for case in (single, joint):
        # each event type has its own topic, so they reach intake in any order: wait for all of them
        async def closed_at_intake(case=case):
            r = await intake.get(f"/api/v1/cases/{case['id']}", headers=DISPATCHER)
            if r.status_code != 200:
                return None
            body = r.json()
            kinds = {t["kind"] for t in body["timeline"]}
            return body if body["status"] == "closed" and all(k in kinds for k in wanted) else None

        seen = await eventually(closed_at_intake, timeout=30)
        assert seen["status"] == "closed"
