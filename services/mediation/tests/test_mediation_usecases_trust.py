"""Issue 15 (trust), on the fakes: a party signs only through its own channel (login, one-time code, in person
before a witness, never in person only), the mediator cannot sign for a party, records are sealed with an
Ed25519 key the database does not hold, the daily chain-head statement, the record bundle and the agreement
PDF checked offline against the published keys, the demo mediation for the demo logins."""

import base64
import json
import re
from datetime import timedelta

import pytest
from fengqiao_common.errors import Conflict, Forbidden
from fengqiao_events.payloads.mediation import SessionSealed
from fengqiao_mediation.domain import bundle, records, seals
from fengqiao_mediation.domain.config import MediationConfig
from fengqiao_mediation.usecases import court, mediations, mediators, sessions
from fengqiao_mediation.usecases import records as records_uc
from fengqiao_mediation.usecases.commands import SignatureIn
from mediation_fakes import FakeCourt, FakeMediationUoW, FakeSms
from mediation_world import PNG, agreed, image, mediator_p, party_p, recorded, sealed

PHOTO = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\x00" * 32).decode()


def otp(party_id: str, code: str) -> SignatureIn:
    return SignatureIn(signer="party", party_id=party_id, method="otp", code=code)


def in_person(party_id: str, **kw) -> SignatureIn:
    body = {"signer": "party", "party_id": party_id, "method": "in_person", "image_base64": PNG,
            "witness_name": "关见证", "witness_role": "社区居委会委员", "photo_base64": PHOTO, **kw}
    return SignatureIn.model_validate(body)


async def code_for(uow, sms: FakeSms, k: dict, who: str, principal) -> str:
    await sessions.request_otp(uow, principal, k["sid"], k[who], sms=sms)
    return re.search(r"验证码 (\d{6})", sms.sent[-1][1]).group(1)


async def test_the_mediator_cannot_submit_a_partys_signature_by_image_or_code():
    uow, sms = FakeMediationUoW(), FakeSms()
    k = await recorded(uow)
    with pytest.raises(Forbidden) as exc:
        await sessions.sign(uow, mediator_p("M1"), k["sid"], image("party", k["a"]))
    assert exc.value.code == "not_own_channel"
    code = await code_for(uow, sms, k, "b", mediator_p("M1"))  # the mediator may have the code sent to the party
    with pytest.raises(Forbidden) as exc:
        await sessions.sign(uow, mediator_p("M1"), k["sid"], otp(k["b"], code))
    assert exc.value.code == "not_own_channel"
    assert uow.db.signatures == [] and all(o["used_at"] is None for o in uow.db.otps.values())
    with pytest.raises(Forbidden):  # nor can a party sign in person for itself: the mediator enters it
        await sessions.sign(uow, party_p(k["a"]), k["sid"], in_person(k["a"]))


async def test_a_code_sent_to_the_partys_phone_signs_without_any_login():
    uow, sms = FakeMediationUoW(), FakeSms()
    k = await recorded(uow)
    code = await code_for(uow, sms, k, "b", mediator_p("M1"))
    await sessions.sign(uow, party_p(k["a"]), k["sid"], image("party", k["a"]))
    await sessions.sign(uow, mediator_p("M1"), k["sid"], image("mediator"))
    out = await sessions.sign(uow, None, k["sid"], otp(k["b"], code))
    assert out["sealed_now"] and out["status"] == "sealed"
    by = {s["signer"]: s for s in out["signatures"]}
    assert (by[f"party:{k['a']}"]["channel"], by[f"party:{k['b']}"]["channel"], by["mediator:M1"]["channel"]) == (
        "login", "otp", "login")
    assert [x["submitted_by"] for x in uow.db.signatures if x["signer"] == f"party:{k['b']}"] == [f"otp:{k['b']}"]
    [ev] = uow.events_of(SessionSealed)
    assert (ev.by.id, ev.by.role) == (f"otp:{k['b']}", "party")  # the code holder, no login


