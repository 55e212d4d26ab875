"""Judicial confirmation paths beyond the happy one: rejection then hand-on (mediation.failed), the callback's
HMAC, the court being away (502, nothing written), automatic decisions of the simulator, deadline reminders,
and the demo pool seeded at startup."""

import json
import time
from datetime import datetime, timedelta

import httpx
from asgi_lifespan import LifespanManager
from fengqiao_devstack.postgres import free_port
from fengqiao_devstack.testing import EventProbe, eventually
from fengqiao_mediation.adapters.court import CourtClient, sign
from fengqiao_mediation.config import Settings
from fengqiao_mediation.court_simulator import SimulatorSettings
from fengqiao_mediation.court_simulator import create_app as create_court
from fengqiao_mediation.main import create_app
from fengqiao_mediation.usecases.reminders import remind_deadlines
from mediation_testkit import admin, dispatcher, mediator_h, open_case, party_h, seal, serve
from sqlalchemy import text

API = "/api/v1/mediation"


async def agreed_case(stack) -> dict:
    k = await open_case(stack)
    await seal(stack, k)
    r = await stack.client.post(f"{API}/mediations/{k['med']}/agreement", headers=mediator_h(k["mid"]))
    assert r.status_code == 201, r.text
    k["agreement"] = r.json()
    return k


