"""Who may do what, bad input, conflicts, concurrent sign-for, routing rules as versioned data."""

import asyncio

from dispatch_testkit import ADMIN, DISPATCHER, LEADER, officer, who


async def test_only_the_owning_department_acts_and_transitions_are_validated(dispatch, clock):
    c = dispatch.client
    p = await dispatch.report(category="family", grade="blue")
    [o] = await dispatch.orders_of(p.case_id)
    oid = o["order_id"]
    assert o["department"] == "SFS"
    # another department: 404 on read and act; no identity: 401; the centre cannot act for a department
    assert (await c.get(f"/api/v1/orders/{oid}", headers=officer("PCS"))).status_code == 404
    assert (await c.post(f"/api/v1/orders/{oid}/sign-for", headers=officer("PCS"))).status_code == 404
    assert (await c.post(f"/api/v1/orders/{oid}/sign-for")).status_code == 401
    assert (await c.post(f"/api/v1/orders/{oid}/sign-for", headers=DISPATCHER)).status_code == 403
    # a department's inbox holds only its orders
    r = await c.get("/api/v1/orders", headers=officer("SFS"), params={"status": "dispatched"})
    assert r.status_code == 200 and oid in [x["order_id"] for x in r.json()]
    assert {x["department"] for x in r.json()} == {"SFS"}
    r = await c.get("/api/v1/orders", headers=officer("PCS"))
    assert oid not in [x["order_id"] for x in r.json()]
    # no check-in before sign-for: 409 with the current state, in both languages
    r = await c.post(f"/api/v1/orders/{oid}/check-in", headers=officer("SFS"), json={"location": {"address": "x"}})
    assert r.status_code == 409
    body = r.json()
    assert body["status"] == "dispatched" and body["error"] == "illegal_transition"
    assert body["message_zh"] and body["message_en"]
    # only the centre verifies
    r = await c.post(f"/api/v1/orders/{oid}/verify", headers=officer("SFS"), json={})
    assert r.status_code == 403
    r = await c.post(f"/api/v1/orders/{oid}/verify", headers=DISPATCHER, json={})
    assert r.status_code == 409 and r.json()["status"] == "dispatched"
    # a department system (API key) acts like an officer of its department
    r = await c.post(f"/api/v1/orders/{oid}/sign-for", headers=who("department_system", "SFS", "SFS系统"),
                     json={"officer": "王五"})
    assert r.status_code == 200 and r.json()["signed_by"] == "王五"
    r = await c.get(f"/api/v1/orders/{oid}", headers=officer("SFS"))
    assert r.status_code == 200 and [h["kind"] for h in r.json()["history"]] == ["order.dispatched", "order.signed"]
    assert r.json()["history"][1]["actor"]["role"] == "department_system"


async def test_bad_input_gets_field_level_422(dispatch, clock):
    c = dispatch.client
    p = await dispatch.report(category="family", grade="blue")
    [o] = await dispatch.orders_of(p.case_id)
    oid, h = o["order_id"], officer("SFS")
    await c.post(f"/api/v1/orders/{oid}/sign-for", headers=h)
    for path, body, field in [
        ("check-in", {}, "location"),
        ("check-in", {"location": {}}, "location"),
        ("check-in", {"location": {"lat": 123, "lon": 1}}, "location"),
        ("return", {"reason": ""}, "reason"),
        ("return", {"reason": "   "}, "reason"),
        ("check-in", {"location": {"address": "x"}, "extra": 1}, "extra"),
    ]:
        r = await c.post(f"/api/v1/orders/{oid}/{path}", headers=h, json=body)
        assert r.status_code == 422, (path, body, r.text)
        fields = r.json()["fields"]
        assert field in {f["field"].split(".")[0] for f in fields}, fields
        assert all(f["message_zh"] and f["message_en"] for f in fields)
    r = await c.get(f"/api/v1/orders/{oid}", headers=h)
    assert r.json()["status"] == "signed"  # nothing half-written
    assert (await c.get("/api/v1/orders/does-not-exist", headers=h)).status_code == 404