async def test_in_person_is_witnessed_shown_and_never_the_only_channel():
    uow = FakeMediationUoW()
    k = await recorded(uow)
    out = await sessions.sign(uow, mediator_p("M1"), k["sid"], in_person(k["a"]))
    [sig] = out["signatures"]
    assert sig["channel"] == "in_person" and sig["in_person"]["name"] == "关见证"
    assert "于调解员调解员M1及见证人关见证（社区居委会委员）面前现场签名" in sig["in_person"]["statement"]
    row = uow.db.signatures[0]
    assert row["photo_sha256"] == records.sha256_hex(base64.b64decode(PHOTO)) and row["witness_role"]
    with pytest.raises(Conflict) as exc:  # both parties in person: refused
        await sessions.sign(uow, mediator_p("M1"), k["sid"], in_person(k["b"]))
    assert exc.value.code == "in_person_only"
    await sessions.sign(uow, mediator_p("M1"), k["sid"], image("mediator"))
    assert uow.db.sessions[k["sid"]]["status"] == "open"  # party b has not signed: no seal
    out = await sessions.sign(uow, party_p(k["b"]), k["sid"], image("party", k["b"]))
    assert out["sealed_now"]
    view = await mediations.mediation_view(uow, party_p(k["b"]), k["med"])
    shown = [s["in_person"] for s in view["sessions"][0]["signatures"] if s["in_person"]]
    assert len(shown) == 1 and shown[0]["role"] == "社区居委会委员"


async def test_in_person_alone_cannot_seal_a_one_party_record():
    uow = FakeMediationUoW()
    k = await recorded(uow)
    uow.db.parties = [p for p in uow.db.parties if p["id"] != k["b"]]
    with pytest.raises(Conflict) as exc:
        await sessions.sign(uow, mediator_p("M1"), k["sid"], in_person(k["a"]))
    assert exc.value.code == "in_person_only"


async def test_the_seal_is_an_ed25519_signature_by_the_configured_key():
    uow = FakeMediationUoW()
    k = await sealed(uow)
    s = uow.db.sessions[k["sid"]]
    assert s["seal_key_id"] == uow.cfg.keys.key_id and s["seal_key_id"].startswith("ed25519:")
    keys = uow.cfg.keys.verifier()
    assert keys.check(seals.record_statement(s), s["seal_key_id"], s["seal_signature"]) is None
    out = await records_uc.verify_records(uow, party_p(k["a"]), k["med"])
    assert out["valid"] and out["records"][0]["seal_key_id"] == uow.cfg.keys.key_id
    published = records_uc.seal_keys(uow)
    assert [e["key_id"] for e in published["keys"]] == [uow.cfg.keys.key_id] and "PRIVATE" not in str(published)


async def test_rewriting_a_row_and_rehashing_it_is_caught():
    uow = FakeMediationUoW()
    k = await sealed(uow)
    s = uow.db.sessions[k["sid"]]
    sigs = [x for x in uow.db.signatures if x["session_id"] == k["sid"]]
    s["points_agreed"] = ["被申请人另付十万元"]  # an attacker with write access to the database ...
    for g in sigs:
        g["content_hash"] = records.content_hash(s)
    s["record_hash"] = records.record_hash(s, sigs, s["prev_hash"])  # ... re-hashes the chain
    assert records.verify_chain([(s, sigs)])[0].ok  # the unkeyed chain alone would pass
    out = await records_uc.verify_records(uow, party_p(k["a"]), k["med"])
    assert out["valid"] is False and any("封存签名不符" in p for p in out["records"][0]["problems"])


async def test_a_record_sealed_by_another_key_is_refused():
    other = FakeMediationUoW()
    k = await sealed(other)  # sealed with another (unpublished) key
    uow = FakeMediationUoW(db=other.db)  # our service, its own key
    assert uow.cfg.keys.key_id != other.cfg.keys.key_id
    out = await records_uc.verify_records(uow, party_p(k["a"]), k["med"])
    assert out["valid"] is False and any("unpublished key" in p for p in out["records"][0]["problems"])
    # a retired key that is still published verifies
    ring = seals.Keyring(uow.cfg.keys.private, retired=(other.cfg.keys.private.public_key(),))
    again = FakeMediationUoW(db=other.db, cfg=MediationConfig(categories={"labour": "劳动争议"}, keys=ring))
    assert (await records_uc.verify_records(again, party_p(k["a"]), k["med"]))["valid"]


async def test_the_daily_statement_lists_each_chain_head_signed():
    uow = FakeMediationUoW()
    k = await sealed(uow)
    day = uow.now().astimezone(uow.cfg.tz).date().isoformat()
    st = await records_uc.day_statement(uow, day)
    body = st["statement"]
    assert body["kind"] == seals.DAILY_HEADS and body["final"] is False and body["count"] == 1
    assert body["heads"][0]["record_hash"] == uow.db.sessions[k["sid"]]["record_hash"]
    assert uow.cfg.keys.verifier().check(body, st["key_id"], st["signature"]) is None
    uow.clock.advance(timedelta(days=2))
    assert (await records_uc.day_statement(uow, day))["statement"]["final"] is True
    uow.db.sessions[k["sid"]]["record_hash"] = "f" * 64  # a forged head is left out, never signed
    assert (await records_uc.day_statement(uow, day))["statement"]["heads"] == []


