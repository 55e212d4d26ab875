"""Issue 15 (trust) against the real database and HTTP: a party signs only through its own channel, the
mediator's attempt to sign for a party is refused, in-person signing is witnessed and never the only
channel, seals are Ed25519 signatures by a key the database does not hold, and the offline verifier (run as
a subprocess on exported files) catches a row rewritten and re-hashed, and a record signed by another key."""

import asyncio
import base64
import io
import json
import subprocess
import sys

import httpx
from asgi_lifespan import LifespanManager
from fengqiao_mediation.config import Settings
from fengqiao_mediation.domain import records, seals
from fengqiao_mediation.main import create_app
from mediation_testkit import PNG, admin, mediator_h, open_case, party_h, seal
from pypdf import PdfReader
from sqlalchemy import text

API = "/api/v1/mediation"
PHOTO = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\x00" * 64).decode()


def verify_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fengqiao_mediation.verify", *map(str, args)],
                          capture_output=True, text=True, timeout=60)


async def _sign(stack, k, who, body, headers):
    return await stack.client.post(f"{API}/sessions/{k['sid']}/signatures", headers=headers, json=body)


async def test_the_mediator_cannot_sign_for_a_party(stack):
    k = await open_case(stack)
    pa = k["a"]["id"]
    r = await _sign(stack, k, "a", {"signer": "party", "party_id": pa, "method": "image", "image_base64": PNG},
                    mediator_h(k["mid"]))
    assert r.status_code == 403 and r.json()["error"] == "not_own_channel"
    r = await stack.client.post(f"{API}/sessions/{k['sid']}/otp", headers=mediator_h(k["mid"]), json={"party_id": pa})
    assert r.status_code == 201
    code = stack.sms(k["phones"][0])[-1].text.split("验证码 ")[1][:6]
    otp = {"signer": "party", "party_id": pa, "method": "otp", "code": code}
    r = await _sign(stack, k, "a", otp, mediator_h(k["mid"]))
    assert r.status_code == 403 and r.json()["error"] == "not_own_channel"
    r = await _sign(stack, k, "a", {"signer": "party", "party_id": pa, "method": "image", "image_base64": PNG}, {})
    assert r.status_code == 401  # no identity: only a code signature
    r = await _sign(stack, k, "a", otp, {})  # the party, with the code from its own phone
    assert r.status_code == 201 and r.json()["signatures"][0]["channel"] == "otp"


async def test_in_person_before_a_witness_is_recorded_shown_and_not_alone(stack):
    k = await open_case(stack)
    body = {"signer": "party", "method": "in_person", "image_base64": PNG, "witness_name": "关见证",
            "witness_role": "社区居委会委员", "photo_base64": PHOTO}
    r = await _sign(stack, k, "a", {**body, "party_id": k["a"]["id"]}, mediator_h(k["mid"]))
    assert r.status_code == 201, r.text
    sig = r.json()["signatures"][0]
    assert sig["channel"] == "in_person" and "见证人关见证（社区居委会委员）面前现场签名" in sig["in_person"]["statement"]
    r = await _sign(stack, k, "b", {**body, "party_id": k["b"]["id"]}, mediator_h(k["mid"]))
    assert r.status_code == 409 and r.json()["error"] == "in_person_only"
    r = await _sign(stack, k, "b", {k2: v for k2, v in body.items() if k2 != "witness_name"} | {
        "party_id": k["b"]["id"]}, mediator_h(k["mid"]))
    assert r.status_code == 422
    for who, h in (("b", party_h(k["b"]["id"])), ("mediator", mediator_h(k["mid"]))):
        b = {"signer": "party", "party_id": k["b"]["id"]} if who == "b" else {"signer": "mediator"}
        r = await _sign(stack, k, who, {**b, "method": "image", "image_base64": PNG}, h)
        assert r.status_code == 201, r.text
    assert r.json()["status"] == "sealed" and r.json()["seal_key_id"].startswith("ed25519:")
    view = (await stack.client.get(f"{API}/mediations/{k['med']}", headers=party_h(k["b"]["id"]))).json()
    assert [s["in_person"]["name"] for s in view["sessions"][0]["signatures"] if s["in_person"]] == ["关见证"]
    async with stack.session_factory() as s:
        row = (await s.execute(text("SELECT witness_role, photo_sha256, channel FROM signatures WHERE session_id = :id"
                                    " AND channel = 'in_person'"), {"id": k["sid"]})).one()
    assert row.witness_role == "社区居委会委员" and row.photo_sha256 == records.sha256_hex(base64.b64decode(PHOTO))
    # the agreement PDF says so, and carries the signed bundle as an attachment
    r = await stack.client.post(f"{API}/mediations/{k['med']}/agreement", headers=mediator_h(k["mid"]))
    assert r.status_code == 201, r.text
    pdf = (await stack.client.get(f"{API}/agreements/{r.json()['id']}/pdf", headers=party_h(k["a"]["id"]))).content
    reader = PdfReader(io.BytesIO(pdf))
    shown = "".join("".join(p.extract_text() for p in reader.pages).replace("\x00", "").split())
    assert "冯甲于调解员何惠芳及见证人关见证（社区居委会委员）面前现场签名" in shown, shown
    assert "谭乙：本人登录签名" in shown and "fengqiao-record-bundle.json" in shown
    [attached] = reader.attachments["fengqiao-record-bundle.json"]
    assert json.loads(attached)["agreement"]["statement"]["chain_head"] == r.json()["chain_head"]