async def test_concurrent_sign_for_exactly_one_wins(dispatch, clock):
    c = dispatch.client
    async with dispatch.probe() as probe:
        p = await dispatch.report(category="family", grade="blue")
        [o] = await dispatch.orders_of(p.case_id)
        oid = o["order_id"]
        results = await asyncio.gather(*[
            c.post(f"/api/v1/orders/{oid}/sign-for", headers=officer("SFS", f"干部{i}")) for i in range(6)
        ])
        codes = sorted(r.status_code for r in results)
        assert codes == [200] + [409] * 5, [r.text for r in results]
        winner = next(r.json() for r in results if r.status_code == 200)
        assert all(r.json()["status"] == "signed" for r in results if r.status_code == 409)
        await probe.wait_for(lambda e: e.topic == "order.signed" and e.data.get("order_id") == oid)
        await asyncio.sleep(0.5)
        signed = [e for e in probe.envelopes("order.signed") if e.data.get("order_id") == oid]
    assert len(signed) == 1 and signed[0].data["officer"] == winner["signed_by"]
    case = await dispatch.case(p.case_id)
    assert [t["kind"] for t in case["timeline"]].count("order.signed") == 1


async def test_routing_rules_are_validated_versioned_and_recorded_on_orders(dispatch, clock):
    c = dispatch.client
    r = await c.get("/api/v1/dispatch/rules", headers=LEADER)
    assert r.status_code == 200
    ids = {x["rule_id"] for x in r.json()}
    assert "labour-wage-arrears" in ids and "default-health" in ids
    bad = {"rule_id": "bad-rule", "name": "x", "domain": "nope", "lead": "ZZZX", "assist": ["QQQ"], "grades": ["red"]}
    r = await c.post("/api/v1/dispatch/rules", headers=ADMIN, json=bad)
    assert r.status_code == 422
    assert {f["field"] for f in r.json()["fields"]} == {"domain", "lead", "assist.0"}
    r = await c.post("/api/v1/dispatch/rules", headers=ADMIN, json={**bad, "grades": ["purple"]})
    assert r.status_code == 422 and r.json()["fields"][0]["field"].startswith("grades")
    assert (await c.post("/api/v1/dispatch/rules", headers=DISPATCHER, json=bad)).status_code == 403
    rule = {"rule_id": "health-c09-gathering", "name": "金溪社区医疗聚集", "domain": "health", "areas": ["C09"],
            "min_people": 10, "lead": "PCS", "assist": ["GFB"], "priority": 50}
    r = await c.post("/api/v1/dispatch/rules", headers=ADMIN, json=rule)
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1
    assert (await c.post("/api/v1/dispatch/rules", headers=ADMIN, json=rule)).status_code == 409
    # a case matching it gets orders that name rule and version
    p = await dispatch.report(category="health", grade="orange", grid="WH-09", community="C09", people_involved=12)
    orders = await dispatch.orders_of(p.case_id, 2)
    assert {(o["department"], o["rule_id"], o["rule_version"]) for o in orders} == {
        ("PCS", "health-c09-gathering", 1), ("GFB", "health-c09-gathering", 1)}
    # edit: version 2; a stale base version is refused
    edit = {k: v for k, v in rule.items() if k != "rule_id"} | {"lead": "ZZB", "assist": [], "base_version": 1}
    r = await c.put("/api/v1/dispatch/rules/health-c09-gathering", headers=ADMIN, json=edit)
    assert r.status_code == 200 and r.json()["version"] == 2
    r = await c.put("/api/v1/dispatch/rules/health-c09-gathering", headers=ADMIN, json=edit)
    assert r.status_code == 409 and r.json()["current_version"] == 2
    p2 = await dispatch.report(category="health", grade="orange", grid="WH-20", community="C09", people_involved=30)
    [o2] = await dispatch.orders_of(p2.case_id)
    assert (o2["department"], o2["rule_version"]) == ("ZZB", 2)
    r = await c.get("/api/v1/dispatch/rules/health-c09-gathering/versions", headers=DISPATCHER)
    assert [(v["version"], v["lead"]) for v in r.json()] == [(1, "PCS"), (2, "ZZB")]
    r = await c.get("/api/v1/dispatch/rules/health-c09-gathering", headers=DISPATCHER, params={"version": 1})
    assert r.json()["lead"] == "PCS"
    # retire it: the domain default applies again
    r = await c.delete("/api/v1/dispatch/rules/health-c09-gathering", headers=ADMIN)
    assert r.status_code == 200 and r.json()["deleted"] and r.json()["version"] == 3
    p3 = await dispatch.report(category="health", grade="orange", grid="WH-20", community="C09", people_involved=30)
    orders3 = await dispatch.orders_of(p3.case_id, 2)
    assert {o["rule_id"] for o in orders3} == {"default-health"}
    assert (await c.delete("/api/v1/dispatch/rules/health-c09-gathering", headers=ADMIN)).status_code == 404


