"""Case status + timeline from dispatch / mediation events (published to the real broker, any order),
satisfaction follow-up, duplicates and merging."""

import uuid
from datetime import UTC, datetime, timedelta

from fengqiao_devstack.testing import eventually, publish
from fengqiao_events import new_envelope
from fengqiao_events.payloads.common import Actor
from fengqiao_events.payloads.mediation import MediationConfirmed, SessionSealed
from fengqiao_events.payloads.order import (
    CaseClosed,
    CaseQueued,
    CaseResolved,
    DepartmentCheckedIn,
    MediationReferred,
    OrderCancelled,
    OrderDispatched,
    OrderEscalated,
    OrderReturned,
    OrderSigned,
)
from intake_helpers import dispatcher, grid_event, spot, system, worker

SRC = "/fengqiao/dispatch"
OFFICER = Actor(id="officer-1", name="人社所干部", role="department_officer", department="RSS")


def _at(case, seconds: float) -> datetime:
    """``seconds`` after the case was reported (events of a case happen after it)."""
    return datetime.fromisoformat(case["reported_at"]) + timedelta(seconds=seconds)


def dispatched(case, order_id, seconds, dept="RSS", seq=1):
    return OrderDispatched(order_id=order_id, case_id=case["id"], case_no=case["case_no"], department=dept, seq=seq,
                           at=_at(case, seconds), department_name="外海人社所", level="street", role="lead",
                           category=case["category"], grade=case["grade"], summary="s", description="d",
                           deadlines={"resolve_by": _at(case, 86400)})


async def _case(client, **over):
    r = await client.post("/api/v1/cases/demands", json={
        "category": "labour", "description": "工资纠纷", "location": {**spot()}, **over}, headers=system())
    assert r.status_code == 201, r.text
    return r.json()


async def _get(client, case, headers=None):
    r = await client.get(f"/api/v1/cases/{case['id']}", headers=headers or dispatcher())
    assert r.status_code == 200
    return r.json()


async def _status_is(client, case, status):
    async def check():
        return (await _get(client, case))["status"] == status
    await eventually(check, timeout=30)


async def _timeline_has(client, case, *kinds):
    async def check():
        have = [t["kind"] for t in (await _get(client, case))["timeline"]]
        return all(k in have for k in kinds)
    await eventually(check, timeout=30)


async def test_status_follows_events_published_out_of_order(client, kafka_bootstrap, probe):
    case = await _case(client)
    o1 = str(uuid.uuid4())
    evs = [
        new_envelope(DepartmentCheckedIn(order_id=o1, case_id=case["id"], department="RSS", seq=3, at=_at(case, 30),
                                         officer="officer-1", by=OFFICER), source=SRC),
        new_envelope(OrderSigned(order_id=o1, case_id=case["id"], department="RSS", seq=2, at=_at(case, 10),
                                 officer="officer-1", by=OFFICER), source=SRC),
        new_envelope(dispatched(case, o1, 5), source=SRC),
        new_envelope(CaseQueued(case_id=case["id"], reason="manual", at=_at(case, 1)), source=SRC),
    ]
    await publish(kafka_bootstrap, *evs)
    await _status_is(client, case, "on_site")
    # redelivery of the same events has no second effect
    await publish(kafka_bootstrap, *evs)
    await publish(kafka_bootstrap, new_envelope(OrderEscalated(order_id=o1, case_id=case["id"], department="RSS",
                                                               seq=4, at=_at(case, 40), stage="resolve", due_at=_at(case, 39),
                                                               level="district"), source=SRC))

    await _timeline_has(client, case, "case.queued", "order.dispatched", "order.signed", "department.checked-in",
                        "order.escalated")
    full = await _get(client, case)
    kinds = [t["kind"] for t in full["timeline"]]
    assert kinds == ["case.reported", "case.queued", "order.dispatched", "order.signed", "department.checked-in",
                     "order.escalated"], kinds  # sorted by when it happened, each event once
    checkin = full["timeline"][4]
    assert checkin["department"] == "RSS" and checkin["actor"]["id"] == "officer-1"
    assert checkin["status_effect"] == "on_site" and "报到" in checkin["note"]
    assert full["status"] == "on_site"


