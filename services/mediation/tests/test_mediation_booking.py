"""Booking against the real database: concurrency (exactly one wins), 409 with alternatives, the matcher over
the API, capacity, conflicts of interest, reschedule and cancel (with their events), bad input."""

import asyncio
from datetime import datetime

import pytest
from fengqiao_devstack.testing import EventProbe
from mediation_testkit import admin, at, dispatcher, identity_headers, make_mediator, mediator_h, party_h
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

API = "/api/v1/mediation"
PARTIES = [{"side": "applicant", "name": "区小明", "phone": "13800000001"},
           {"side": "respondent", "name": "关大伟", "phone": "13800000002", "organisation": "外海某五金厂"}]


def walk_in(mediator_id: str, starts_at, **kw) -> dict:
    body = {"category": "labour", "parties": PARTIES, "mediator_id": mediator_id, "starts_at": starts_at.isoformat()}
    body.update(kw)
    return body


async def test_concurrent_bookings_of_one_slot_exactly_one_wins(stack):
    c = stack.client
    m = await make_mediator(c)
    start = at(5, 10)
    results = await asyncio.gather(*[c.post(f"{API}/bookings", headers=dispatcher(), json=walk_in(m["id"], start))
                                     for _ in range(8)])
    codes = sorted(r.status_code for r in results)
    assert codes == [201] + [409] * 7, [r.text for r in results]
    for r in results:
        if r.status_code == 409:
            body = r.json()
            assert body["error"] == "slot_taken" and body["message_zh"] and body["message_en"]
            alts = body["alternatives"]
            assert alts and alts[0]["mediator_id"] == m["id"] and alts[0]["starts_at"] != start.isoformat()
    # losers wrote nothing: one mediation, one booking for this mediator
    async with stack.session_factory() as s:
        n = (await s.execute(text("SELECT count(*) FROM bookings WHERE mediator_id = :m"), {"m": m["id"]})).scalar()
        meds = (await s.execute(text("SELECT count(*) FROM mediations WHERE mediator_id = :m"), {"m": m["id"]})).scalar()
    assert (n, meds) == (1, 1)


async def test_database_refuses_overlapping_active_bookings(stack):
    """The guarantee is in the schema (exclusion constraint), not only in the code path."""
    c = stack.client
    m = await make_mediator(c)
    r = await c.post(f"{API}/bookings", headers=dispatcher(), json=walk_in(m["id"], at(6, 9)))
    assert r.status_code == 201
    b = r.json()["booking"]
    async with stack.session_factory() as s:
        with pytest.raises(IntegrityError, match="bookings_no_overlap"):
            async with s.begin():
                await s.execute(text(
                    "INSERT INTO bookings (id, mediation_id, mediator_id, starts_at, ends_at, mode, status) "
                    "VALUES ('x-' || gen_random_uuid(), :med, :m, :s, :e, 'centre', 'active')"),
                    {"med": b["mediation_id"], "m": m["id"], "s": at(6, 9, 30), "e": at(6, 10, 30)})
        # a cancelled booking does not block the slot
        async with s.begin():
            await s.execute(text(
                "INSERT INTO bookings (id, mediation_id, mediator_id, starts_at, ends_at, mode, status) "
                "VALUES ('x-' || gen_random_uuid(), :med, :m, :s, :e, 'centre', 'cancelled')"),
                {"med": b["mediation_id"], "m": m["id"], "s": at(6, 9, 30), "e": at(6, 10, 30)})


async def test_unavailable_slots_give_409_with_alternatives(stack):
    c = stack.client
    m = await make_mediator(c, weekly=[{"weekday": d, "start": "09:00", "end": "12:00"} for d in range(7)])
    r = await c.post(f"{API}/bookings", headers=dispatcher(), json=walk_in(m["id"], at(5, 15)))
    assert r.status_code == 409 and r.json()["error"] == "slot_unavailable"
    assert "not_available" in {x["code"] for x in r.json()["reasons"]}
    assert any(a["mediator_id"] == m["id"] for a in r.json()["alternatives"])
    # on leave
    r = await c.post(f"{API}/mediators/{m['id']}/leaves", headers=mediator_h(m["id"]),
                     json={"starts_at": at(6, 0).isoformat(), "ends_at": at(7, 0).isoformat(), "reason": "年假"})
    assert r.status_code == 201, r.text
    r = await c.post(f"{API}/bookings", headers=dispatcher(), json=walk_in(m["id"], at(6, 10)))
    assert r.status_code == 409 and "taken" in {x["code"] for x in r.json()["reasons"]}
    # another mediator may not change this one's calendar
    r = await c.post(f"{API}/mediators/{m['id']}/leaves", headers=mediator_h("someone-else"),
                     json={"starts_at": at(6, 0).isoformat(), "ends_at": at(7, 0).isoformat()})
    assert r.status_code == 403