async def _export(stack, k, tmp_path, *, listed: bool = True) -> dict:
    c = stack.client
    keys = await c.get(f"{API}/seal-keys")  # public: no identity
    assert keys.status_code == 200 and keys.json()["keys"][0]["current"] is True
    (tmp_path / "keys.json").write_text(keys.text)
    r = await c.get(f"{API}/mediations/{k['med']}/records/bundle", headers=party_h(k["a"]["id"]))
    assert r.status_code == 200, r.text
    (tmp_path / "bundle.json").write_text(r.text)
    day = r.json()["statements"][0]["statement"]["day"]
    st = await c.get(f"{API}/seal-statements/{day}")
    assert st.status_code == 200
    assert any(h["mediation_id"] == k["med"] for h in st.json()["statement"]["heads"]) is listed
    (tmp_path / "statement.json").write_text(st.text)
    return r.json()


async def test_exported_bundle_and_pdf_verify_offline(stack, tmp_path):
    k = await open_case(stack)
    await seal(stack, k)
    r = await stack.client.post(f"{API}/mediations/{k['med']}/agreement", headers=mediator_h(k["mid"]))
    assert r.status_code == 201, r.text
    agr = r.json()
    pdf = await stack.client.get(f"{API}/agreements/{agr['id']}/pdf", headers=party_h(k["b"]["id"]))
    (tmp_path / "agreement.pdf").write_bytes(pdf.content)
    await _export(stack, k, tmp_path)
    for f in ("bundle.json", "agreement.pdf"):
        p = verify_cli(tmp_path / f, "--keys", tmp_path / "keys.json", "--statement", tmp_path / "statement.json")
        assert p.returncode == 0, p.stdout + p.stderr
        assert "校验通过" in p.stdout and "双方同意按月结算" in p.stdout
    other = seals.Keyring.generate()
    (tmp_path / "other.json").write_text(json.dumps({"keys": other.published()}))
    p = verify_cli(tmp_path / "agreement.pdf", "--keys", tmp_path / "other.json", "--json")
    assert p.returncode == 1 and "unpublished key" in p.stdout  # signed by a key that is not the published one
    # the court simulator checked the same on intake
    r = await stack.client.post(f"{API}/court-applications", headers=admin(), json={"mediation_id": k["med"]})
    assert r.status_code == 201, r.text
    court_app = stack.court_app.state.court.apps[r.json()["external_ref"]]
    assert court_app["seal_check"]["valid"] is True and court_app["seal_statement"]["statement"]["heads"]


