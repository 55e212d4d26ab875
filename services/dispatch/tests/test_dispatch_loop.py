"""The closed loop, single department: grid report -> order -> sign for -> on site -> resolve -> verify -> closed."""

from fengqiao_devstack.testing import EventProbe

from dispatch_testkit import DISPATCHER, officer

TOPICS = ["order.dispatched", "order.signed", "department.checked-in", "order.progressed", "order.resolved",
          "order.verified", "case.resolved", "case.closed"]


async def test_single_department_loop_closes_case(dispatch, clock):
    c = dispatch.client
    async with EventProbe(dispatch.settings.kafka_bootstrap_servers, TOPICS) as probe:
        p = await dispatch.report(category="family", grade="blue", grid="WH-05", community="C05")
        [order] = await dispatch.orders_of(p.case_id)
        assert order["department"] == "SFS" and order["role"] == "lead"
        assert order["rule_id"] == "default-family" and order["rule_version"] == 1
        oid = order["order_id"]
        sfs = officer("SFS", "李所长")
        r = await c.post(f"/api/v1/orders/{oid}/sign-for", headers=sfs, json={})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "signed" and r.json()["signed_by"] == "李所长"
        r = await c.post(f"/api/v1/orders/{oid}/check-in", headers=sfs,
                         json={"location": {"lat": 22.59, "lon": 113.12, "address": "麻一村"}})
        assert r.status_code == 200, r.text
        r = await c.post(f"/api/v1/orders/{oid}/progress", headers=sfs, json={"note": "已约谈双方", "attachments": ["a.jpg"]})
        assert r.status_code == 200, r.text
        r = await c.post(f"/api/v1/orders/{oid}/resolve", headers=sfs, json={"result": "达成和解", "evidence": ["b.pdf"]})
        assert r.status_code == 200, r.text
        await dispatch.wait_case(p.case_id, lambda x: x["status"] == "resolved")
        r = await c.post(f"/api/v1/orders/{oid}/verify", headers=DISPATCHER, json={"accepted": True})
        assert r.status_code == 200, r.text
        case = await dispatch.wait_case(p.case_id, lambda x: x["status"] == "closed")
        closed = await probe.wait_for(lambda e: e.type == "cn.fengqiao.case.closed" and e.subject == p.case_id)
        assert closed[0].data["case_id"] == p.case_id
        mine = [e for e in probe.envelopes() if e.subject == p.case_id]
        await probe.wait_for(lambda e: e.subject == p.case_id, count=8)
    kinds = [t["kind"] for t in case["timeline"]]
    assert kinds[:2] == ["case.received", "order.dispatched"]
    for k in ("order.signed", "department.checked-in", "order.progressed", "order.resolved", "order.verified",
              "case.resolved", "case.closed"):
        assert k in kinds
    assert all(t["at"] for t in case["timeline"])
    assert mine