async def test_rejection_then_mediation_handed_to_litigation(stack):
    k = await agreed_case(stack)
    c = stack.client
    async with EventProbe(stack.kafka, ["judicial.rejected", "mediation.failed"]) as probe:
        r = await c.post(f"{API}/court-applications", headers=dispatcher(), json={"mediation_id": k["med"]})
        assert r.status_code == 201, r.text
        app = r.json()
        res = await stack.decide(app["external_ref"], "rejected", "协议内容违反法律强制性规定")
        assert res["status_code"] == 200
        rej = await probe.wait_for(lambda e: e.topic == "judicial.rejected" and e.subject == k["med"])
        assert rej[0].data["reason"] == "协议内容违反法律强制性规定"
        # a late, contradicting decision is refused
        res = await stack.decide(app["external_ref"], "confirmed")
        assert res["status_code"] == 409
        r = await c.post(f"{API}/mediations/{k['med']}/failure", headers=party_h(k["a"]["id"]),
                         json={"handed_to": "litigation"})
        assert r.status_code == 403
        r = await c.post(f"{API}/mediations/{k['med']}/failure", headers=mediator_h(k["mid"]),
                         json={"handed_to": "litigation", "outcome": "当事人向江海区人民法院起诉"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "failed" and r.json()["handed_to"] == "litigation"
        failed = await probe.wait_for(lambda e: e.topic == "mediation.failed" and e.subject == k["med"])
        assert failed[0].data["handed_to"] == "litigation"
    r = await c.post(f"{API}/mediations/{k['med']}/failure", headers=mediator_h(k["mid"]),
                     json={"handed_to": "arbitration"})
    assert r.status_code == 409
    r = await c.post(f"{API}/mediations/{k['med']}/failure", headers=mediator_h(k["mid"]), json={"handed_to": "x"})
    assert r.status_code == 422


async def test_callback_must_carry_a_valid_signature(stack):
    k = await agreed_case(stack)
    c = stack.client
    r = await c.post(f"{API}/court-applications", headers=mediator_h(k["mid"]), json={"mediation_id": k["med"]})
    app = r.json()
    body = json.dumps({"application_id": app["id"], "external_ref": app["external_ref"], "decision": "confirmed",
                       "ruling_no": "伪造", "at": "2026-01-01T00:00:00Z"}).encode()
    ts = str(int(time.time()))
    for headers in ({}, {"X-Court-Timestamp": ts, "X-Court-Signature": sign("wrong-secret", ts, body)},
                    {"X-Court-Timestamp": str(int(time.time()) - 3600),
                     "X-Court-Signature": sign(stack.settings.court_callback_secret, str(int(time.time()) - 3600), body)}):
        r = await c.post(f"{API}/court/callback", content=body, headers=headers)
        assert r.status_code == 401, r.text
    good = {"X-Court-Timestamp": ts, "X-Court-Signature": sign(stack.settings.court_callback_secret, ts, body)}
    r = await c.post(f"{API}/court/callback", content=body.replace(app["id"].encode(), b"unknown"), headers={
        "X-Court-Timestamp": ts,
        "X-Court-Signature": sign(stack.settings.court_callback_secret, ts, body.replace(app["id"].encode(), b"unknown"))})
    assert r.status_code == 404
    bad = json.dumps({"application_id": app["id"], "decision": "maybe"}).encode()
    r = await c.post(f"{API}/court/callback", content=bad, headers={
        "X-Court-Timestamp": ts, "X-Court-Signature": sign(stack.settings.court_callback_secret, ts, bad)})
    assert r.status_code == 422 and {"external_ref", "decision"} <= {f["field"] for f in r.json()["fields"]}
    r = await c.get(f"{API}/court-applications/{app['id']}", headers=admin())
    assert r.json()["status"] == "submitted"  # nothing above changed it
    r = await c.post(f"{API}/court/callback", content=body, headers=good)
    assert r.status_code == 200 and r.json()["status"] == "confirmed"


async def test_court_unreachable_is_502_and_writes_nothing(stack):
    k = await agreed_case(stack)
    deps = stack.deps
    real = deps.court
    deps.court = CourtClient(f"http://127.0.0.1:{free_port()}", "key", timeout=2)
    try:
        r = await stack.client.post(f"{API}/court-applications", headers=mediator_h(k["mid"]),
                                    json={"mediation_id": k["med"]})
    finally:
        deps.court = real
    assert r.status_code == 502 and r.json()["error"] == "court_unavailable"
    async with stack.session_factory() as s:
        n = (await s.execute(text("SELECT count(*) FROM court_applications WHERE mediation_id = :m"),
                             {"m": k["med"]})).scalar()
    assert n == 0
    view = (await stack.client.get(f"{API}/mediations/{k['med']}", headers=admin())).json()
    assert view["status"] == "agreed"


async def test_simulator_decides_automatically_by_callback(stack):
    """A second simulator that asks for more material, then confirms, on its own after a short delay."""
    k = await agreed_case(stack)
    port = free_port()
    sim = create_court(SimulatorSettings(auto_decide_after=0.2, auto_decisions=["more_material", "confirmed"],
                                         mediation_base_url=stack.url,
                                         callback_backoff=0.1))
    deps = stack.deps
    real = deps.court
    async with serve(sim, port) as url:
        deps.court = CourtClient(url, stack.settings.court_api_key)
        try:
            c = stack.client
            r = await c.post(f"{API}/court-applications", headers=mediator_h(k["mid"]), json={"mediation_id": k["med"]})
            assert r.status_code == 201, r.text
            app_id = r.json()["id"]

            async def status():
                return (await c.get(f"{API}/court-applications/{app_id}", headers=admin())).json()["status"]

            await eventually(lambda: _is(status, "material_requested"), timeout=20)
            r = await c.post(f"{API}/court-applications/{app_id}/materials", headers=dispatcher(),
                             json={"description": "补充身份证明"})
            assert r.status_code == 200, r.text
            await eventually(lambda: _is(status, "confirmed"), timeout=20)
        finally:
            deps.court = real
    view = (await c.get(f"{API}/mediations/{k['med']}", headers=party_h(k["b"]["id"]))).json()
    assert view["status"] == "confirmed" and view["court_applications"][0]["ruling_no"].endswith("号")


async def _is(fn, want):
    return (await fn()) == want


async def test_deadline_reminders_are_sent_once_each(stack):
    k = await agreed_case(stack)
    apply_by = (await stack.client.get(f"{API}/agreements/{k['agreement']['id']}", headers=admin())).json()["apply_by"]
    due = datetime.fromisoformat(apply_by)
    assert timedelta(days=29) < due - datetime.now(due.tzinfo) <= timedelta(days=30)

    async def remind(now):  # the scan the background task runs, at a chosen "now"
        await remind_deadlines(stack.deps.uow, sms=stack.deps.sms, now=now)
        r = await stack.client.get(f"{API}/mediations/{k['med']}/reminders", headers=party_h(k["a"]["id"]))
        return [x["kind"] for x in r.json()]

    assert await remind(due - timedelta(days=10)) == []
    assert await remind(due - timedelta(days=6)) == ["judicial_apply_7d"]
    assert await remind(due - timedelta(days=5)) == ["judicial_apply_7d"]
    assert await remind(due + timedelta(hours=1)) == ["judicial_apply_7d", "judicial_apply_overdue"]
    # each reminder wrote its judicial.reminded event to the outbox in the same transaction
    async with stack.session_factory() as s:
        values = (await s.execute(text("SELECT value FROM outbox WHERE topic = 'judicial.reminded' AND key = :m"),
                                  {"m": k["med"]})).scalars().all()
    assert sorted(json.loads(v)["kind"] for v in values) == ["judicial_apply_7d", "judicial_apply_overdue"]
    texts = [m.text for m in stack.sms(k["phones"][0]) if m.purpose == "deadline_reminder"]
    assert len(texts) == 2 and "司法确认" in texts[0]
    # once the deadline has passed the application is refused (move it into the past for the test)
    async with stack.session_factory() as s, s.begin():
        await s.execute(text("UPDATE agreements SET apply_by = now() - interval '1 day' WHERE id = :id"),
                        {"id": k["agreement"]["id"]})
    r = await stack.client.post(f"{API}/court-applications", headers=mediator_h(k["mid"]),
                                json={"mediation_id": k["med"]})
    assert r.status_code == 409 and r.json()["error"] == "deadline_passed"


async def test_demo_pool_seeded_idempotently_at_startup(service_settings):
    settings = await service_settings(Settings, "mediation", suffix="demo", demo_data=True, run_relay=False,
                                      run_consumers=False)
    for _ in range(2):
        app = create_app(settings)
        async with LifespanManager(app, startup_timeout=60), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://m") as c:
            r = await c.get(f"{API}/mediators", headers=dispatcher())
            pool = r.json()
            assert len(pool) == 65
            kinds = [m["kind"] for m in pool]
            assert (kinds.count("deputy_member"), kinds.count("public_official"), kinds.count("cross_river")) == (
                15, 30, 20)
            r = await c.get(f"{API}/mediators", params={"category": "labour", "dialect": "台山话"},
                            headers=dispatcher())
            assert r.json() and all("labour" in m["categories"] and "台山话" in m["dialects"] for m in r.json())