async def test_capacity_and_conflict_of_interest(stack):
    c = stack.client
    m = await make_mediator(c, capacity=1, relations=[{"name": "外海某五金厂", "relation": "曾任法律顾问"}])
    other = [{"side": "applicant", "name": "麦一", "phone": "13800000011"},
             {"side": "respondent", "name": "麦二", "phone": "13800000012"}]
    r = await c.post(f"{API}/bookings", headers=dispatcher(), json=walk_in(m["id"], at(5, 9), parties=other))
    assert r.status_code == 201, r.text
    first = r.json()
    # full: a new case cannot be booked with it ...
    r = await c.post(f"{API}/bookings", headers=dispatcher(),
                     json=walk_in(m["id"], at(5, 14), parties=[{**p, "phone": "13800000021"} for p in other]))
    assert r.status_code == 409 and "full" in {x["code"] for x in r.json()["reasons"]}
    # ... but the case it already holds can book its next session
    r = await c.post(f"{API}/bookings", headers=dispatcher(),
                     json={"mediation_id": first["mediation"]["id"], "mediator_id": m["id"],
                           "starts_at": at(5, 14).isoformat()})
    assert r.status_code == 201, r.text
    # declared relations are private to admins and the mediator
    r = await c.get(f"{API}/mediators/{m['id']}", headers=dispatcher())
    assert r.status_code == 200 and "relations" not in r.json()
    r = await c.get(f"{API}/mediators/{m['id']}", headers=mediator_h(m["id"]))
    assert r.json()["relations"] == [{"name": "外海某五金厂", "relation": "曾任法律顾问"}]
    # conflict of interest with a party's organisation
    m2 = await make_mediator(c, relations=[{"name": "外海某五金厂"}])
    r = await c.post(f"{API}/bookings", headers=dispatcher(), json=walk_in(m2["id"], at(5, 9)))
    assert r.status_code == 409 and "conflict_of_interest" in {x["code"] for x in r.json()["reasons"]}
    r = await c.post(f"{API}/matcher/proposals", headers=dispatcher(), json={
        "category": "labour", "party_names": ["外海某五金厂"],
        "window": {"from": at(5, 8).isoformat(), "to": at(5, 18).isoformat()}, "limit": 50})
    excluded = {e["mediator_id"]: {x["code"] for x in e["reasons"]} for e in r.json()["excluded"]}
    assert "conflict_of_interest" in excluded[m2["id"]] and "full" in excluded[m["id"]]


async def test_matcher_over_the_api_ranks_by_preference_and_load(stack):
    c = stack.client
    ids = {}
    for key, kw in {"yue_f": dict(gender="female", dialects=["普通话", "粤语"]),
                    "yue_m": dict(gender="male", dialects=["普通话", "粤语"]),
                    "pth_f": dict(gender="female", dialects=["普通话"]),
                    "tss_f": dict(gender="female", dialects=["普通话", "台山话"], categories=["family"])}.items():
        ids[key] = (await make_mediator(c, **kw))["id"]
    r = await c.post(f"{API}/matcher/proposals", headers=identity_headers(roles=["external_system"],
                                                                          external_system="yue-sheng-shi"), json={
        "category": "labour", "preference": {"dialect": "粤语", "gender": "female"},
        "window": {"from": at(9, 8).isoformat(), "to": at(9, 18).isoformat()}, "limit": 50})
    assert r.status_code == 200, r.text
    order = [p["mediator_id"] for p in r.json()["proposals"] if p["mediator_id"] in ids.values()]
    assert order == [ids["yue_f"], ids["yue_m"], ids["pth_f"]]
    assert ids["tss_f"] not in {p["mediator_id"] for p in r.json()["proposals"]}  # does not mediate labour
    top = next(p for p in r.json()["proposals"] if p["mediator_id"] == ids["yue_f"])
    assert {x["code"] for x in top["reasons"]} >= {"category", "dialect", "gender", "load"} and top["slots"]


