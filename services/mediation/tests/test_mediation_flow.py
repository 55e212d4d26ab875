"""The whole mediation track against the real database, broker and court simulator (over HTTP):
referral -> booking -> two sessions confirmed by both parties -> agreement PDF -> court application ->
more material -> confirmation callback -> mediation.confirmed on the topic (with the case id)."""

import io
import uuid
from datetime import UTC, datetime

from fengqiao_devstack.testing import EventProbe, eventually, publish
from fengqiao_events import new_envelope
from fengqiao_events.payloads.order import MediationReferred
from mediation_testkit import PNG, admin, at, dispatcher, make_mediator, mediator_h, party_h
from pypdf import PdfReader

API = "/api/v1/mediation"


async def _sign_all(stack, sid: str, mid: str, applicant: dict, respondent: dict, *, otp_for_respondent: bool):
    c = stack.client
    r = await c.post(f"{API}/sessions/{sid}/signatures", headers=party_h(applicant["id"]),
                     json={"signer": "party", "party_id": applicant["id"], "method": "image", "image_base64": PNG})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "open"
    if otp_for_respondent:
        r = await c.post(f"{API}/sessions/{sid}/otp", headers=mediator_h(mid), json={"party_id": respondent["id"]})
        assert r.status_code == 201, r.text
        assert "code" not in r.json() and r.json()["sent_to"].startswith("139")
        code = stack.sms("13900000002")[-1].text.split("验证码 ")[1][:6]
        otp_sig = {"signer": "party", "party_id": respondent["id"], "method": "otp", "code": code}
        r = await c.post(f"{API}/sessions/{sid}/signatures", headers=mediator_h(mid), json=otp_sig)
        assert r.status_code == 403 and r.json()["error"] == "not_own_channel"  # never the mediator for a party
        # the party enters the code on its own phone: no login needed, the code is the credential
        r = await c.post(f"{API}/sessions/{sid}/signatures", json=otp_sig)
    else:
        r = await c.post(f"{API}/sessions/{sid}/signatures", headers=party_h(respondent["id"]),
                         json={"signer": "party", "party_id": respondent["id"], "method": "image",
                               "image_base64": PNG})
    assert r.status_code == 201, r.text
    r = await c.post(f"{API}/sessions/{sid}/signatures", headers=mediator_h(mid),
                     json={"signer": "mediator", "method": "image", "image_base64": PNG})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "sealed" and body["sealed_now"] and len(body["record_hash"]) == 64
    assert {s["method"] for s in body["signatures"]} == ({"image", "otp"} if otp_for_respondent else {"image"})
    return body


