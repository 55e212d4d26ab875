"""Session records: signatures (image / one-time code), sealing, tamper detection, access, and the agreement's
preconditions - against the real database."""

from mediation_testkit import (
    PNG,
    admin,
    at,
    identity_headers,
    mediator_h,
    open_case,
    party_h,
    seal,
    sign_image,
)
from sqlalchemy import text

API = "/api/v1/mediation"


async def test_editing_a_sealed_record_in_the_database_fails_verification(stack):
    k = await open_case(stack)
    await seal(stack, k)
    c = stack.client
    r = await c.get(f"{API}/mediations/{k['med']}/records/verify", headers=party_h(k["a"]["id"]))
    assert r.status_code == 200 and r.json()["valid"] is True
    async with stack.session_factory() as s, s.begin():
        await s.execute(text("UPDATE sessions SET points_agreed = '[\"双方同意按年结算\"]'::jsonb WHERE id = :id"),
                        {"id": k["sid"]})
    r = await c.get(f"{API}/mediations/{k['med']}/records/verify", headers=party_h(k["a"]["id"]))
    body = r.json()
    assert r.status_code == 200 and body["valid"] is False
    assert body["records"][0]["valid"] is False and body["records"][0]["problems"]
    # a tampered chain cannot become an agreement
    r = await c.post(f"{API}/mediations/{k['med']}/agreement", headers=mediator_h(k["mid"]))
    assert r.status_code == 409 and r.json()["error"] == "records_tampered"


async def test_forging_a_signature_row_fails_verification(stack):
    k = await open_case(stack)
    await seal(stack, k)
    async with stack.session_factory() as s, s.begin():
        await s.execute(text("UPDATE signatures SET method = 'otp' WHERE session_id = :id AND signer_role = 'party'"),
                        {"id": k["sid"]})
    r = await stack.client.get(f"{API}/mediations/{k['med']}/records/verify", headers=admin())
    assert r.json()["valid"] is False


async def test_signing_twice_or_after_sealing_is_409(stack):
    k = await open_case(stack)
    r = await sign_image(stack, k, "a")
    assert r.status_code == 201 and r.json()["pending_signers"] == sorted([f"mediator:{k['mid']}",
                                                                            f"party:{k['b']['id']}"])
    r = await sign_image(stack, k, "a")
    assert r.status_code == 409 and r.json()["error"] == "already_signed"
    await sign_image(stack, k, "b")
    r = await sign_image(stack, k, "mediator")
    assert r.json()["status"] == "sealed"
    for who in ("a", "mediator"):
        r = await sign_image(stack, k, who)
        assert r.status_code == 409 and r.json()["error"] == "record_sealed"
    r = await stack.client.post(f"{API}/sessions/{k['sid']}/otp", headers=mediator_h(k["mid"]),
                                json={"party_id": k["a"]["id"]})
    assert r.status_code == 409


async def test_one_time_code_signature(stack):
    k = await open_case(stack)
    c = stack.client
    r = await c.post(f"{API}/sessions/{k['sid']}/otp", headers=party_h(k["b"]["id"]), json={"party_id": k["b"]["id"]})
    assert r.status_code == 201, r.text
    assert "code" not in r.json() and "****" in r.json()["sent_to"]
    code = stack.sms(k["phones"][1])[-1].text.split("验证码 ")[1][:6]
    # a developer reads the "sent" message through the development-only endpoint
    r = await c.get(f"{API}/dev/sms", params={"phone": k["phones"][1]}, headers=admin())
    assert r.status_code == 200 and code in r.json()[-1]["text"]
    assert (await c.get(f"{API}/dev/sms", headers=party_h(k["b"]["id"]))).status_code == 403
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    sig = {"signer": "party", "party_id": k["b"]["id"], "method": "otp"}
    r = await c.post(f"{API}/sessions/{k['sid']}/signatures", headers=party_h(k["b"]["id"]), json={**sig, "code": wrong})
    assert r.status_code == 422 and r.json()["fields"][0]["code"] == "code_mismatch"
    r = await c.post(f"{API}/sessions/{k['sid']}/signatures", headers=party_h(k["b"]["id"]), json={**sig, "code": "12"})
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "code"
    r = await c.post(f"{API}/sessions/{k['sid']}/signatures", headers=party_h(k["b"]["id"]), json={**sig, "code": code})
    assert r.status_code == 201, r.text
    assert [s["method"] for s in r.json()["signatures"]] == ["otp"]
    # a used code cannot be used again
    r = await c.post(f"{API}/sessions/{k['sid']}/signatures", headers=party_h(k["b"]["id"]), json={**sig, "code": code})
    assert r.status_code == 409
    # codes are not sent without limit
    for _ in range(3):
        r = await c.post(f"{API}/sessions/{k['sid']}/otp", headers=mediator_h(k["mid"]), json={"party_id": k["a"]["id"]})
        assert r.status_code == 201
    r = await c.post(f"{API}/sessions/{k['sid']}/otp", headers=mediator_h(k["mid"]), json={"party_id": k["a"]["id"]})
    assert r.status_code == 429 and r.json()["error"] == "too_many_codes"


