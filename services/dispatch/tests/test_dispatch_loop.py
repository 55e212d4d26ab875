"""The closed loop, single department: grid report -> order -> sign for -> on site -> resolve -> verify -> closed."""

from datetime import datetime, timedelta

from dispatch_testkit import DISPATCHER, officer


async def test_single_department_loop_closes_case(dispatch, clock):
    c = dispatch.client
    async with dispatch.probe() as probe:
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


async def test_joint_wage_dispute_district_court_and_hr_bureau_close_together(dispatch, clock):
    c = dispatch.client
    async with dispatch.probe() as probe:
        p = await dispatch.report(category="labour", grade="red", people_involved=60, grid="WH-03", community="C03",
                                  summary="厂门口劳资纠纷", description="大型企业与劳务公司欠薪纠纷，工人聚集",
                                  keywords=["欠薪"])
        orders = await dispatch.orders_of(p.case_id, 2)
        by_dept = {o["department"]: o for o in orders}
        assert set(by_dept) == {"QRSJ", "QFY"}
        assert by_dept["QRSJ"]["role"] == "lead" and by_dept["QFY"]["role"] == "assist"
        assert all(o["level"] == "district" and o["on_site_required"] for o in orders)
        assert all(o["rule_id"] == "labour-wage-arrears" and o["rule_version"] == 1 for o in orders)
        # red: sign for in 15 min, on site in 30 min, resolve in 24 h from the case's clock start
        o = by_dept["QRSJ"]
        assert o["sign_for_by"].startswith("2026-09-28T02:15") and o["on_site_by"].startswith("2026-09-28T02:30")
        assert o["resolve_by"].startswith("2026-09-29T02:00")
        for dept, oid in ((d, x["order_id"]) for d, x in by_dept.items()):
            h = officer(dept, f"{dept}干部")
            assert (await c.post(f"/api/v1/orders/{oid}/sign-for", headers=h)).status_code == 200
            r = await c.post(f"/api/v1/orders/{oid}/check-in", headers=h, json={"location": {"address": "厂门口"}})
            assert r.status_code == 200, r.text
        # the lead resolves first: not yet resolved, the assisting court is still working
        r = await c.post(f"/api/v1/orders/{by_dept['QRSJ']['order_id']}/resolve", headers=officer("QRSJ"),
                         json={"result": "督促企业支付工资"})
        assert r.status_code == 200, r.text
        assert (await dispatch.case(p.case_id))["status"] == "routed"
        r = await c.post(f"/api/v1/orders/{by_dept['QFY']['order_id']}/resolve", headers=officer("QFY"),
                         json={"result": "现场调解，达成协议"})
        assert r.status_code == 200, r.text
        assert (await dispatch.case(p.case_id))["status"] == "resolved"
        await probe.wait_for(lambda e: e.type == "cn.fengqiao.case.resolved" and e.subject == p.case_id)
        r = await c.post(f"/api/v1/orders/{by_dept['QRSJ']['order_id']}/verify", headers=DISPATCHER, json={})
        assert r.status_code == 200
        assert (await dispatch.case(p.case_id))["status"] == "resolved"  # the court's order is not verified yet
        r = await c.post(f"/api/v1/orders/{by_dept['QFY']['order_id']}/verify", headers=DISPATCHER, json={})
        assert r.status_code == 200
        assert (await dispatch.case(p.case_id))["status"] == "closed"
        [closed] = await probe.wait_for(lambda e: e.type == "cn.fengqiao.case.closed" and e.subject == p.case_id)
        assert closed.data["case_id"] == p.case_id and closed.data["case_no"] == p.case_no
        assert len([e for e in probe.envelopes("case.resolved") if e.subject == p.case_id]) == 1


