"""The mediation track across services: a reported neighbour dispute is transferred to mediation by
the centre (dispatch -> mediation.referred) -> booked by the matcher -> a session confirmed by both
parties and the mediator -> agreement -> court application -> the court simulator confirms by
callback -> mediation.confirmed -> intake's timeline shows the judicial confirmation and dispatch
closes the case."""

import asyncio
import base64
import json
import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from e2e_api import Api
from fengqiao_devstack.testing import EventProbe, eventually, identity_headers

pytestmark = pytest.mark.slow
TZ = ZoneInfo("Asia/Shanghai")
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).decode()


def _at(days: int, hour: int) -> datetime:
    d = (datetime.now(TZ) + timedelta(days=days)).date()
    return datetime(d.year, d.month, d.day, hour, tzinfo=TZ)


async def test_dispute_to_judicial_confirmation_reaches_intake(stack):
    api = Api(stack)
    med_api = f"{stack.url('mediation')}/api/v1/mediation"  # mediator and party steps: their own identities
    marker = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(timeout=30) as c, EventProbe(
        stack.bootstrap, ["order.dispatched", "mediation.confirmed", "case.closed"]
    ) as probe:
        gw = await api.login(c, "grid02")
        grid = api.user("grid02")["grids"][0]
        r = await c.post(f"{api.base}/api/v1/cases/grid-events", headers=gw, json={
            "category": "neighbour", "grid": grid, "description": f"邻居漏水纠纷，双方争执 {marker}",
            "location": {"address": "外海街道龙溪社区 8 巷 2 号"}, "people_involved": 2})
        assert r.status_code == 201, r.text
        case_id = r.json()["id"]
        await probe.wait_for(lambda e: e.topic == "order.dispatched" and e.subject == case_id, timeout=30)

        centre = await api.login(c, "dispatcher")
        r = await c.post(f"{api.base}/api/v1/dispatch/cases/{case_id}/mediation", headers=centre,
                         json={"category": "neighbour", "note": "转人民调解"})
        assert r.status_code in (200, 201), r.text

        async def referred():
            r = await c.get(f"{api.base}/api/v1/mediation/mediations", params={"case_id": case_id}, headers=centre)
            return r.json() if r.status_code == 200 and r.json() else None

        (mediation,) = await eventually(referred, timeout=30)
        med_id = mediation["id"]
        r = await c.post(f"{api.base}/api/v1/mediation/bookings", headers=centre, json={
            "mediation_id": med_id,
            "window": {"from": _at(2, 8).isoformat(), "to": _at(6, 20).isoformat()},
            "parties": [{"side": "applicant", "name": "李四", "phone": "13900001111"},
                        {"side": "respondent", "name": "王五", "phone": "13900002222"}]})
        assert r.status_code == 201, r.text
        booked = r.json()
        mid = booked["booking"]["mediator_id"]
        applicant, respondent = booked["parties"]
        mediator = identity_headers(roles=["mediator"], mediator_id=mid, sub=f"user-{mid}")

        r = await c.post(f"{med_api}/mediations/{med_id}/sessions", headers=mediator, json={
            "booking_id": booked["booking"]["id"], "started_at": booked["booking"]["starts_at"],
            "ended_at": (datetime.fromisoformat(booked["booking"]["starts_at"]) + timedelta(hours=1)).isoformat(),
            "place": "外海街道综治中心调解室", "attendees": ["李四", "王五"],
            "points_agreed": ["王五负责维修漏水管道并赔偿李四人民币贰仟元"], "points_outstanding": []})
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        for party in (applicant, respondent):
            r = await c.post(f"{med_api}/sessions/{sid}/signatures",
                             headers=identity_headers(roles=["party"], party_id=party["id"]),
                             json={"signer": "party", "party_id": party["id"], "method": "image", "image_base64": PNG})
            assert r.status_code == 201, r.text
        r = await c.post(f"{med_api}/sessions/{sid}/signatures", headers=mediator,
                         json={"signer": "mediator", "method": "image", "image_base64": PNG})
        assert r.status_code == 201 and r.json()["status"] == "sealed", r.text

        r = await c.post(f"{med_api}/mediations/{med_id}/agreement", headers=mediator)
        assert r.status_code == 201, r.text
        r = await c.post(f"{med_api}/court-applications", headers=mediator, json={"mediation_id": med_id})
        assert r.status_code == 201, r.text

        # the simulator confirms by itself a few seconds later, by HTTP callback
        confirmed = await probe.wait_for(lambda e: e.topic == "mediation.confirmed" and e.subject == med_id,
                                         timeout=60)
        assert confirmed[0].data["case_id"] == case_id and confirmed[0].data["ruling_no"]
        await probe.wait_for(lambda e: e.topic == "case.closed" and e.subject == case_id, timeout=30)

        async def intake_knows():
            r = await c.get(f"{api.base}/api/v1/cases/{case_id}", headers=centre)
            body = r.json()
            kinds = " ".join(str(t.get("kind")) for t in body.get("timeline", []))
            return body if body.get("status") == "closed" and "mediation.confirmed" in kinds else None

        await eventually(intake_knows, timeout=30)


