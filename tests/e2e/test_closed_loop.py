"""The closed loop across every service, through the gateway and Kafka:

a grid worker reports a wage dispute -> dispatch routes it (the district court and the district HR &
social-security bureau on site) -> each department's own Kafka consumer receives its order ->
departments sign for, check in, resolve (one through an officer login, one through its system's API
key) -> the centre verifies -> the case is closed at intake, with its timeline -> analytics counts it.
"""

import asyncio
import uuid

import httpx
import pytest
from e2e_api import Api
from fengqiao_devstack.testing import EventProbe, eventually

pytestmark = pytest.mark.slow


async def test_wage_dispute_closed_loop(stack):
    api = Api(stack)
    marker = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(timeout=30) as c, EventProbe(
        stack.bootstrap, ["order.dispatched", "department.checked-in"]
    ) as departments:
        grid_worker = api.user("grid01")
        h = await api.login(c, "grid01")
        r = await c.post(f"{api.base}/api/v1/cases/grid-events", headers={**h, "Idempotency-Key": marker}, json={
            "category": "labour",
            "grid": grid_worker["grids"][0],
            "description": f"工厂门口三十多名工人聚集讨要欠薪 {marker}",
            "people_involved": 30,
            "location": {"lat": 22.59571, "lon": 113.10318, "address": "外海街道某工业区大门"},
            "parties": [{"name": "张三", "phone": "13800138000", "role": "requester"}],
        })
        assert r.status_code == 201, r.text
        case = r.json()
        case_id = case["id"]
        assert case["grade"] in ("red", "orange")
        assert case["case_no"].startswith("WH-")

        # each department's own consumer filters its orders on the ce_department header
        orders = await departments.wait_for(
            lambda e: e.type == "cn.fengqiao.order.dispatched" and e.subject == case_id, count=2, timeout=30)
        by_dept = {e.extensions["department"]: e.data for e in orders}
        assert {"QFY", "QRSJ"} <= set(by_dept), by_dept.keys()

        officer = await api.login(c, "officer.qfy")
        dept_key = api.key_headers("QRSJ")
        actors = {"QFY": officer, "QRSJ": dept_key}
        for dept, headers in actors.items():
            oid = by_dept[dept]["order_id"]
            for step, body in (("sign-for", {}),
                               ("check-in", {"location": {"lat": 22.5957, "lon": 113.1032, "address": "工业区大门"}}),
                               ("resolve", {"result": "已协调支付拖欠工资"})):
                r = await c.post(f"{api.base}/api/v1/orders/{oid}/{step}", headers=headers, json=body)
                assert r.status_code == 200, (dept, step, r.text)
        # another department cannot see these orders
        other = await api.login(c, "officer.pcs")
        r = await c.get(f"{api.base}/api/v1/orders/{by_dept['QFY']['order_id']}", headers=other)
        assert r.status_code == 404

        await departments.wait_for(
            lambda e: e.type == "cn.fengqiao.department.checked-in" and e.subject == case_id, count=2, timeout=30)

        centre = await api.login(c, "dispatcher")
        for dept in actors:
            r = await c.post(f"{api.base}/api/v1/orders/{by_dept[dept]['order_id']}/verify", headers=centre,
                             json={"accepted": True, "comment": "核实完毕"})
            assert r.status_code == 200, r.text

        async def closed():
            r = await c.get(f"{api.base}/api/v1/cases/{case_id}", headers=centre)
            return r.json() if r.status_code == 200 and r.json()["status"] == "closed" else None

        final = await eventually(closed, timeout=30)
        kinds = " ".join(str(t) for t in final["timeline"])
        for word in ("signed", "checked", "resolved", "closed"):
            assert word in kinds, (word, final["timeline"])
        # personal data is unmasked for the centre, masked for the grid worker
        r = await c.get(f"{api.base}/api/v1/cases/{case_id}", headers=h)
        assert "13800138000" not in r.text

        leader = await api.login(c, "leader")

        async def counted():
            r = await c.get(f"{api.base}/api/v1/analytics/summary", headers=leader)
            return r.status_code == 200 and r.json().get("total", 0) >= 1

        await eventually(counted, timeout=30)
        await asyncio.sleep(0)
