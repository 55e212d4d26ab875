"""Other services' events on a case: reopened (re-routed with a fresh clock), merged (orders withdrawn),
mediation failed (back to the queue); and the centre rejecting a result."""

from datetime import UTC, datetime, timedelta

from dispatch_testkit import DISPATCHER, officer
from fengqiao_devstack.testing import publish
from fengqiao_events import new_envelope
from fengqiao_events.payloads.case import CaseMerged, CaseReopened
from fengqiao_events.payloads.common import Actor
from fengqiao_events.payloads.mediation import MediationFailed

STAFF = Actor(id="u1", name="调度员", role="dispatcher")


async def _close(d, order: dict) -> None:
    oid, h = order["order_id"], officer(order["department"])
    for path, body in (("sign-for", {}), ("check-in", {"location": {"address": "x"}}), ("resolve", {"result": "ok"})):
        r = await d.client.post(f"/api/v1/orders/{oid}/{path}", headers=h, json=body)
        assert r.status_code == 200, r.text
    r = await d.client.post(f"/api/v1/orders/{oid}/verify", headers=DISPATCHER, json={})
    assert r.status_code == 200, r.text


async def test_rejected_result_goes_back_to_the_department(dispatch, clock):
    p = await dispatch.report(category="family", grade="blue")
    [o] = await dispatch.orders_of(p.case_id)
    oid, h = o["order_id"], officer("SFS")
    for path, body in (("sign-for", {}), ("check-in", {"location": {"address": "x"}}), ("resolve", {"result": "ok"})):
        assert (await dispatch.client.post(f"/api/v1/orders/{oid}/{path}", headers=h, json=body)).status_code == 200
    assert (await dispatch.case(p.case_id))["status"] == "resolved"
    r = await dispatch.client.post(f"/api/v1/orders/{oid}/verify", headers=DISPATCHER,
                                   json={"accepted": False, "comment": "群众不满意，继续处理"})
    assert r.status_code == 200 and r.json()["status"] == "in_progress"
    assert (await dispatch.case(p.case_id))["status"] == "routed"
    r = await dispatch.client.post(f"/api/v1/orders/{oid}/resolve", headers=h, json={"result": "再次调解，已和好"})
    assert r.status_code == 200
    assert (await dispatch.client.post(f"/api/v1/orders/{oid}/verify", headers=DISPATCHER, json={})).status_code == 200
    assert (await dispatch.case(p.case_id))["status"] == "closed"
    # nothing more happens on a closed order
    r = await dispatch.client.post(f"/api/v1/orders/{oid}/progress", headers=h, json={"note": "补充"})
    assert r.status_code == 409 and r.json()["status"] == "verified"


async def test_reopened_case_is_routed_again_with_a_fresh_clock(dispatch, clock):
    bootstrap = dispatch.settings.kafka_bootstrap_servers
    p = await dispatch.report(category="family", grade="blue")
    [o] = await dispatch.orders_of(p.case_id)
    await _close(dispatch, o)
    clock.advance(timedelta(days=3))
    await publish(bootstrap, new_envelope(CaseReopened(case_id=p.case_id, case_no=p.case_no, reason="回访不满意",
                                                       by=STAFF, at=datetime.now(UTC)), source="/fengqiao/intake"))
    case = await dispatch.wait_case(p.case_id, lambda c: len(c["orders"]) == 2)
    new = next(x for x in case["orders"] if x["order_id"] != o["order_id"])
    assert case["status"] == "routed" and new["status"] == "dispatched" and new["department"] == "SFS"
    assert datetime.fromisoformat(new["clock_started_at"]) == clock.now()
    assert "case.reopened" in [t["kind"] for t in case["timeline"]]


async def test_merged_case_withdraws_its_orders_and_failed_mediation_requeues(dispatch, clock):
    bootstrap = dispatch.settings.kafka_bootstrap_servers
    async with dispatch.probe() as probe:
        dup = await dispatch.report(category="neighbour", grade="blue")
        orders = await dispatch.orders_of(dup.case_id, 2)
        await publish(bootstrap, new_envelope(CaseMerged(case_id=dup.case_id, case_no=dup.case_no, into_case_id="x",
                                                         into_case_no="WH-X", by=STAFF, at=datetime.now(UTC)),
                                              source="/fengqiao/intake"))
        case = await dispatch.wait_case(dup.case_id, lambda c: c["status"] == "merged")
        assert {x["status"] for x in case["orders"]} == {"cancelled"}
        await probe.wait_for(lambda e: e.topic == "order.cancelled" and e.subject == dup.case_id, count=len(orders))
        assert all(e.extensions["department"] in {x["department"] for x in orders}
                   for e in probe.envelopes("order.cancelled") if e.subject == dup.case_id)
        # mediation failed: the case waits for the dispatcher again
        p = await dispatch.report(category="family", grade="blue")
        await dispatch.orders_of(p.case_id)
        r = await dispatch.client.post(f"/api/v1/dispatch/cases/{p.case_id}/mediation", headers=DISPATCHER, json={})
        assert r.status_code == 201
        r = await dispatch.client.post(f"/api/v1/dispatch/cases/{p.case_id}/mediation", headers=DISPATCHER, json={})
        assert r.status_code == 409 and r.json()["status"] == "mediation"
        failed = MediationFailed(mediation_id="m1", case_id=p.case_id, category="family", at=datetime.now(UTC),
                                 handed_to="litigation")
        await publish(bootstrap, new_envelope(failed, source="/fengqiao/mediation"))
        await dispatch.wait_case(p.case_id, lambda c: c["status"] == "queued")
        await probe.wait_for(lambda e: e.topic == "case.queued" and e.subject == p.case_id)


async def test_a_returned_assisting_order_does_not_block_the_lead(dispatch, clock):
    p = await dispatch.report(category="urban", grade="blue", grid="WH-40", community="C07")
    orders = await dispatch.orders_of(p.case_id, 2)
    lead = next(o for o in orders if o["role"] == "lead")
    assist = next(o for o in orders if o["role"] == "assist")
    r = await dispatch.client.post(f"/api/v1/orders/{assist['order_id']}/return", headers=officer(assist["department"]),
                                   json={"reason": "无需协办"})
    assert r.status_code == 200
    assert (await dispatch.case(p.case_id))["status"] == "queued"
    await _close(dispatch, lead)
    case = await dispatch.case(p.case_id)
    assert case["status"] == "closed"
    r = await dispatch.client.get("/api/v1/dispatch/queue", headers=DISPATCHER)
    assert p.case_id not in [x["case_id"] for x in r.json()]