async def test_the_bundle_and_the_agreement_pdf_verify_offline_and_tampering_fails():
    uow = FakeMediationUoW()
    k = await agreed(uow)
    keys = seals.PublishedKeys.from_entries(records_uc.seal_keys(uow)["keys"])
    b = await records_uc.record_bundle(uow, party_p(k["a"]), k["med"])
    report = bundle.verify_bundle(b, keys)
    assert report["valid"], report["problems"]
    assert report["agreement"]["points"] == ["按月结算工资"] and len(report["statements"]) == 1
    from_pdf = bundle.bundle_from_pdf(uow.db.agreements[k["agreement"]["id"]]["pdf"])
    assert from_pdf["agreement"]["statement"]["chain_head"] == k["agreement"]["chain_head"]
    assert bundle.verify_bundle(from_pdf, keys)["valid"]
    # rewritten and re-hashed inside the bundle: the seal no longer matches
    entry = b["records"][0]
    entry["content"]["record"]["points_agreed"] = ["另付十万"]
    entry["record_hash"] = records.sha256_hex(records.canonical_json(
        {"content": entry["content"], "prev_hash": entry["prev_hash"]}))
    bad = bundle.verify_bundle(b, keys)
    assert not bad["valid"] and bad["records"][0]["problems"]
    assert not bundle.verify_bundle(from_pdf, seals.Keyring.generate().verifier())["valid"]  # another key


async def test_the_court_receives_the_days_statement_and_the_keys():
    uow, fake = FakeMediationUoW(), FakeCourt()
    k = await agreed(uow)
    await court.apply_to_court(uow, mediator_p("M1"), k["med"], court=fake)
    [payload] = fake.applied
    st = payload["seal_statement"]
    assert st["statement"]["heads"][0]["mediation_id"] == k["med"]
    assert [e["key_id"] for e in payload["seal_keys"]] == [uow.cfg.keys.key_id]
    keys = seals.PublishedKeys.from_entries(payload["seal_keys"])
    pdf = base64.b64decode(payload["agreement"]["pdf_base64"])
    assert bundle.verify_bundle(bundle.bundle_from_pdf(pdf), keys, [st])["valid"]


async def test_the_demo_mediation_links_the_demo_party_login():
    uow = FakeMediationUoW()
    assert await mediators.seed_demo_mediation(uow) is False  # no M001 yet
    await mediators.seed_demo(uow, {"public_officials": 2})
    assert await mediators.seed_demo_mediation(uow) is True
    assert await mediators.seed_demo_mediation(uow) is False  # idempotent
    mine = await mediations.list_mediations(uow, party_p("P001"))
    assert [m["id"] for m in mine] == ["DEMO-MED-0001"] and mine[0]["mediator_id"] == "M001"
    view = await mediations.mediation_view(uow, party_p("P001"), "DEMO-MED-0001")
    [s] = view["sessions"]
    assert s["status"] == "open" and s["pending_signers"] == ["mediator:M001", "party:P001", "party:P002"]
    out = await sessions.sign(uow, party_p("P001"), s["id"], image("party", "P001"))
    assert out["signatures"][0]["channel"] == "login" and out["status"] == "open"


class MemoryDir:
    def __init__(self):
        self.files: dict[str, dict] = {}

    def exists(self, day: str) -> bool:
        return day in self.files

    def write(self, day: str, signed: dict) -> None:
        self.files[day] = signed


async def test_each_past_days_statement_is_written_once_as_a_file():
    uow, out = FakeMediationUoW(), MemoryDir()
    k = await sealed(uow)
    day = uow.now().astimezone(uow.cfg.tz).date().isoformat()
    first = await records_uc.export_daily_statements(uow, out=out)
    assert len(first) == 7 and day not in first  # the 7 past days (empty ones too), today is not over yet
    uow.clock.advance(timedelta(days=1))
    assert await records_uc.export_daily_statements(uow, out=out) == [day]
    assert out.files[day]["statement"]["heads"][0]["mediation_id"] == k["med"]
    assert await records_uc.export_daily_statements(uow, out=out) == []  # once


def test_the_statement_directory_writes_signed_json_files(tmp_path):
    from fengqiao_mediation.adapters.statements import StatementDir

    d = StatementDir(tmp_path / "statements")
    signed = seals.Keyring.generate().signed(seals.daily_statement("2026-01-05", "Asia/Shanghai", [], final=True))
    d.write("2026-01-05", signed)
    assert d.exists("2026-01-05") and not d.exists("2026-01-06")
    assert json.loads((tmp_path / "statements" / "statement-2026-01-05.json").read_text()) == signed