async def test_transfer_to_mediation_and_its_confirmation_close_the_case(dispatch, clock):
    from datetime import UTC, datetime

    from fengqiao_devstack.testing import publish
    from fengqiao_events import new_envelope
    from fengqiao_events.payloads.mediation import MediationConfirmed

    c = dispatch.client
    async with dispatch.probe() as probe:
        p = await dispatch.report(category="family", grade="blue")
        [o] = await dispatch.orders_of(p.case_id)
        r = await c.post(f"/api/v1/dispatch/cases/{p.case_id}/mediation", headers=DISPATCHER, json={"category": "x"})
        assert r.status_code == 422 and r.json()["fields"][0]["field"] == "category"
        r = await c.post(f"/api/v1/dispatch/cases/{p.case_id}/mediation", headers=DISPATCHER, json={})
        assert r.status_code == 201, r.text
        assert r.json()["category"] == "family"
        [ref] = await probe.wait_for(lambda e: e.type == "cn.fengqiao.mediation.referred" and e.subject == p.case_id)
        assert ref.data["referral_id"] == r.json()["referral_id"]
        await probe.wait_for(lambda e: e.type == "cn.fengqiao.order.cancelled" and e.data["order_id"] == o["order_id"])
        r = await c.post(f"/api/v1/orders/{o['order_id']}/sign-for", headers=officer("SFS"))
        assert r.status_code == 409 and r.json()["status"] == "cancelled"
        confirmed = MediationConfirmed(mediation_id="m-" + p.case_id[:8], case_id=p.case_id, category="family",
                                       at=datetime.now(UTC), application_id="a1", court="QFY", ruling_no="(2026)粤0704民特1号")
        await publish(dispatch.settings.kafka_bootstrap_servers, new_envelope(confirmed, source="/fengqiao/mediation"))
        await dispatch.wait_case(p.case_id, lambda x: x["status"] == "closed")
        await probe.wait_for(lambda e: e.type == "cn.fengqiao.case.closed" and e.subject == p.case_id)


async def test_hostile_input_is_a_4xx_never_a_500(dispatch, clock):
    c = dispatch.client
    p = await dispatch.report(category="family", grade="blue")
    [o] = await dispatch.orders_of(p.case_id)
    oid, h = o["order_id"], officer("SFS")
    await c.post(f"/api/v1/orders/{oid}/sign-for", headers=h)
    calls = [
        ("post", f"/api/v1/orders/{oid}/return", h, {"reason": "含\x00空字符"}),
        ("post", f"/api/v1/orders/{oid}/check-in", h, {"location": {"address": "\x00"}}),
        ("post", f"/api/v1/orders/{oid}/check-in", h, {"location": {"lat": "NaN", "lon": 1}}),
        ("post", f"/api/v1/orders/{oid}/progress", h, {"note": "ok", "attachments": ["x" * 600]}),
        ("post", "/api/v1/orders/a%00b/sign-for", h, {}),
        ("get", "/api/v1/orders", h, {"status": "nonsense"}),
        ("get", "/api/v1/orders", h, {"case_id": "a\x00b"}),
        ("get", "/api/v1/orders", h, {"offset": 10**20}),
        ("get", "/api/v1/dispatch/rules/default-family", DISPATCHER, {"version": 2**40}),
        ("get", "/api/v1/dispatch/cases/a%00b", DISPATCHER, None),
        ("post", "/api/v1/dispatch/rules", ADMIN, {"name": "\x00", "domain": "labour", "lead": "RSS"}),
        ("post", "/api/v1/dispatch/rules", ADMIN, {"name": "x", "domain": "labour", "lead": "RSS", "areas": ["a" * 100]}),
        ("put", "/api/v1/dispatch/rules/nope-rule", ADMIN, {"name": "x", "domain": "labour", "lead": "RSS"}),
        ("post", f"/api/v1/dispatch/cases/{p.case_id}/orders", DISPATCHER, {"lead": "PCS"}),
    ]
    for method, url, headers, payload in calls:
        if method == "get":
            r = await c.get(url, headers=headers, params=payload)
        else:
            r = await c.request(method.upper(), url, headers=headers, json=payload)
        assert 400 <= r.status_code < 500, (method, url, payload, r.status_code, r.text)
        assert r.json()["message_zh"] and r.json()["message_en"]
    r = await c.get(f"/api/v1/orders/{oid}", headers=h)
    assert r.json()["status"] == "signed"