async def test_referral_to_judicial_confirmation(stack):
    c = stack.client
    m = await make_mediator(c, name="梁秀英", categories=["labour", "neighbour"])
    mid = m["id"]
    case_id = str(uuid.uuid4())
    topics = ["mediation.booked", "session.sealed", "agreement.generated", "judicial.applied",
              "judicial-material.requested", "mediation.confirmed"]
    async with EventProbe(stack.kafka, topics) as probe:
        # 1. dispatch refers the case
        referral = MediationReferred(referral_id=str(uuid.uuid4()), case_id=case_id, case_no="WH-2026-000123",
                                     category="labour", summary="某劳务公司拖欠工人工资", at=datetime.now(UTC))
        env = new_envelope(referral, source="/fengqiao/dispatch")
        await publish(stack.kafka, env, env)  # delivered twice: still one mediation

        async def referred():
            r = await c.get(f"{API}/mediations", params={"case_id": case_id}, headers=dispatcher())
            return r.json() if r.status_code == 200 and r.json() else None

        found = await eventually(referred, timeout=30)
        assert len(found) == 1 and found[0]["status"] == "open" and found[0]["source"] == "referral"
        med_id = found[0]["id"]

        # 2. the dispatcher books: the matcher proposes, then a slot is booked with the parties
        window = {"from": at(3, 8).isoformat(), "to": at(4, 20).isoformat()}
        r = await c.post(f"{API}/matcher/proposals", headers=dispatcher(), json={
            "mediation_id": med_id, "preference": {"mediator_id": mid, "dialect": "粤语"}, "window": window})
        assert r.status_code == 200, r.text
        top = r.json()["proposals"][0]
        assert top["mediator_id"] == mid and {x["code"] for x in top["reasons"]} >= {"named", "dialect"}
        start = at(3, 9)
        r = await c.post(f"{API}/bookings", headers=dispatcher(), json={
            "mediation_id": med_id, "mediator_id": mid, "starts_at": start.isoformat(),
            "preference": {"mode": "home", "address": "外海街道麻一村 3 巷 5 号"},
            "parties": [
                {"side": "applicant", "name": "陈大文", "phone": "13900000001"},
                {"side": "respondent", "name": "黄志强", "phone": "13900000002", "organisation": "江门某劳务公司"},
            ]})
        assert r.status_code == 201, r.text
        booked = r.json()
        assert booked["booking"]["mode"] == "home" and booked["mediation"]["status"] == "booked"
        applicant, respondent = booked["parties"]

        # 3. session 1: some points agreed, one outstanding; both parties and the mediator confirm
        r = await c.post(f"{API}/mediations/{med_id}/sessions", headers=mediator_h(mid), json={
            "booking_id": booked["booking"]["id"], "started_at": start.isoformat(),
            "ended_at": at(3, 10).isoformat(), "place": "外海街道麻一村 3 巷 5 号（上门）",
            "attendees": ["陈大文", "黄志强", "梁秀英"],
            "points_agreed": ["劳务公司确认拖欠工资人民币伍万元"],
            "points_outstanding": ["支付期限待定"]})
        assert r.status_code == 201, r.text
        s1 = r.json()
        assert len(s1["pending_signers"]) == 3
        sealed1 = await _sign_all(stack, s1["id"], mid, applicant, respondent, otp_for_respondent=True)
        assert sealed1["chain_index"] == 0 and sealed1["prev_hash"] == "0" * 64

        # a party follows its own case's progress
        r = await c.get(f"{API}/my/mediations", headers=party_h(applicant["id"]))
        assert [x["id"] for x in r.json()] == [med_id]
        r = await c.get(f"{API}/mediations/{med_id}", headers=party_h(applicant["id"]))
        assert r.status_code == 200 and r.json()["sessions"][0]["status"] == "sealed"

        # 4. second booking and session 2 settles the rest
        r = await c.post(f"{API}/bookings", headers=dispatcher(), json={
            "mediation_id": med_id, "mediator_id": mid, "starts_at": at(4, 14).isoformat()})
        assert r.status_code == 201, r.text
        r = await c.post(f"{API}/mediations/{med_id}/sessions", headers=mediator_h(mid), json={
            "booking_id": r.json()["booking"]["id"], "started_at": at(4, 14).isoformat(),
            "ended_at": at(4, 15).isoformat(), "place": "外海街道综治中心调解室", "attendees": ["陈大文", "黄志强"],
            "points_agreed": ["劳务公司于2026年12月31日前一次性支付伍万元"], "points_outstanding": []})
        assert r.status_code == 201, r.text
        sealed2 = await _sign_all(stack, r.json()["id"], mid, applicant, respondent, otp_for_respondent=False)
        assert sealed2["chain_index"] == 1 and sealed2["prev_hash"] == sealed1["record_hash"]

        r = await c.get(f"{API}/mediations/{med_id}/records/verify", headers=party_h(respondent["id"]))
        assert r.status_code == 200 and r.json()["valid"] is True and len(r.json()["records"]) == 2

        # 5. the agreement PDF, in Chinese, with the parties and the points
        r = await c.post(f"{API}/mediations/{med_id}/agreement", headers=mediator_h(mid))
        assert r.status_code == 201, r.text
        agreement = r.json()
        r = await c.get(agreement["pdf_url"], headers=party_h(applicant["id"]))
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        assert r.headers["x-content-sha256"] == agreement["sha256"]
        import hashlib

        assert hashlib.sha256(r.content).hexdigest() == agreement["sha256"]
        raw = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
        text = "".join(raw.replace("\x00", "").split())  # pypdf pads fpdf2's 2-byte CID text with NULs
        for needle in ("人民调解协议书", "陈大文", "黄志强", "江门某劳务公司", "梁秀英",
                       "劳务公司确认拖欠工资人民币伍万元", "劳务公司于2026年12月31日前一次性支付伍万元"):
            assert needle in text, needle
        fonts = PdfReader(io.BytesIO(r.content)).pages[0]["/Resources"]["/Font"]
        assert any("FontFile" in str(f.get_object()["/DescendantFonts"][0].get_object()["/FontDescriptor"]
                                     .get_object().keys()) for f in fonts.values())

        # 6. judicial confirmation through the court simulator (real HTTP both ways)
        r = await c.post(f"{API}/court-applications", headers=mediator_h(mid), json={"mediation_id": med_id})
        assert r.status_code == 201, r.text
        app = r.json()
        assert app["status"] == "submitted" and app["external_ref"].startswith("SQ-")
        r = await c.post(f"{API}/court-applications", headers=mediator_h(mid), json={"mediation_id": med_id})
        assert r.status_code == 409

        res = await stack.decide(app["external_ref"], "more_material", "请补充工资欠条")
        assert res["delivered"] and res["status_code"] == 200
        r = await c.get(f"{API}/court-applications/{app['id']}", headers=dispatcher())
        assert r.json()["status"] == "material_requested" and r.json()["material_request"] == "请补充工资欠条"
        r = await c.post(f"{API}/court-applications/{app['id']}/materials", headers=mediator_h(mid),
                         json={"description": "工资欠条复印件一份"})
        assert r.status_code == 200 and r.json()["status"] == "submitted", r.text

        res = await stack.decide(app["external_ref"], "confirmed")
        assert res["delivered"] and res["status_code"] == 200
        ruling = stack.court_app.state.court.apps[app["external_ref"]]["ruling_no"]

        confirmed = await probe.wait_for(lambda e: e.topic == "mediation.confirmed" and e.subject == med_id,
                                         timeout=30)
        data = confirmed[0].data
        assert data["case_id"] == case_id and data["ruling_no"] == ruling and data["court"] == "QFY"
        assert data["agreement_id"] == agreement["id"]
        # the other lifecycle events went out too, keyed by the mediation
        for t, n in (("mediation.booked", 2), ("session.sealed", 2), ("agreement.generated", 1),
                     ("judicial.applied", 1), ("judicial-material.requested", 1)):
            await probe.wait_for(lambda e, t=t: e.topic == t and e.subject == med_id, count=n, timeout=30)

    r = await c.get(f"{API}/mediations/{med_id}", headers=party_h(respondent["id"]))
    view = r.json()
    assert view["status"] == "confirmed" and view["court_applications"][0]["ruling_no"] == ruling
    # a repeated callback (the court retries) changes nothing
    res = await stack.decide(app["external_ref"], "confirmed")
    assert res["status_code"] == 200 and res["response"]["duplicate"] is True
    r = await c.get(f"{API}/mediations", params={"case_id": case_id}, headers=admin())
    assert len(r.json()) == 1