async def test_parties_see_and_sign_only_their_own(stack):
    k = await open_case(stack)
    other = await open_case(stack)
    c = stack.client
    assert (await c.get(f"{API}/sessions/{k['sid']}", headers=party_h(other["a"]["id"]))).status_code == 403
    assert (await c.get(f"{API}/mediations/{k['med']}", headers=party_h(other["a"]["id"]))).status_code == 403
    r = await c.get(f"{API}/mediations/{k['med']}/records/verify", headers=party_h(other["a"]["id"]))
    assert r.status_code == 403
    # a party cannot sign for the other side, nor as the mediator; another mediator cannot sign
    r = await c.post(f"{API}/sessions/{k['sid']}/signatures", headers=party_h(k["a"]["id"]),
                     json={"signer": "party", "party_id": k["b"]["id"], "method": "image", "image_base64": PNG})
    assert r.status_code == 403
    r = await c.post(f"{API}/sessions/{k['sid']}/signatures", headers=party_h(k["a"]["id"]),
                     json={"signer": "mediator", "method": "image", "image_base64": PNG})
    assert r.status_code == 403
    r = await c.post(f"{API}/sessions/{k['sid']}/signatures", headers=mediator_h(other["mid"]),
                     json={"signer": "mediator", "method": "image", "image_base64": PNG})
    assert r.status_code == 403
    r = await c.post(f"{API}/sessions/{k['sid']}/signatures", headers=party_h(k["a"]["id"]),
                     json={"signer": "party", "party_id": k["a"]["id"], "method": "image", "image_base64": "bm90IGFuIGltYWdl"})
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "image_base64"
    # a leader reads the progress, with personal data masked
    view = (await c.get(f"{API}/mediations/{k['med']}", headers=identity_headers(roles=["leader"]))).json()
    assert all("****" in p["phone"] for p in view["parties"])
    # phones are masked for parties
    view = (await c.get(f"{API}/mediations/{k['med']}", headers=party_h(k["a"]["id"]))).json()
    phones = {p["id"]: p["phone"] for p in view["parties"]}
    assert "****" in phones[k["b"]["id"]] and "****" not in phones[k["a"]["id"]]


async def test_agreement_needs_sealed_records_without_outstanding_points(stack):
    k = await open_case(stack, outstanding=["赔偿金额待定"])
    c = stack.client
    r = await c.post(f"{API}/mediations/{k['med']}/agreement", headers=mediator_h(k["mid"]))
    assert r.status_code == 409 and r.json()["error"] == "unsealed_records"
    await seal(stack, k)
    r = await c.post(f"{API}/mediations/{k['med']}/agreement", headers=mediator_h(k["mid"]))
    assert r.status_code == 409 and r.json()["error"] == "points_outstanding"
    r = await c.post(f"{API}/mediations/{k['med']}/agreement", headers=party_h(k["a"]["id"]))
    assert r.status_code == 403
    r = await c.post(f"{API}/mediations/{k['med']}/sessions", headers=mediator_h(k["mid"]), json={
        "started_at": at(12, 12).isoformat(), "ended_at": at(12, 11).isoformat(), "place": "",
        "attendees": [], "points_agreed": [" "]})
    assert r.status_code == 422
    assert {"place", "attendees", "points_agreed"} <= {f["field"] for f in r.json()["fields"]}