async def test_external_system_books_by_preference_then_reschedule_and_cancel(stack):
    c = stack.client
    ext = identity_headers(roles=["external_system"], external_system="yue-sheng-shi")
    m = await make_mediator(c, dialects=["普通话", "台山话"], gender="male", categories=["traffic"])
    async with EventProbe(stack.kafka, ["mediation.booked", "mediation.rescheduled", "mediation.cancelled"]) as probe:
        r = await c.post(f"{API}/bookings", headers=ext, json={
            "category": "traffic", "parties": PARTIES,
            "preference": {"mediator_id": m["id"], "dialect": "台山话", "mode": "centre"},
            "window": {"from": at(10, 8).isoformat(), "to": at(10, 20).isoformat()}})
        assert r.status_code == 201, r.text
        b = r.json()
        assert b["booking"]["mediator_id"] == m["id"] and b["mediation"]["created"]
        med_id, bid = b["mediation"]["id"], b["booking"]["id"]
        # the external system sees what it booked; a party sees only its own; another party nothing
        assert (await c.get(f"{API}/mediations/{med_id}", headers=ext)).status_code == 200
        assert (await c.get(f"{API}/mediations/{med_id}", headers=party_h(b["parties"][0]["id"]))).status_code == 200
        assert (await c.get(f"{API}/mediations/{med_id}", headers=party_h("another-party"))).status_code == 403
        assert (await c.get(f"{API}/my/mediations", headers=party_h("another-party"))).json() == []
        other_ext = identity_headers(roles=["external_system"], external_system="yue-shang-tong")
        assert (await c.get(f"{API}/mediations/{med_id}", headers=other_ext)).status_code == 403

        r = await c.post(f"{API}/bookings/{bid}/reschedule", headers=ext, json={"starts_at": at(11, 15).isoformat()})
        assert r.status_code == 200, r.text
        nb = r.json()
        assert nb["replaces"] == bid and nb["status"] == "active"
        r = await c.get(f"{API}/bookings/{bid}", headers=ext)
        assert r.json()["status"] == "rescheduled"
        r = await c.post(f"{API}/bookings/{bid}/cancel", headers=ext, json={})
        assert r.status_code == 409 and r.json()["error"] == "booking_not_active"
        r = await c.post(f"{API}/bookings/{nb['id']}/cancel", headers=ext, json={"reason": "当事人已自行和解"})
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        view = (await c.get(f"{API}/mediations/{med_id}", headers=admin())).json()
        assert view["status"] == "open" and view["mediator_id"] is None
        for t in ("mediation.booked", "mediation.rescheduled", "mediation.cancelled"):
            await probe.wait_for(lambda e, t=t: e.topic == t and e.subject == med_id)
        # the freed slot can be booked again, and shows in the mediator's calendar
        r = await c.post(f"{API}/bookings", headers=dispatcher(), json=walk_in(m["id"], at(11, 15), category="traffic"))
        assert r.status_code == 201, r.text
        window = {"from": at(10, 0).isoformat(), "to": at(12, 0).isoformat()}
        r = await c.get(f"{API}/mediators/{m['id']}/bookings", params=window, headers=mediator_h(m["id"]))
        assert [datetime.fromisoformat(b["starts_at"]) for b in r.json()] == [at(11, 15)]
        r = await c.get(f"{API}/mediators/{m['id']}/bookings", params=window, headers=mediator_h("other"))
        assert r.status_code == 403
        r = await c.get(f"{API}/mediators/{m['id']}/slots", params={"from": "2030-01-01T00:00:00", "to": "x"},
                        headers=mediator_h(m["id"]))
        assert r.status_code == 422


async def test_bad_input_is_a_clear_4xx(stack):
    c = stack.client
    m = await make_mediator(c)
    r = await c.post(f"{API}/bookings", headers=dispatcher(), json={
        "category": "labour", "mediator_id": m["id"], "starts_at": "2030-01-01T10:00:00",
        "parties": [{"side": "applicant", "name": "", "phone": "123"}],
        "preference": {"mode": "home"}})
    assert r.status_code == 422
    fields = {f["field"] for f in r.json()["fields"]}
    assert {"starts_at", "parties.0.name", "parties.0.phone", "preference"} <= fields
    assert all(f["message_zh"] and f["message_en"] for f in r.json()["fields"])
    r = await c.post(f"{API}/bookings", headers=dispatcher(), json=walk_in(m["id"], at(5, 10), category="astrology"))
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "categories"
    r = await c.post(f"{API}/bookings", headers=dispatcher(), json=walk_in("nobody", at(5, 10)))
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "mediator_id"
    r = await c.post(f"{API}/bookings", headers=party_h("p"), json=walk_in(m["id"], at(5, 10)))
    assert r.status_code == 403
    r = await c.post(f"{API}/bookings", json=walk_in(m["id"], at(5, 10)))
    assert r.status_code == 401
    r = await c.post(f"{API}/matcher/proposals", headers=dispatcher(), json={
        "category": "labour", "window": {"from": at(5, 10).isoformat(), "to": at(60, 10).isoformat()}})
    assert r.status_code == 422 and r.json()["fields"][0]["code"] == "window_too_long"
    r = await c.post(f"{API}/mediators", headers=admin(), json={
        "name": "X", "kind": "wizard", "gender": "male", "categories": ["labour"], "dialects": ["火星语"],
        "weekly": [{"weekday": 9, "start": "25:00", "end": "08:00"}]})
    assert r.status_code == 422
    assert {"kind", "weekly.0.weekday"} <= {f["field"] for f in r.json()["fields"]}
    r = await c.post(f"{API}/mediators", headers=dispatcher(), json={})
    assert r.status_code in (403, 422)