async def test_a_row_rewritten_and_rehashed_is_caught_by_the_api_and_the_verifier(stack, tmp_path):
    k = await open_case(stack)
    await seal(stack, k)
    async with stack.session_factory() as s, s.begin():  # someone with write access to the database ...
        row = dict((await s.execute(text("SELECT * FROM sessions WHERE id = :id"), {"id": k["sid"]})).mappings().one())
        sigs = [dict(x) for x in (await s.execute(text("SELECT * FROM signatures WHERE session_id = :id"),
                                                  {"id": k["sid"]})).mappings()]
        row["points_agreed"] = ["被申请人另付十万元"]
        ch = records.content_hash(row)
        for g in sigs:
            g["content_hash"] = ch
        new_hash = records.record_hash(row, sigs, row["prev_hash"])  # ... re-hashes the record and the chain
        await s.execute(text("UPDATE sessions SET points_agreed = '[\"被申请人另付十万元\"]'::jsonb, record_hash = :h "
                             "WHERE id = :id"), {"h": new_hash, "id": k["sid"]})
        await s.execute(text("UPDATE signatures SET content_hash = :c WHERE session_id = :id"),
                        {"c": ch, "id": k["sid"]})
    r = await stack.client.get(f"{API}/mediations/{k['med']}/records/verify", headers=party_h(k["a"]["id"]))
    body = r.json()
    assert body["valid"] is False and any("seal signature" in p for p in body["records"][0]["problems"])
    assert body["head"] == new_hash  # the chain itself is consistent: only the key-signed seal catches it
    await _export(stack, k, tmp_path, listed=False)  # a head whose seal fails is never signed into a statement
    p = verify_cli(tmp_path / "bundle.json", "--keys", tmp_path / "keys.json")
    assert p.returncode == 1 and "NOT VALID" in p.stdout and "封存签名不符" in p.stdout
    r = await stack.client.post(f"{API}/mediations/{k['med']}/agreement", headers=mediator_h(k["mid"]))
    assert r.status_code == 409 and r.json()["error"] == "records_tampered"


async def test_public_seal_routes_refuse_a_bad_day(stack):
    r = await stack.client.get(f"{API}/seal-statements/2026-13-45")
    assert r.status_code == 422
    r = await stack.client.get(f"{API}/seal-statements/2020-01-01")
    body = r.json()
    assert r.status_code == 200 and body["statement"]["heads"] == [] and body["statement"]["final"] is True
    keys = seals.PublishedKeys.from_entries((await stack.client.get(f"{API}/seal-keys")).json()["keys"])
    assert keys.check(body["statement"], body["key_id"], body["signature"]) is None
    # the past days' statements are also written as files (MEDIATION_SEAL_STATEMENT_DIR)
    for _ in range(100):
        files = sorted(stack.settings.seal_statement_dir.glob("statement-*.json"))
        if len(files) == 7:
            break
        await asyncio.sleep(0.1)
    assert len(files) == 7
    last = json.loads(files[-1].read_text())
    assert last["statement"]["final"] and keys.check(last["statement"], last["key_id"], last["signature"]) is None


async def test_demo_data_lets_the_demo_party_sign_its_own_record(service_settings):
    """make run's demo data: the gateway's demo login ``party`` (P001) finds a mediation awaiting its signature,
    the demo mediator (M001) cannot sign for P002, P002 signs with the code sent to its phone, the record seals."""
    settings = await service_settings(Settings, "mediation", suffix="demotrust", demo_data=True, run_relay=False,
                                      run_consumers=False)
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://m") as c:
        r = await c.get(f"{API}/my/mediations", headers=party_h("P001"))
        assert [m["id"] for m in r.json()] == ["DEMO-MED-0001"], r.text
        view = (await c.get(f"{API}/mediations/DEMO-MED-0001", headers=party_h("P001"))).json()
        [s] = view["sessions"]
        assert s["pending_signers"] == ["mediator:M001", "party:P001", "party:P002"]
        sig = f"{API}/sessions/{s['id']}/signatures"
        r = await c.post(sig, headers=party_h("P001"), json={"signer": "party", "party_id": "P001", "method": "image",
                                                             "image_base64": PNG})
        assert r.status_code == 201 and r.json()["signatures"][0]["channel"] == "login"
        r = await c.post(sig, headers=mediator_h("M001"), json={"signer": "party", "party_id": "P002",
                                                                "method": "image", "image_base64": PNG})
        assert r.status_code == 403 and r.json()["error"] == "not_own_channel"
        r = await c.post(f"{API}/sessions/{s['id']}/otp", headers=mediator_h("M001"), json={"party_id": "P002"})
        assert r.status_code == 201, r.text
        sms = app.state.runtime.deps.sms.sent[-1]
        assert sms.phone == "13800138002"
        r = await c.post(sig, json={"signer": "party", "party_id": "P002", "method": "otp",
                                    "code": sms.text.split("验证码 ")[1][:6]})
        assert r.status_code == 201 and r.json()["status"] == "open"
        r = await c.post(sig, headers=mediator_h("M001"), json={"signer": "mediator", "method": "image",
                                                                "image_base64": PNG})
        assert r.status_code == 201 and r.json()["status"] == "sealed" and r.json()["sealed_now"]
        r = await c.get(f"{API}/mediations/DEMO-MED-0001/records/verify", headers=party_h("P002"))
        assert r.json()["valid"] is True
    async with LifespanManager(create_app(settings), startup_timeout=60):  # seeding again changes nothing
        pass