async def test_the_demo_party_signs_its_own_record_through_the_gateway(stack, tmp_path):
    """Issue 15 through the gateway of the whole system: the demo login ``party`` (P001) finds the demo mediation
    awaiting its signature and signs it; the demo mediator's attempt to sign for a party is refused; the other
    party (P002) signs with the code sent to its phone, without any login; the record seals only then, and the
    exported bundle passes the offline verifier against the published key - and fails once rewritten."""
    api = Api(stack)
    base = f"{api.base}/api/v1/mediation"
    async with httpx.AsyncClient(timeout=30) as c:
        party, mediator, admin = (await api.login(c, "party"), await api.login(c, "mediator"),
                                  await api.login(c, "admin"))
        r = await c.get(f"{base}/my/mediations", headers=party)
        assert r.status_code == 200 and "DEMO-MED-0001" in [m["id"] for m in r.json()], r.text
        [s] = (await c.get(f"{base}/mediations/DEMO-MED-0001", headers=party)).json()["sessions"]
        assert s["status"] == "open" and "party:P001" in s["pending_signers"]
        sig = f"{base}/sessions/{s['id']}/signatures"
        r = await c.post(sig, headers=mediator, json={"signer": "party", "party_id": "P001", "method": "image",
                                                      "image_base64": PNG})
        assert r.status_code == 403 and r.json()["error"] == "not_own_channel"  # the mediator cannot sign for P001
        r = await c.post(sig, headers=party, json={"signer": "party", "party_id": "P001", "method": "image",
                                                   "image_base64": PNG})
        assert r.status_code == 201 and r.json()["status"] == "open", r.text
        r = await c.post(f"{base}/sessions/{s['id']}/otp", headers=mediator, json={"party_id": "P002"})
        assert r.status_code == 201, r.text
        texts = (await c.get(f"{base}/dev/sms", params={"phone": "13800138002"}, headers=admin)).json()
        code = texts[-1]["text"].split("验证码 ")[1][:6]
        otp = {"signer": "party", "party_id": "P002", "method": "otp", "code": code}
        r = await c.post(sig, headers=mediator, json=otp)
        assert r.status_code == 403 and r.json()["error"] == "not_own_channel"
        r = await c.post(sig, json=otp)  # P002 on its own phone: no login, the code is the credential
        assert r.status_code == 201 and r.json()["status"] == "open", r.text
        r = await c.post(sig, headers=mediator, json={"signer": "mediator", "method": "image", "image_base64": PNG})
        assert r.status_code == 201 and r.json()["status"] == "sealed", r.text
        assert {g["channel"] for g in r.json()["signatures"]} == {"login", "otp"}

        keys = await c.get(f"{base}/seal-keys")  # published: no identity needed
        assert keys.status_code == 200, keys.text
        (tmp_path / "keys.json").write_text(keys.text)
        bundle = await c.get(f"{base}/mediations/DEMO-MED-0001/records/bundle", headers=party)
        assert bundle.status_code == 200, bundle.text
        (tmp_path / "bundle.json").write_text(bundle.text)
        cli = [sys.executable, "-m", "fengqiao_mediation.verify", str(tmp_path / "bundle.json"),
               "--keys", str(tmp_path / "keys.json")]
        p = await asyncio.to_thread(subprocess.run, cli, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        forged = bundle.json()
        forged["records"][0]["content"]["record"]["points_agreed"] = ["另付十万元"]
        (tmp_path / "bundle.json").write_text(json.dumps(forged, ensure_ascii=False))
        p = await asyncio.to_thread(subprocess.run, cli, capture_output=True, text=True, timeout=60)
        assert p.returncode == 1 and "NOT VALID" in p.stdout