async def test_returned_then_redispatched_resolved_closed_and_mediation(client, kafka_bootstrap, probe):
    case = await _case(client)
    o1, o2 = str(uuid.uuid4()), str(uuid.uuid4())
    await publish(kafka_bootstrap, new_envelope(dispatched(case, o1, 1), source=SRC),
                  new_envelope(OrderReturned(order_id=o1, case_id=case["id"], department="RSS", seq=2, at=_at(case, 5),
                                             reason="不属本部门职责"), source=SRC))
    await _status_is(client, case, "returned")
    await publish(kafka_bootstrap, new_envelope(OrderCancelled(order_id=o1, case_id=case["id"], department="RSS",
                                                               seq=3, at=_at(case, 6), reason="改派"), source=SRC))
    await _timeline_has(client, case, "order.cancelled")
    await publish(kafka_bootstrap,
                  new_envelope(CaseClosed(case_id=case["id"], at=_at(case, 50)), source=SRC),  # arrives first
                  new_envelope(dispatched(case, o2, 10, dept="SFS"), source=SRC),
                  new_envelope(MediationReferred(referral_id="ref-1", case_id=case["id"], category="labour",
                                                 summary="s", at=_at(case, 20)), source=SRC),
                  new_envelope(SessionSealed(mediation_id="m-1", case_id=case["id"], category="labour", at=_at(case, 30),
                                             session_id="s-1", seq=1, record_hash="abc"), source="/fengqiao/mediation"),
                  new_envelope(MediationConfirmed(mediation_id="m-1", case_id=case["id"], category="labour",
                                                  at=_at(case, 40), application_id="a-1", court="QFY",
                                                  ruling_no="(2026)粤0704民特1号"), source="/fengqiao/mediation"),
                  new_envelope(CaseResolved(case_id=case["id"], at=_at(case, 45), departments=["SFS"]), source=SRC))
    await _status_is(client, case, "closed")
    await _timeline_has(client, case, "mediation.referred", "session.sealed", "mediation.confirmed", "case.resolved")
    full = await _get(client, case)
    kinds = [t["kind"] for t in full["timeline"]]
    assert kinds[-6:] == ["order.dispatched", "mediation.referred", "session.sealed", "mediation.confirmed",
                          "case.resolved", "case.closed"]
    assert "(2026)粤0704民特1号" in full["timeline"][-3]["note"]
    # a mediation matter that did not come from a case, and events of unknown cases, are ignored
    await publish(kafka_bootstrap, new_envelope(SessionSealed(mediation_id="m-2", case_id=None, category="labour",
                                                              at=_at(case, 1), session_id="s", seq=1, record_hash="x"),
                                                source="/fengqiao/mediation"),
                  new_envelope(CaseClosed(case_id=str(uuid.uuid4()), at=_at(case, 1)), source=SRC))


async def test_rating_satisfied_and_unsatisfied_reopens(client, kafka_bootstrap, probe):
    case = await _case(client)
    r = await client.post(f"/api/v1/cases/{case['id']}/rating", json={"rating": "satisfied"}, headers=system())
    assert r.status_code == 409 and r.json()["status"] == "reported"  # not resolved yet
    await publish(kafka_bootstrap, new_envelope(dispatched(case, "o-r", 0.001), source=SRC),
                  new_envelope(CaseResolved(case_id=case["id"], at=datetime.now(UTC)), source=SRC))
    await _status_is(client, case, "resolved")
    # another system may not rate it (404: it cannot even see it)
    r = await client.post(f"/api/v1/cases/{case['id']}/rating", json={"rating": "satisfied"},
                          headers=system("yue-shang-tong"))
    assert r.status_code == 404
    r = await client.post(f"/api/v1/cases/{case['id']}/rating", json={"rating": "meh"}, headers=system())
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "rating"
    r = await client.post(f"/api/v1/cases/{case['id']}/rating",
                          json={"rating": "unsatisfied", "comment": "工资只发了一半"}, headers=system())
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "reopened" and r.json()["last_rating"] == "unsatisfied"
    [rated] = [e.data for e in await probe.wait_for(
        lambda e: e.topic == "case.rated" and e.subject == case["id"], timeout=30)]
    [reopened] = [e.data for e in await probe.wait_for(
        lambda e: e.topic == "case.reopened" and e.subject == case["id"], timeout=30)]
    assert rated["rating"] == "unsatisfied" and rated["comment"] == "工资只发了一半"
    assert reopened["case_id"] == case["id"] and reopened["reason"] == "工资只发了一半"
    # rated once per resolution
    r = await client.post(f"/api/v1/cases/{case['id']}/rating", json={"rating": "satisfied"}, headers=dispatcher())
    assert r.status_code == 409
    # dispatch re-routes, resolves again; the centre records a satisfied follow-up
    await publish(kafka_bootstrap, new_envelope(
        dispatched(case, "o-r2", (datetime.now(UTC) - datetime.fromisoformat(case["reported_at"])).total_seconds()),
        source=SRC))
    await _status_is(client, case, "dispatched")
    await publish(kafka_bootstrap, new_envelope(CaseResolved(case_id=case["id"], at=datetime.now(UTC)), source=SRC))
    await _status_is(client, case, "resolved")
    r = await client.post(f"/api/v1/cases/{case['id']}/rating", json={"rating": "basically_satisfied"},
                          headers=dispatcher())
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    r = await client.post(f"/api/v1/cases/{case['id']}/rating", json={"rating": "satisfied"}, headers=dispatcher())
    assert r.status_code == 409 and r.json()["error"] == "already_rated"