async def test_return_goes_to_the_queue_and_reroute_keeps_the_case_clock(dispatch, clock):
    c = dispatch.client
    p = await dispatch.report(category="urban", grade="orange", grid="WH-07", community="C07")
    orders = await dispatch.orders_of(p.case_id, 2)
    lead = next(o for o in orders if o["role"] == "lead")
    assert lead["department"] == "ZFB"
    clock.advance(timedelta(minutes=20))
    r = await c.post(f"/api/v1/orders/{lead['order_id']}/return", headers=officer("ZFB"),
                     json={"reason": "不属于本部门职责，应由区住建局处理"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "returned"
    case = await dispatch.case(p.case_id)
    assert case["status"] == "queued" and "ZFB" in case["queue_reason"]
    r = await c.get("/api/v1/dispatch/queue", headers=DISPATCHER)
    assert p.case_id in [x["case_id"] for x in r.json()]
    # no action on a returned order
    r = await c.post(f"/api/v1/orders/{lead['order_id']}/sign-for", headers=officer("ZFB"))
    assert r.status_code == 409 and r.json()["status"] == "returned"
    # the dispatcher re-routes: new lead order, same deadlines (the case's clock did not restart)
    r = await c.post(f"/api/v1/dispatch/cases/{p.case_id}/orders", headers=DISPATCHER, json={"lead": "QZJJ"})
    assert r.status_code == 201, r.text
    [new] = r.json()
    assert new["department"] == "QZJJ" and new["reroute_of"] == lead["order_id"] and new["rule_id"] is None
    assert "signed_at" not in new and "result" not in new  # the orders as created, no later steps' fields
    for k in ("sign_for_by", "on_site_by", "resolve_by"):
        assert datetime.fromisoformat(new[k]) == datetime.fromisoformat(lead[k])
    case = await dispatch.case(p.case_id)
    assert case["status"] == "routed"
    kinds = [t["kind"] for t in case["timeline"]]
    assert kinds.count("order.dispatched") == 3 and "order.returned" in kinds and "case.queued" in kinds
    # a second dispatch while routed is refused with the current state
    r = await c.post(f"/api/v1/dispatch/cases/{p.case_id}/orders", headers=DISPATCHER, json={"lead": "ZFB"})
    assert r.status_code == 409 and r.json()["status"] == "routed"


async def test_no_rule_matched_waits_in_the_manual_queue(dispatch, clock):
    c = dispatch.client
    async with dispatch.probe() as probe:
        p = await dispatch.report(category="traffic", grade="yellow")
        await probe.wait_for(lambda e: e.subject == p.case_id and e.data.get("reason") == "no_rule_matched")
    case = await dispatch.wait_case(p.case_id, lambda x: x["status"] == "queued")
    assert case["orders"] == []
    r = await c.post(f"/api/v1/dispatch/cases/{p.case_id}/orders", headers=DISPATCHER,
                     json={"lead": "NOPE", "assist": ["ZZZX"]})
    assert r.status_code == 422
    assert {f["field"] for f in r.json()["fields"]} == {"lead", "assist.0"}
    assert all(f["message_zh"] and f["message_en"] for f in r.json()["fields"])
    r = await c.post(f"/api/v1/dispatch/cases/{p.case_id}/orders", headers=DISPATCHER, json={"assist": ["PCS"]})
    assert r.status_code == 422  # a lead is needed
    r = await c.post(f"/api/v1/dispatch/cases/{p.case_id}/orders", headers=officer("PCS"), json={"lead": "PCS"})
    assert r.status_code == 403
    r = await c.post(f"/api/v1/dispatch/cases/{p.case_id}/orders", headers=DISPATCHER,
                     json={"lead": "PCS", "assist": ["ZZB"], "on_site_required": False})
    assert r.status_code == 201, r.text
    assert [(o["department"], o["role"]) for o in r.json()] == [("PCS", "lead"), ("ZZB", "assist")]
    # without an on-site step the department may resolve right after signing for
    oid = r.json()[0]["order_id"]
    assert (await c.post(f"/api/v1/orders/{oid}/sign-for", headers=officer("PCS"))).status_code == 200
    r = await c.post(f"/api/v1/orders/{oid}/resolve", headers=officer("PCS"), json={"result": "已疏导交通"})
    assert r.status_code == 200, r.text