async def test_duplicate_flagged_and_merged_keeps_every_requester(client, kafka_bootstrap, probe):
    loc = spot()
    a = await _case(client, category="urban", location={**loc, "address": "A"})
    assert a["duplicate_flagged"] is False
    near = {"lat": loc["lat"] + 0.001, "lon": loc["lon"]}  # ~110 m away
    r = await client.post("/api/v1/cases/demands", json={"category": "urban", "description": "同一处垃圾",
                                                          "location": near}, headers=system("yue-shang-tong"))
    b = r.json()
    assert b["duplicate_flagged"] is True and b["duplicate_of"] == a["id"]
    # other category or far away: not a duplicate
    r = await client.post("/api/v1/cases/demands", json={"category": "consumer", "description": "x", "location": near},
                          headers=system())
    assert r.json()["duplicate_flagged"] is False
    far = {"lat": loc["lat"] + 0.005, "lon": loc["lon"]}  # ~550 m
    r = await client.post("/api/v1/cases/demands", json={"category": "urban", "description": "x", "location": far},
                          headers=system())
    assert r.json()["duplicate_flagged"] is False
    assert (await client.post(f"/api/v1/cases/{b['id']}/merge", json={"into": a["id"]}, headers=worker())).status_code == 403
    r = await client.post(f"/api/v1/cases/{b['id']}/merge", json={"into": b["case_no"]}, headers=dispatcher())
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "into"
    r = await client.post(f"/api/v1/cases/{b['id']}/merge", json={"into": a["case_no"], "reason": "同一问题"},
                          headers=dispatcher())
    assert r.status_code == 200, r.text
    assert r.json()["case"]["status"] == "merged" and r.json()["case"]["merged_into"] == a["id"]
    [env] = await probe.wait_for(lambda e: e.topic == "case.merged" and e.subject == b["id"], timeout=30)
    assert env.data["into_case_id"] == a["id"] and env.data["into_case_no"] == a["case_no"]
    merged_a = await _get(client, a)
    assert merged_a["requesters"] == 2
    assert merged_a["timeline"][-1]["kind"] == "case.merged_in"
    # the second system now follows the surviving case too (one problem, many requesters)
    assert (await client.get(f"/api/v1/cases/{a['id']}", headers=system("yue-shang-tong"))).status_code == 200
    got_b = await _get(client, b, system("yue-shang-tong"))
    assert got_b["merged_into_case_no"] == a["case_no"] and got_b["status"] == "merged"
    r = await client.post(f"/api/v1/cases/{b['id']}/merge", json={"into": a["id"]}, headers=dispatcher())
    assert r.status_code == 409
    # a merged case stays merged whatever arrives later
    await publish(kafka_bootstrap, new_envelope(dispatched(b, "o-m", 500), source=SRC))
    await publish(kafka_bootstrap, new_envelope(dispatched(a, "o-a", 500), source=SRC))
    await _status_is(client, a, "dispatched")
    assert (await _get(client, b))["status"] == "merged"


async def test_grid_worker_sees_own_grid_case_status(client):
    r = await client.post("/api/v1/cases/grid-events", json=grid_event(grid="WH-20"), headers=worker("WH-20"))
    c = r.json()
    got = (await client.get(f"/api/v1/cases/{c['case_no']}", headers=worker("WH-20"))).json()
    assert got["status"] == "reported" and got["timeline"][0]["kind"] == "case.reported"
    assert got["parties"][0]["name"] == "张**"
